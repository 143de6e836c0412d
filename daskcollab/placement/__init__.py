"""Cost-aware placement of workflow tasks on worker pools.

Pure policy (no Dask): :class:`Pool`, :class:`TaskSpec`, :class:`Mode`, :class:`Objective`,
:func:`plan`, :func:`lower_bounds`, :class:`CostModel`, :func:`plan_report`; the cost/makespan
front :func:`pareto_front`, :func:`choose` (a plan from it by deadline, budget or weight),
:func:`front_table`, :func:`front_bounds`; :func:`cost_lower_bound` (an LP lower bound on the cost
within a makespan; needs scipy, imported when called).
Thin Dask glue: :class:`PlacementPlugin` (a ``SchedulerPlugin``), the worker preload
``daskcollab.placement.worker`` and :func:`start_local_pools`.
Kubernetes (dask-kubernetes, one worker group per pool): :func:`load_kube_pools`,
:func:`kube_manifests` (pure), :func:`start_kube_cluster` (thin glue).

This module is also a scheduler preload::

    dask scheduler --preload daskcollab.placement [--placement-mode cheapest] [--cost-model-path F]

or set ``distributed.scheduler.preload: [daskcollab.placement]`` in the Dask config.
"""

from __future__ import annotations

from typing import Any

import click

from daskcollab.placement._accounting import Decision, Ledger, plan_report, summarize_plans
from daskcollab.placement._bounds import cost_lower_bound
from daskcollab.placement._front import choose, front_bounds, front_table, pareto_front
from daskcollab.placement._kubernetes import (
    KubePool,
    kube_manifests,
    kube_pool,
    kube_worker_spec,
    load_kube_pools,
    manifests_yaml,
    start_kube_cluster,
)
from daskcollab.placement._local import placement_plugin, pool_worker_specs, start_local_pools
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
    "KubePool",
    "Ledger",
    "LowerBounds",
    "Mode",
    "Objective",
    "PlacementPlugin",
    "Plan",
    "Pool",
    "TaskSpec",
    "choose",
    "cost_lower_bound",
    "eligible_pools",
    "front_bounds",
    "front_table",
    "kube_manifests",
    "kube_pool",
    "kube_worker_spec",
    "load_kube_pools",
    "lower_bounds",
    "manifests_yaml",
    "pareto_front",
    "placement_plugin",
    "placement_report",
    "plan",
    "plan_report",
    "pool_of_label",
    "pool_resource",
    "pool_worker_specs",
    "save_cost_model",
    "start_kube_cluster",
    "start_local_pools",
    "summarize_plans",
    "unplaceable",
    "worker_metadata",
]


@click.command()
@click.option("--placement-mode", type=click.Choice([m.value for m in Mode]), default=None,
              help="Default objective (config collab.placement.mode).")
@click.option("--cost-model-path", default=None, help="Learned cost model file (config collab.placement.cost-model-path).")
def dask_setup(scheduler: Any, placement_mode: str | None, cost_model_path: str | None) -> None:
    """Scheduler preload entry point: install :class:`PlacementPlugin` and the dashboard page."""
    from daskcollab.dashboard import install_dashboard

    scheduler.add_plugin(PlacementPlugin(mode=placement_mode, cost_model_path=cost_model_path))
    install_dashboard(scheduler)
