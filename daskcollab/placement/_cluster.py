"""The cluster as the placement policy sees it: live workers by pool, declared and elastic pools (pure).

The plugin reports workers joining and leaving (address, ``WorkerState.extra``, resources); this
module keeps what the policy needs of them and answers the questions every decision starts with:
which pools are live, which may have no worker yet, which pools a run is planned on, and what a
pool's worker costs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from daskcollab.placement._decide import ClusterView
from daskcollab.placement._feasibility import unpooled_workers
from daskcollab.placement._pools import WorkerInfo, pool_from_mapping, pools_from_workers, worker_info
from daskcollab.placement._runplan import Fleet
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
        each counts at its ``max_workers`` (one kept at zero is left out). A live pool's billing,
        start-up and spot terms come from its definition (pools file, elastic controller)."""
        if not self.elastic:
            live = [_terms(p, view.declared.get(n)) for n, p in view.live.items()]
            return live, [p for n, p in view.declared.items() if n not in view.live]
        pools: dict[str, Pool] = {}
        for name, p in self.elastic.items():
            if p.max_workers > 0:  # its own billing and start-up, the live workers' price, speed, resources
                base = view.live.get(name, p)
                pools[name] = dataclasses.replace(p, price_per_hour=base.price_per_hour, speed=base.speed,
                                                  workers=p.max_workers, resources=dict(base.resources))
        for name, p in view.live.items():
            pools.setdefault(name, _terms(p, view.declared.get(name)))  # live pools no controller scales: as they are
        return list(pools.values()), [p for n, p in view.declared.items() if n not in pools]

    def fleet(self, view: ClusterView) -> Fleet:
        """Which planning pools follow the plan (the elastic ones), and how many workers each has up now."""
        elastic = frozenset(name for name, p in self.elastic.items() if p.max_workers > 0)
        return Fleet(elastic, {name: view.live[name].workers if name in view.live else 0 for name in elastic})

    def spot(self, pool: str, settings: Settings) -> bool:
        """Whether ``pool`` is a spot pool (by its definition: pools file or elastic controller)."""
        definition = self.elastic.get(pool) or settings.declared.get(pool)
        return bool(definition is not None and definition.spot)

    def price(self, pool: str, settings: Settings) -> float:
        """$/h of one worker of ``pool`` (live, else elastic, else declared; 0 when unknown)."""
        for source in (self.live(), self.elastic, settings.declared):
            if pool in source:
                return float(source[pool].price_per_hour)
        return 0.0


def _terms(live: Pool, definition: Pool | None) -> Pool:
    """A live pool (from its workers' metadata) with the billing, start-up and spot terms of its definition."""
    if definition is None:
        return live
    return dataclasses.replace(live, startup=definition.startup, billing_granularity=definition.billing_granularity,
                               billing_minimum=definition.billing_minimum, spot=definition.spot,
                               preemption_rate=definition.preemption_rate)
