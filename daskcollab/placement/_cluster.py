"""The cluster as the placement policy sees it: live workers by pool, declared and elastic pools (pure).

The plugin reports workers joining and leaving (address, ``WorkerState.extra``, resources); this
module keeps what the policy needs of them and answers the questions every decision starts with:
which pools are live, which may have no worker yet, which pools a run is planned on, and what a
pool's worker costs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from daskcollab.placement._decide import ClusterView
from daskcollab.placement._feasibility import unpooled_workers
from daskcollab.placement._pools import WorkerInfo, pool_from_mapping, pools_from_workers, worker_info
from daskcollab.placement._settings import Settings
from daskcollab.placement._spec import Pool


@dataclass
class PoolState:
    """Live workers and the pools an elastic controller scales (the declared pools are settings).

    Examples
    --------
    >>> state = PoolState()
    >>> state.worker_joined("tcp://a:1", {"daskcollab": {"pool": "spot", "price_per_hour": 0.1}}, {}).pool
    'spot'
    >>> sorted(state.live()), state.price("gpu", Settings(declared={"gpu": Pool("gpu", 2.5, 1.0, 1)}))
    (['spot'], 2.5)
    """

    workers: dict[str, WorkerInfo] = field(default_factory=dict)
    elastic: dict[str, Pool] = field(default_factory=dict)  # set_elastic: pools a controller scales

    def worker_joined(self, address: str, extra: Mapping[str, Any] | None,
                      resources: Mapping[str, float] | None) -> WorkerInfo:
        """Track a worker (one outside every pool has an empty ``pool``)."""
        info = worker_info(address, extra, resources)
        if info is None:
            info = WorkerInfo(address, "", 0.0, 1.0, dict(resources or {}))
        self.workers[address] = info
        return info

    def worker_left(self, address: str) -> WorkerInfo | None:
        return self.workers.pop(address, None)

    def live(self) -> dict[str, Pool]:
        """Pools with at least one live worker, from worker metadata."""
        return pools_from_workers(i for i in self.workers.values() if i.pool)

    def set_elastic(self, pools: Iterable[Pool | Mapping[str, Any]] | None) -> None:
        self.elastic = {p.name: p for p in map(pool_from_mapping, pools or ())}

    def view(self, settings: Settings, task_overhead: float, slippage: float) -> ClusterView:
        """The cluster as the pure policy sees it (``task_overhead``: the configured or learned one)."""
        unpooled = unpooled_workers({i.address: i.resources for i in self.workers.values() if not i.pool})
        return ClusterView(self.live(), {**settings.declared, **self.elastic}, unpooled, settings.mode,
                           settings.tradeoff, settings.min_work, task_overhead, slippage, elastic=bool(self.elastic))

    def planning(self, view: ClusterView) -> tuple[list[Pool], list[Pool]]:
        """The pools a run is planned on, and declared pools without workers: with elastic pools,
        each counts at its ``max_workers`` (one kept at zero is left out)."""
        if not self.elastic:
            return list(view.live.values()), [p for n, p in view.declared.items() if n not in view.live]
        pools: dict[str, Pool] = {}
        for name, p in self.elastic.items():
            if p.max_workers > 0:
                base = view.live.get(name, p)
                pools[name] = Pool(name, base.price_per_hour, base.speed, p.max_workers, dict(base.resources))
        for name, p in view.live.items():
            pools.setdefault(name, p)  # live pools no controller scales: as they are
        return list(pools.values()), [p for n, p in view.declared.items() if n not in pools]

    def price(self, pool: str, settings: Settings) -> float:
        """$/h of one worker of ``pool`` (live, else elastic, else declared; 0 when unknown)."""
        for source in (self.live(), self.elastic, settings.declared):
            if pool in source:
                return float(source[pool].price_per_hour)
        return 0.0
