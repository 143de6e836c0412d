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

``daskcollab.placement`` is still accepted as a scheduler preload: a deprecated alias of
``daskcollab.deploy.scheduler``, kept for existing deployments (``dask scheduler --preload
daskcollab.placement``); likewise ``daskcollab.placement.worker`` for ``daskcollab.deploy.worker``.
Both warn (``FutureWarning``) and will be removed; new deployments name the ``daskcollab.deploy``
modules. The alias resolves on first use: importing this package never imports ``deploy``.
Names load on first use (see :mod:`daskcollab._lazy`).
"""

from __future__ import annotations

from typing import Any

from daskcollab._lazy import exports

_EXPORTS = {
    "ALL_POOLS": "_runplan", "RunPlan": "_runplan", "RunSpec": "_runplan", "StagePlan": "_runplan",
    "StageSpec": "_runplan", "plan_run": "_runplan", "plan_with_model": "_runplan",
    "Assignment": "_spec", "LowerBounds": "_spec", "Mode": "_spec", "Objective": "_spec", "Plan": "_spec",
    "Pool": "_spec", "TaskSpec": "_spec", "eligible_pools": "_spec", "unplaceable": "_spec",
    "DEFAULT_TRADEOFF": "_planning", "lower_bounds": "_planning", "plan": "_planning",
    "cost_lower_bound": "_bounds",
    "CostModel": "_cost_model", "EstimateSource": "_cost_model", "StageEstimate": "_cost_model",
    "Feasibility": "_feasibility", "Verdict": "_feasibility", "can_run": "_feasibility",
    "feasibility": "_feasibility", "unplaceable_message": "_feasibility", "unpooled_workers": "_feasibility",
    "choose": "_front", "front_bounds": "_front", "front_table": "_front", "pareto_front": "_front",
    "Decision": "_ledger", "Ledger": "_ledger", "RunLedger": "_ledger",
    "Need": "_demand", "PoolDemand": "_demand",
    "EXAMPLE_POOLS": "_pools", "WorkerInfo": "_pools", "pool_from_mapping": "_pools", "pool_of_label": "_pools",
    "worker_info": "_pools", "worker_metadata": "_pools",
    "METADATA_KEY": "daskcollab._contract", "POOL_LABEL_QUANTITY": "daskcollab._contract",
    "pool_resource": "daskcollab._contract",
    "plan_report": "_report", "summarize_plans": "_report",
    "PLUGIN_NAME": "_plugin", "BudgetAction": "_plugin", "BudgetBasis": "_plugin", "PlacementPlugin": "_plugin",
    "cost_model_path": "_plugin", "load_cost_model": "_plugin", "placement_report": "_plugin",
    "save_cost_model": "_plugin",
}
_getattr, __dir__, __all__ = exports(__name__, _EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "dask_setup":
        # ``--preload daskcollab.placement``: the old name of the scheduler preload (see above)
        import warnings

        from daskcollab import _contract

        warnings.warn(f"--preload daskcollab.placement is deprecated; use --preload {_contract.SCHEDULER_PRELOAD}",
                      FutureWarning, stacklevel=2)
        import importlib

        value = globals()["dask_setup"] = importlib.import_module(_contract.SCHEDULER_PRELOAD).dask_setup
        return value
    return _getattr(name)
