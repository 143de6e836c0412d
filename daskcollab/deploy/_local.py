"""A local heterogeneous cluster of worker pools, for tests, benchmarks and laptops, and its per-pool scaler.

Each pool becomes ``pool.workers`` nanny-managed worker *processes* that load the worker preload
``daskcollab.deploy.worker`` with the pool's name, price and speed (through the environment,
exactly as a ``dask worker`` command line in a real deployment would) and advertise the pool's
abstract resources. The scheduler runs in this process with the :class:`PlacementPlugin`
installed (unless ``plugin=False``) and always the :class:`PoolScalingPlugin`, so tests can read
its state directly and :class:`LocalPoolScaler` can grow and shrink each pool. With
``elastic=True`` an :class:`~daskcollab.deploy.ElasticController` grows and shrinks every pool with
the runs' plans (a periodic callback on the scheduler, see :mod:`daskcollab.deploy._elastic`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from distributed import Nanny, Scheduler, SpecCluster, Worker
from distributed.core import Status

from daskcollab._contract import POOL_ENV, PRICE_ENV, SPEED_ENV, WORKER_PRELOAD
from daskcollab._errors import DaskCollabError, stage_message
from daskcollab.deploy._scaling import RETIRE_HANDLER, PoolScalingPlugin, Scaled, check_pool, check_scale
from daskcollab.placement import PLUGIN_NAME, PlacementPlugin, Pool, pool_from_mapping

logger = logging.getLogger("daskcollab.deploy")



def pool_worker_spec(
    pool: Pool,
    *,
    threads_per_worker: int = 1,
    memory_limit: str | int | None = "auto",
    worker_options: Mapping[str, Any] | None = None,
    processes: bool = True,
) -> dict[str, Any]:
    """The ``SpecCluster`` spec of one worker process of ``pool`` (pure).

    ``processes=False``: an in-process ``Worker`` instead (its pool given to the worker preload as
    arguments rather than environment; for emulations where the tasks only sleep).
    """
    if not processes:
        options = {"nthreads": threads_per_worker, "memory_limit": memory_limit, "resources": dict(pool.resources),
                   "preload": [WORKER_PRELOAD], **dict(worker_options or {})}
        argv = ["--pool", pool.name, "--price", repr(float(pool.price_per_hour)), "--speed", repr(float(pool.speed))]
        options["preload_argv"] = [argv if p == WORKER_PRELOAD else [] for p in options["preload"]]
        return {"cls": Worker, "options": options}
    return {
        "cls": Nanny,
        "options": {
            "nthreads": threads_per_worker,
            "memory_limit": memory_limit,
            "resources": dict(pool.resources),
            "preload": [WORKER_PRELOAD],
            "env": {
                POOL_ENV: pool.name,
                PRICE_ENV: repr(float(pool.price_per_hour)),
                SPEED_ENV: repr(float(pool.speed)),
            },
            **dict(worker_options or {}),
        },
    }


def pool_worker_specs(
    pools: Iterable[Pool | Mapping[str, Any]],
    *,
    threads_per_worker: int = 1,
    memory_limit: str | int | None = "auto",
    worker_options: Mapping[str, Any] | None = None,
    processes: bool = True,
) -> dict[str, dict[str, Any]]:
    """``SpecCluster`` worker specs for ``pools`` (pure; one entry ``<pool>-<i>`` per worker process).

    A pool may start with 0 workers when its ``max_workers`` lets it grow later.

    Examples
    --------
    >>> specs = pool_worker_specs([Pool("gpu", 2.5, workers=1, resources={"GPU": 1})])
    >>> specs["gpu-0"]["options"]["env"]["DASKCOLLAB_POOL"], specs["gpu-0"]["options"]["resources"]
    ('gpu', {'GPU': 1})
    """
    specs: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for pool in map(pool_from_mapping, pools):
        if pool.workers < 1 and pool.max_workers < 1:
            raise DaskCollabError(
                stage_message(
                    "local-pools", "workers", f"expected pool {pool.name!r} to have >= 1 worker, got {pool.workers!r}",
                    "give every local pool at least one worker (or a max >= 1 to grow into), or leave it out and "
                    "declare it in collab.placement.pools",
                )
            )
        if pool.name in seen:
            raise DaskCollabError(
                stage_message("local-pools", "name", f"expected unique pool names, got {pool.name!r} twice",
                              "rename one of the pools")
            )
        seen.add(pool.name)
        for i in range(pool.workers):
            specs[f"{pool.name}-{i}"] = pool_worker_spec(pool, threads_per_worker=threads_per_worker,
                                                         memory_limit=memory_limit, worker_options=worker_options,
                                                         processes=processes)
    return specs


class LocalPoolsCluster(SpecCluster):
    """The ``SpecCluster`` :func:`start_local_pools` returns; knows its pools (``pools``) to start more workers.

    ``elastic``: the :class:`~daskcollab.deploy.ElasticController` scaling its pools, if any (stopped
    before the cluster closes).
    """

    def __init__(self, pools: Iterable[Pool], *, worker_options: Mapping[str, Any], **kwargs: Any) -> None:
        self.pools = {p.name: p for p in pools}
        self.pool_worker_options = dict(worker_options)
        self.elastic: Any = None
        super().__init__(**kwargs)

    async def _close(self) -> None:
        if self.elastic is not None and self.status == Status.running:
            await self.elastic.stop_async()  # no worker may start while the cluster closes
        await super()._close()

    def pool_of_spec(self, name: str) -> str | None:
        """The pool of worker spec ``name`` (None for a worker added by other means)."""
        options = (self.worker_spec.get(name) or {}).get("options", {})
        argv = next((a for p, a in zip(options.get("preload", ()), options.get("preload_argv", ())) if p == WORKER_PRELOAD),
                    ())  # in-process workers (processes=False) get their pool as preload arguments
        if "--pool" in argv:
            return argv[argv.index("--pool") + 1]
        return (options.get("env") or {}).get(POOL_ENV)


def start_local_pools(
    pools: Iterable[Pool | Mapping[str, Any]],
    *,
    plugin: PlacementPlugin | bool = True,
    elastic: bool | Mapping[str, Any] = False,
    threads_per_worker: int = 1,
    memory_limit: str | int | None = None,
    dashboard_address: str | None = None,
    scheduler_options: Mapping[str, Any] | None = None,
    worker_options: Mapping[str, Any] | None = None,
    processes: bool = True,
    asynchronous: bool = False,
) -> LocalPoolsCluster:
    """Start a local cluster whose workers form the given pools.

    Parameters
    ----------
    pools : iterable of Pool or mapping
        One entry per pool; ``Pool.workers`` worker processes each (``min_workers`` /
        ``max_workers`` bound :class:`LocalPoolScaler` and the elastic controller).
    plugin : PlacementPlugin or bool
        ``True`` installs ``PlacementPlugin()`` (configured from ``collab.placement.*``), an
        instance installs that one, ``False`` runs plain Dask placement (a baseline). The
        :class:`PoolScalingPlugin` is always installed.
    elastic : bool or mapping, optional
        ``True`` (or a mapping of :class:`~daskcollab.deploy.ElasticController` keyword arguments:
        ``startup``, ``interval``, ``margin``, ``cooldown``) starts an elastic controller on the
        scheduler: every pool grows and shrinks between its ``min`` and ``max`` with the runs'
        plans (needs the placement plugin). It is ``cluster.elastic``; it stops when the cluster closes.
    memory_limit : str or int, optional
        Per worker; default splits the machine's memory evenly between the workers (at their
        ``max_workers``).
    worker_options : mapping, optional
        More ``Nanny`` options for every worker (e.g. ``{"preload": [...]}``, which replaces the
        default list: keep ``WORKER_PRELOAD`` in it).
    processes : bool
        ``False``: in-process ``Worker`` objects instead of nanny-managed processes (start in
        milliseconds; for emulated workloads whose tasks sleep, e.g. ``bench_elastic.py``).

    Examples
    --------
    >>> from distributed import Client
    >>> from daskcollab.placement import EXAMPLE_POOLS
    >>> with start_local_pools(EXAMPLE_POOLS) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    pools = [pool_from_mapping(p) for p in pools]
    n_workers = sum(max(p.workers, p.max_workers) for p in pools)
    if memory_limit is None:
        from distributed.system import MEMORY_LIMIT

        memory_limit = max(int(MEMORY_LIMIT // max(n_workers, 1)), 256 * 2**20)
    options_ = {"threads_per_worker": threads_per_worker, "memory_limit": memory_limit,
                "worker_options": dict(worker_options or {}), "processes": processes}
    workers = pool_worker_specs(pools, **options_)
    options: dict[str, Any] = {"dashboard_address": dashboard_address, "port": 0}
    if plugin is True:
        plugin = PlacementPlugin()
    options["plugins"] = [*([plugin] if plugin else []), PoolScalingPlugin(pools)]
    options.update(scheduler_options or {})
    if options.get("dashboard_address") is None:
        options["dashboard"] = False
        options.pop("dashboard_address")
    cluster = LocalPoolsCluster(
        pools, worker_options=options_, workers=workers, scheduler={"cls": Scheduler, "options": options},
        asynchronous=asynchronous, name="daskcollab-local-pools",
    )
    if elastic:
        from daskcollab.deploy._elastic import ElasticController

        try:
            ElasticController(cluster, **(dict(elastic) if isinstance(elastic, Mapping) else {})).start()
        except BaseException:
            cluster.close()
            raise
    return cluster


def placement_plugin(cluster: SpecCluster) -> PlacementPlugin:
    """The placement plugin of a cluster started by :func:`start_local_pools` (same process)."""
    found = cluster.scheduler.plugins.get(PLUGIN_NAME)
    if found is None:
        raise DaskCollabError(
            stage_message("local-pools", "plugin", f"expected a {PLUGIN_NAME!r} plugin on the scheduler, got None",
                          "start the cluster with start_local_pools(pools, plugin=True)")
        )
    return found


class LocalPoolScaler:
    """:class:`PoolScaler` for the pools of :func:`start_local_pools` (a synchronous cluster).

    ``scale(pool, n)`` up starts worker processes of that pool and returns once they run; down asks
    the scheduler for ``n`` of that pool's workers (Dask's choice: idle, least data), retires them
    (unique data moved to other workers) and stops them. Other pools' workers are never touched.
    :meth:`scale_async` is the same on the cluster's event loop (what the elastic controller on the
    scheduler awaits); pools scale independently, and workers still starting count in ``workers``.

    Examples
    --------
    >>> pools = [Pool("spot", 0.1, workers=1, max_workers=3), Pool("gpu", 2.5, workers=1, min_workers=0)]
    >>> with start_local_pools(pools) as cluster:  # doctest: +SKIP
    ...     scaler = LocalPoolScaler(cluster)
    ...     scaler.scale("spot", 3), scaler.scale("gpu", 0)
    """

    def __init__(self, cluster: LocalPoolsCluster) -> None:
        if not isinstance(cluster, LocalPoolsCluster) or cluster.asynchronous:
            raise DaskCollabError(stage_message(
                "scale", "cluster", f"expected a synchronous cluster from start_local_pools, got {cluster!r}",
                "start it with start_local_pools(pools) (asynchronous=False)"))
        self.cluster = cluster
        self._booting: dict[str, str] = {}  # worker name -> pool, started but not running yet
        self._numbers = itertools.count()

    @property
    def pools(self) -> Mapping[str, Pool]:
        return self.cluster.pools

    def names(self, pool: str) -> list[str]:
        """Worker spec names of ``pool``, oldest first (workers running or stopping; not those starting)."""
        return [name for name in self.cluster.worker_spec if self.cluster.pool_of_spec(name) == pool]

    def workers(self, pool: str) -> int:
        check_pool(self.pools, pool)
        return len(self.names(pool)) + sum(p == pool for p in self._booting.values())

    def scale(self, pool: str, n: int) -> Scaled:
        return self.cluster.sync(self.scale_async, pool, n)

    def _new_name(self, pool: str) -> str:
        taken = {*self.cluster.worker_spec, *self.cluster.workers, *self._booting}
        return next(name for i in self._numbers if (name := f"{pool}-{i}") not in taken)

    async def _start(self, name: str, pool: Pool) -> bool:
        """Start worker ``name`` of ``pool``; it enters ``worker_spec`` / ``workers`` once it runs."""
        cluster = self.cluster
        spec = pool_worker_spec(pool, **cluster.pool_worker_options)
        worker = spec["cls"](getattr(cluster.scheduler, "contact_address", None) or cluster.scheduler.address,
                             **{**spec["options"], "name": name})
        try:
            await worker
        except Exception as exc:  # a worker that cannot start: the pool stays smaller, said once
            logger.warning("pool %r: worker %s did not start: %r", pool.name, name, exc)
            return False
        if cluster.status != Status.running:  # the cluster began to close meanwhile
            await worker.close()
            return False
        cluster.worker_spec[name] = spec
        cluster.workers[name] = worker
        cluster._created.add(worker)
        worker._cluster = weakref.ref(cluster)
        return True

    async def scale_async(self, pool: str, n: int) -> Scaled:
        """:meth:`scale` as a coroutine on the cluster's event loop; down retires only workers that run."""
        p = check_scale(self.pools, pool, n)
        cluster = self.cluster
        before = self.workers(pool)
        retired: list[str] = []
        kept: list[str] = []
        after = before
        if n > before:
            names = [self._new_name(pool) for _ in range(n - before)]
            for name in names:
                self._booting[name] = pool
            try:
                started = await asyncio.gather(*(self._start(name, p) for name in names))
            finally:
                for name in names:
                    self._booting.pop(name, None)
            after = before + sum(started)
        elif n < before and self.names(pool):
            handler = getattr(cluster.scheduler_comm, RETIRE_HANDLER)
            done = await handler(pool=pool, n=min(before - n, len(self.names(pool))), close_workers=True)
            retired, kept = list(done["retired"]), list(done["kept"])
            for name in retired:
                cluster.worker_spec.pop(name, None)
                worker = cluster.workers.pop(name, None)
                if worker is not None:
                    await worker.close()
            after = before - len(retired)
        logger.info("pool %r scaled from %d to %d workers (asked %d)%s", pool, before, after, n,
                    f"; retired {retired}" if retired else "")
        return Scaled(pool, before, after, tuple(retired), tuple(kept))
