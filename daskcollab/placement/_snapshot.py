"""The placement plugin's public snapshot: plain data (JSON-ready) for reports, the dashboard and
the elastic controller (pure).

The dashboard and the report read only this (``PlacementPlugin.snapshot``, fetched on a client by
:func:`~daskcollab.placement.placement_report`), never the plugin's attributes.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from daskcollab.placement._cluster import PoolState
from daskcollab.placement._cost_model import CostModel
from daskcollab.placement._ledger import Ledger
from daskcollab.placement._settings import Settings

#: Placements and task locations listed at most (the newest are dropped beyond it).
MAX_LISTED = 10_000


def placement_snapshot(ledger: Ledger, settings: Settings, pools: PoolState, model: CostModel, *,
                       placed: Mapping[Hashable, str | None], waiting_by_pool: Mapping[str, int],
                       demand: Mapping[str, Any], overhead: Mapping[str, float], cost_model_path: str,
                       now: float, spot: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The cluster-wide ledger with every run under ``runs``, the pools, the settings and the
    plugin's own overhead (``overhead``: hook seconds and task counts, see the plugin)."""
    data = ledger.snapshot(now, spot)
    seen = max(overhead["tasks_planned"], overhead["tasks_accounted"], 1)
    data.update({
        "mode": settings.mode.value,
        "tradeoff": settings.tradeoff,
        "budget_counts": settings.budget_counts.value,
        "task_overhead": model.task_overhead if settings.task_overhead is None else settings.task_overhead,
        "slippage": model.slippage,
        "pools": {name: {"price_per_hour": p.price_per_hour, "speed": p.speed, "workers": p.workers,
                         "resources": dict(p.resources)} for name, p in pools.live().items()},
        "declared_pools": sorted(settings.declared),
        "spot_pools": sorted(spot),
        "waiting_by_pool": dict(waiting_by_pool),
        "elastic_pools": {name: {"min": p.min_workers, "max": p.max_workers} for name, p in pools.elastic.items()},
        "demand": dict(demand),
        "placements": {str(k): v for k, v in list(placed.items())[:MAX_LISTED]},
        "ran_on": {str(k): list(v) for k, v in list(ledger.ran_on.items())[:MAX_LISTED]},
        "cost_model_path": cost_model_path,
        "overhead": {**overhead, "us_per_task": 1e6 * overhead["hook_seconds"] / seen},
    })
    return data
