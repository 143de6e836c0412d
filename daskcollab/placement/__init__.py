"""Cost-aware placement of workflow tasks on worker pools: pure policy, and a thin Dask translator.

Pure policy (no ``distributed``, no file I/O; a test checks it): :class:`Pool`, :class:`TaskSpec`,
:class:`Mode`, :class:`Objective`, :func:`plan` (task level), :func:`plan_run` (one plan per workflow
run: :class:`RunSpec` -> :class:`RunPlan`), :func:`feasibility` (the one rule: can a request run
now, later, never), :func:`decide` (what newly submitted tasks get), :func:`lower_bounds`,
:func:`cost_lower_bound` (an LP bound; scipy, imported when called), the cost/makespan front
(:func:`pareto_front`, :func:`choose`, :func:`front_table`, :func:`front_bounds`), and the plugin's
bookkeeping: :class:`CostModel` and what it learns (:class:`Learner`), the money (:class:`Ledger`),
the runs (:class:`Runs`: start, re-plan, budget and deadline verdicts), the watchdog's verdicts
(:func:`unrunnable_verdicts`), per-pool demand (:func:`cluster_demand`), the pools
(:class:`PoolState`), all tied together in :class:`PlacementState`; settings (:class:`Settings`).

Dask glue: :class:`PlacementPlugin` (a ``SchedulerPlugin`` that translates scheduler events into
calls on :class:`PlacementState`), ``_scheduler`` (what it reads from and does to ``TaskState``
objects), the cost model's file (:func:`cost_model_path`, :func:`load_cost_model`,
:func:`write_cost_model`) and client helpers (:func:`placement_report`, :func:`save_cost_model`).
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
    # pure policy: plans
    "ALL_POOLS": "_runplan", "Fleet": "_runplan", "RunPlan": "_runplan", "RunSpec": "_runplan", "StagePlan": "_runplan",
    "StageSpec": "_runplan", "plan_run": "_runplan", "plan_with_model": "_runplan",
    "Assignment": "_spec", "CostBasis": "_spec", "LowerBounds": "_spec", "Mode": "_spec", "Objective": "_spec", "Plan": "_spec",
    "Pool": "_spec", "SpotPolicy": "_spec", "TaskSpec": "_spec", "eligible_pools": "_spec", "unplaceable": "_spec",
    "DEFAULT_TRADEOFF": "_spec", "lower_bounds": "_planning", "plan": "_planning",
    "cost_lower_bound": "_bounds",
    "Lease": "_billing", "billed_seconds": "_billing", "slot_leases": "_billing", "held_lower_bound": "_bounds",
    "choose": "_front", "front_bounds": "_front", "front_table": "_front", "pareto_front": "_front",
    "plan_report": "_report", "summarize_plans": "_report",
    # pure policy: what runs and tasks go where, and the bookkeeping around it
    "Feasibility": "_feasibility", "Verdict": "_feasibility", "can_run": "_feasibility",
    "feasibility": "_feasibility", "unplaceable_message": "_feasibility", "unpooled_workers": "_feasibility",
    "ClusterView": "_decide", "Decisions": "_decide", "TaskView": "_decide", "decide": "_decide",
    "CostModel": "_cost_model", "EstimateSource": "_cost_model", "StageEstimate": "_cost_model",
    "Decision": "_ledger", "Ledger": "_ledger", "RunLedger": "_ledger",
    "Need": "_demand", "PoolDemand": "_demand", "TaskNeed": "_demand", "cluster_demand": "_demand",
    "Learner": "_learning",
    "Progress": "_spot", "SpotMove": "_spot", "latest_finishes": "_spot", "spot_moves": "_spot",
    "Alert": "_runs", "Planner": "_runs", "Runs": "_runs", "StartKind": "_runs",
    "Waiting": "_watchdog", "WatchdogVerdicts": "_watchdog", "unrunnable_verdicts": "_watchdog",
    "PoolState": "_cluster", "Placement": "_state", "PlacementState": "_state",
    "BudgetAction": "_settings", "BudgetBasis": "_settings", "Settings": "_settings",
    "EXAMPLE_POOLS": "_pools", "HOLD_RESOURCE": "_pools", "WorkerInfo": "_pools", "pool_from_mapping": "_pools",
    "pool_of_label": "_pools", "split_resources": "_pools", "worker_info": "_pools", "worker_metadata": "_pools",
    "METADATA_KEY": "daskcollab._contract", "POOL_LABEL_QUANTITY": "daskcollab._contract",
    "pool_resource": "daskcollab._contract",
    # glue: the scheduler plugin, the cost model's file, client helpers
    "PLUGIN_NAME": "_plugin", "PlacementPlugin": "_plugin",
    "cost_model_path": "_store", "load_cost_model": "_store", "write_cost_model": "_store",
    "placement_report": "_client", "save_cost_model": "_client",
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
