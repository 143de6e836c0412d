"""Per-pool scaling: the actuator interface, its bounds check, and the scheduler side of a pool's scale-down.

A pool grows by starting workers of that pool and shrinks by retiring workers *of that pool only*,
their unique data moved to other workers first (``Scheduler.retire_workers``). The scheduler side is
:class:`PoolScalingPlugin`, a small ``SchedulerPlugin``:

* its ``valid_workers_downscaling`` hook (called by ``Scheduler.workers_to_close``, which Dask's
  ``adapt``, the dask-kubernetes operator and ``retire_workers(n=...)`` use to pick victims) keeps
  only the pool being scaled while a pool scale-down picks its workers, and otherwise keeps every
  declared pool at its ``min_workers`` (so no cluster-wide downscale can empty another pool);
* a scheduler handler ``daskcollab_retire_pool_workers(pool, n)`` picks ``n`` of the pool's workers with
  Dask's own choice (idle first, least data) through that hook and retires them in the same call.

Implementations of :class:`PoolScaler`: :class:`~daskcollab.deploy.LocalPoolScaler` (the local pools
of :func:`~daskcollab.deploy.start_local_pools`) and :class:`~daskcollab.deploy.KubePoolScaler`
(dask-kubernetes worker groups).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from distributed.diagnostics.plugin import SchedulerPlugin

from daskcollab._contract import SCALING_PLUGIN
from daskcollab._errors import DaskCollabError, stage_message
from daskcollab.placement import Pool, pool_from_mapping, worker_info

logger = logging.getLogger("daskcollab.deploy")

#: Name of :class:`PoolScalingPlugin` on the scheduler.
SCALING_PLUGIN_NAME = SCALING_PLUGIN
#: The scheduler handler a pool scale-down calls.
RETIRE_HANDLER = "daskcollab_retire_pool_workers"


@dataclass(frozen=True)
class Scaled:
    """What one :meth:`PoolScaler.scale` call did.

    ``before`` / ``after``: the pool's requested workers; ``retired``: names of the workers retired
    (data moved off, then stopped); ``kept``: workers picked for retirement that the scheduler could
    not retire (their data had nowhere to go), still running.
    """

    pool: str
    before: int
    after: int
    retired: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()


@runtime_checkable
class PoolScaler(Protocol):
    """Grows and shrinks one worker pool at a time; what an elastic pool controller drives.

    ``pools`` maps each pool it manages to its :class:`~daskcollab.placement.Pool` (bounds
    ``min_workers`` / ``max_workers``); ``workers(pool)`` is the pool's requested size;
    ``scale(pool, n)`` sets it, retiring only that pool's workers when it shrinks.
    """

    @property
    def pools(self) -> Mapping[str, Pool]: ...

    def workers(self, pool: str) -> int: ...

    def scale(self, pool: str, n: int) -> Scaled: ...


def check_pool(pools: Mapping[str, Pool], pool: str) -> Pool:
    """The pool named ``pool``, or a clear error naming the pools there are (pure)."""
    if pool not in pools:
        raise DaskCollabError(stage_message("scale", "pool", f"expected one of {sorted(pools)!r}, got {pool!r}",
                                            "scale a pool the cluster was started with"))
    return pools[pool]


def check_scale(pools: Mapping[str, Pool], pool: str, n: Any) -> Pool:
    """The pool to scale to ``n`` workers, or a clear error for an unknown pool or ``n`` out of bounds (pure).

    Examples
    --------
    >>> check_scale({"gpu": Pool("gpu", 2.5, workers=1, min_workers=0, max_workers=2)}, "gpu", 2).name
    'gpu'
    """
    p = check_pool(pools, pool)
    if isinstance(n, bool) or not isinstance(n, int) or not p.min_workers <= n <= p.max_workers:
        raise DaskCollabError(stage_message(
            "scale", f"pools.{pool}.workers",
            f"expected a whole number of workers in [min {p.min_workers}, max {p.max_workers}], got {n!r}",
            f"ask for {p.min_workers}..{p.max_workers} workers, or widen the pool's min/max in the pools file"))
    return p


def _pool_of(ws: Any) -> str | None:
    info = worker_info(ws.address, ws.extra, ws.resources)
    return info.pool if info is not None else None


class PoolScalingPlugin(SchedulerPlugin):
    """Scheduler side of per-pool scaling (see the module docstring).

    Parameters
    ----------
    pools : iterable of Pool or mapping, optional
        Declared pools whose ``min_workers`` no cluster-wide downscale may go below; default: the
        config ``collab.placement.pools`` (what :func:`~daskcollab.deploy.kube_manifests` gives the
        scheduler). Workers of undeclared pools, and workers in no pool, are not protected.
    """

    name = SCALING_PLUGIN_NAME

    def __init__(self, pools: Iterable[Pool | Mapping[str, Any]] | None = None) -> None:
        self.pools = None if pools is None else [pool_from_mapping(p) for p in pools]
        self.scheduler: Any = None
        self.only_: str | None = None

    async def start(self, scheduler: Any) -> None:
        import dask.config

        self.scheduler = scheduler
        if self.pools is None:
            self.pools = [pool_from_mapping(p) for p in dask.config.get("collab.placement.pools", default=[]) or []]
        scheduler.handlers[RETIRE_HANDLER] = self.retire_pool_workers

    @property
    def floors(self) -> dict[str, int]:
        return {p.name: p.min_workers for p in self.pools or ()}

    @contextlib.contextmanager
    def only(self, pool: str) -> Iterator[None]:
        """Within the block, downscaling may pick workers of ``pool`` only."""
        previous, self.only_ = self.only_, pool
        try:
            yield
        finally:
            self.only_ = previous

    def valid_workers_downscaling(self, scheduler: Any, workers: list[Any]) -> list[Any]:
        if self.only_ is not None:
            return [ws for ws in workers if _pool_of(ws) == self.only_]
        floors = self.floors
        if not floors:
            return workers
        live: dict[str, int] = {}
        for ws in scheduler.workers.values():
            pool = _pool_of(ws)
            live[pool] = live.get(pool, 0) + 1
        spare = {pool: live.get(pool, 0) - floor for pool, floor in floors.items()}
        # Dask's own preference (idle first, least data), so the spare ones are the ones it would pick
        out = []
        for ws in sorted(workers, key=lambda w: (bool(w.processing), w.nbytes)):
            pool = _pool_of(ws)
            if pool not in spare:
                out.append(ws)
            elif spare[pool] > 0:
                spare[pool] -= 1
                out.append(ws)
        return out

    async def retire_pool_workers(self, pool: str, n: int, close_workers: bool = False) -> dict[str, list[str]]:
        """Pick ``n`` workers of ``pool`` (Dask's choice) and retire them; ``{"retired": names, "kept": names}``."""
        scheduler = self.scheduler
        with self.only(pool):
            names = scheduler.workers_to_close(n=n, attribute="name")
        if not names:
            return {"retired": [], "kept": []}
        addresses = {ws.address: str(ws.name) for ws in scheduler.workers.values() if ws.name in names}
        info = await scheduler.retire_workers(names=list(names), close_workers=close_workers, remove=True,
                                              stimulus_id=f"daskcollab-scale-{pool}")
        retired = [addresses.get(addr, str(i.get("name"))) for addr, i in info.items()]
        kept = [str(name) for name in names if str(name) not in retired]
        if kept:
            logger.warning("pool %r: could not retire %s (their data has nowhere to go); they keep running",
                           pool, kept)
        return {"retired": retired, "kept": kept}
