"""``daskcollab plan``: the run planner the placement plugin uses, on the same input, before running.

The workflow's stage graph (the :class:`~daskcollab.placement.RunSpec` ``daskcollab.run`` sends to
the scheduler) is planned with :func:`~daskcollab.placement.plan_with_model` and the cost model
saved at ``collab.placement.cost-model-path`` (what earlier runs taught the plugin), for every
mode, on the given pools.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from daskcollab.placement import DEFAULT_TRADEOFF, Mode, Pool, RunPlan, plan_with_model
from daskcollab.workflow import Workflow


def workflow_plans(workflow: Workflow, pools: Sequence[Pool], *, model: Any = None, modes: Iterable[Mode] = tuple(Mode),
                   tradeoff: float | None = None, default_work: float | None = None) -> dict[Mode, RunPlan]:
    """The plan of ``workflow`` on ``pools`` per mode (the run's own budget and deadline apply)."""
    import dask.config

    from daskcollab.placement import cost_model_path, load_cost_model

    model = load_cost_model(cost_model_path()) if model is None else model
    tradeoff = float(dask.config.get("collab.placement.tradeoff", DEFAULT_TRADEOFF, override_with=tradeoff))
    default_work = float(dask.config.get("collab.placement.default-work", 1.0, override_with=default_work))
    spec = workflow.compile().run_spec("plan")
    return {Mode(m): plan_with_model(spec, pools, model, mode=Mode(m), tradeoff=tradeoff, default_work=default_work)
            for m in modes}


def workflow_plan_report(workflow: Workflow, pools: Sequence[Pool], *, model: Any = None,
                         mode: Mode | str | None = None) -> str:
    """A plain-text report: each mode's predicted makespan and cost, and the stages of one mode's plan."""
    import dask.config

    plans = workflow_plans(workflow, pools, model=model)
    shown = Mode(mode or dask.config.get("collab.placement.mode", "balanced"))
    lines = [
        f"workflow {workflow.name!r}: {len(workflow.stages)} stages on pools "
        + ", ".join(f"{p.name} ({p.workers} x {p.price_per_hour:g} $/h, speed {p.speed:g}"
                    + (f", {dict(p.resources)}" if p.resources else "") + ")" for p in pools),
        f"{'mode':<10} {'makespan_s':>10} {'busy_$':>9} {'held_$':>9}  {'budget':<6}  {'deadline':<8}",
    ]
    for m, p in plans.items():
        ok_b = "-" if p.meets_budget is None else ("ok" if p.meets_budget else "MISS")
        ok_d = "-" if p.meets_deadline is None else ("ok" if p.meets_deadline else "MISS")
        lines.append(f"{m.value:<10} {p.makespan:>10.2f} {p.cost:>9.4f} {p.held_cost:>9.4f}  {ok_b:<6}  {ok_d:<8}")
    plan = plans[shown]
    lines += ["", f"{shown.value} plan, stage by stage:",
              f"  {'stage':<20} {'pool':<14} {'start_s':>8} {'finish_s':>9} {'work_s':>8} {'width':>6} "
              f"{'latency_s':>9}  estimate"]
    for name, s in plan.stages.items():
        e = s.estimate
        width = "all" if e.width == float("inf") else f"{e.width:.1f}"
        lines.append(f"  {name:<20} {s.pool:<14} {s.start:>8.1f} {s.finish:>9.1f} {e.work:>8.1f} {width:>6} "
                     f"{e.latency:>9.1f}  {e.source.value}" + ("  (waits for its pool)" if s.waits else ""))
    default = [n for n, s in plan.stages.items() if s.estimate.source.value == "default"]
    if default:
        lines.append(f"stages with no history and no cost hint (planned at collab.placement.default-work): "
                     f"{', '.join(default)}; run the workflow once on these pools to learn them")
    lines.append("pool '*': the stage is spread over every pool that can run it (Dask balances it)")
    return "\n".join(lines)
