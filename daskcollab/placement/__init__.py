"""Cost-aware placement of workflow tasks on worker pools.

Pure policy (no Dask): :class:`Pool`, :class:`TaskSpec`, :class:`Mode`, :class:`Objective`,
:func:`plan`, :func:`lower_bounds`, :class:`CostModel`, :func:`plan_report`.
Thin Dask glue: :class:`PlacementPlugin` (a ``SchedulerPlugin``).
Deployment (preloads, local pools, Kubernetes, pool scaling) lives in :mod:`daskcollab.deploy`.

``daskcollab.placement`` is still accepted as a scheduler preload: an alias of
``daskcollab.deploy.scheduler``, kept for existing deployments (``dask scheduler --preload
daskcollab.placement``); likewise ``daskcollab.placement.worker`` for ``daskcollab.deploy.worker``.
New deployments should name the ``daskcollab.deploy`` modules.
"""

from __future__ import annotations

from typing import Any

from daskcollab.placement._accounting import Decision, Ledger, plan_report, summarize_plans
from daskcollab.placement._planning import (
    Assignment,
    CostModel,
    LowerBounds,
    Mode,
    Objective,
    Plan,
    Pool,
    TaskSpec,
    eligible_pools,
    lower_bounds,
    plan,
    unplaceable,
)
from daskcollab.placement._plugin import (
    PLUGIN_NAME,
    BudgetAction,
    PlacementPlugin,
    placement_report,
    save_cost_model,
)
from daskcollab.placement._pools import (
    EXAMPLE_POOLS,
    POOL_LABEL_QUANTITY,
    pool_of_label,
    pool_resource,
    worker_metadata,
)

__all__ = [
    "EXAMPLE_POOLS",
    "PLUGIN_NAME",
    "POOL_LABEL_QUANTITY",
    "Assignment",
    "BudgetAction",
    "CostModel",
    "Decision",
    "Ledger",
    "LowerBounds",
    "Mode",
    "Objective",
    "PlacementPlugin",
    "Plan",
    "Pool",
    "TaskSpec",
    "eligible_pools",
    "lower_bounds",
    "placement_report",
    "plan",
    "plan_report",
    "pool_of_label",
    "pool_resource",
    "save_cost_model",
    "summarize_plans",
    "unplaceable",
    "worker_metadata",
]


def __getattr__(name: str) -> Any:
    # The scheduler-preload alias: distributed looks up ``dask_setup`` on the module named by
    # ``--preload``. Imported on first use only, so importing placement never imports deploy.
    if name == "dask_setup":
        from daskcollab.deploy.scheduler import dask_setup

        return dask_setup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
