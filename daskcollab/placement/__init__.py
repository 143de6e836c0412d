"""Cost-aware placement of workflow tasks on worker pools.

Pure policy (no Dask): :class:`Pool`, :class:`TaskSpec`, :class:`Mode`, :class:`Objective`,
:func:`plan` (task level), :func:`plan_run` (one plan per workflow run: :class:`RunSpec` ->
:class:`RunPlan`), :func:`feasibility` (the one rule: can a request run now, later, never),
:func:`lower_bounds`, :class:`CostModel`, :class:`Ledger`, :func:`plan_report`; the cost/makespan
front :func:`pareto_front`, :func:`choose` (a plan from it by deadline, budget or weight),
:func:`front_table`, :func:`front_bounds`; :func:`cost_lower_bound` (an LP lower bound on the cost
within a makespan; scipy, imported when called).
Thin Dask glue: :class:`PlacementPlugin` (a ``SchedulerPlugin``).
Deployment (preloads, local pools, Kubernetes, pool scaling) lives in :mod:`daskcollab.deploy`.

``daskcollab.placement`` is still accepted as a scheduler preload: an alias of
``daskcollab.deploy.scheduler``, kept for existing deployments (``dask scheduler --preload
daskcollab.placement``); likewise ``daskcollab.placement.worker`` for ``daskcollab.deploy.worker``.
New deployments should name the ``daskcollab.deploy`` modules.
"""

from __future__ import annotations

from typing import Any

from daskcollab.placement._bounds import cost_lower_bound
from daskcollab.placement._cost_model import CostModel, EstimateSource, StageEstimate
from daskcollab.placement._feasibility import Feasibility, Verdict, can_run, feasibility, unplaceable_message
from daskcollab.placement._front import choose, front_bounds, front_table, pareto_front
from daskcollab.placement._ledger import Decision, Ledger, RunLedger
from daskcollab.placement._planning import lower_bounds, plan
from daskcollab.placement._plugin import (
    PLUGIN_NAME,
    BudgetAction,
    BudgetBasis,
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
from daskcollab.placement._report import plan_report, summarize_plans
from daskcollab.placement._runplan import ALL_POOLS, RunPlan, RunSpec, StagePlan, StageSpec, plan_run, plan_with_model
from daskcollab.placement._spec import Assignment, LowerBounds, Mode, Objective, Plan, Pool, TaskSpec, eligible_pools, unplaceable

__all__ = [
    "ALL_POOLS",
    "EXAMPLE_POOLS",
    "PLUGIN_NAME",
    "POOL_LABEL_QUANTITY",
    "Assignment",
    "BudgetAction",
    "BudgetBasis",
    "CostModel",
    "Decision",
    "EstimateSource",
    "Feasibility",
    "Ledger",
    "LowerBounds",
    "Mode",
    "Objective",
    "PlacementPlugin",
    "Plan",
    "Pool",
    "RunLedger",
    "RunPlan",
    "RunSpec",
    "StageEstimate",
    "StagePlan",
    "StageSpec",
    "TaskSpec",
    "Verdict",
    "can_run",
    "choose",
    "cost_lower_bound",
    "front_bounds",
    "front_table",
    "pareto_front",
    "eligible_pools",
    "feasibility",
    "lower_bounds",
    "placement_report",
    "plan",
    "plan_report",
    "plan_run",
    "plan_with_model",
    "pool_of_label",
    "pool_resource",
    "save_cost_model",
    "summarize_plans",
    "unplaceable",
    "unplaceable_message",
    "worker_metadata",
]


def __getattr__(name: str) -> Any:
    # The scheduler-preload alias: distributed looks up ``dask_setup`` on the module named by
    # ``--preload``. Imported on first use only, so importing placement never imports deploy.
    if name == "dask_setup":
        from daskcollab.deploy.scheduler import dask_setup

        return dask_setup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
