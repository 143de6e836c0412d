"""``daskcollab plan``: the run planner the placement plugin uses, on the same input, before running.

The workflow's stage graph (the :class:`~daskcollab.placement.RunSpec` ``daskcollab.run`` sends to
the scheduler) is planned with :func:`~daskcollab.placement.plan_with_model` and the cost model
saved at ``collab.placement.cost-model-path`` (what earlier runs taught the plugin), for every
mode, on the given pools.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

from daskcollab.placement import (
    DEFAULT_TRADEOFF,
    CostBasis,
    Fleet,
    Mode,
    Pool,
    RunPlan,
    RunSpec,
    held_lower_bound,
    plan_with_model,
)
from daskcollab.workflow import Workflow

#: Points of the held-bill front between the fastest and the cheapest plan.
FRONT_POINTS = 5


def pools_fleet(pools: Sequence[Pool]) -> tuple[list[Pool], Fleet]:
    """The pools as planned (an elastic pool, ``min`` < ``max``, at its ``max``) and which follow the
    plan, with the workers each has now (``workers``)."""
    elastic = [p for p in pools if p.min_workers < p.max_workers]
    planned = [dataclasses.replace(p, workers=p.max_workers) if p in elastic else p for p in pools]
    return planned, Fleet(frozenset(p.name for p in elastic), {p.name: p.workers for p in elastic})


def _context(workflow: Workflow, model: Any, tradeoff: float | None, default_work: float | None) -> dict[str, Any]:
    import dask.config

    from daskcollab.placement import cost_model_path, load_cost_model

    return {"model": load_cost_model(cost_model_path()) if model is None else model,
            "tradeoff": float(dask.config.get("collab.placement.tradeoff", DEFAULT_TRADEOFF, override_with=tradeoff)),
            "default_work": float(dask.config.get("collab.placement.default-work", 1.0, override_with=default_work)),
            "basis": CostBasis(dask.config.get("collab.placement.budget-counts", "held"))}


def workflow_plans(workflow: Workflow, pools: Sequence[Pool], *, model: Any = None, modes: Iterable[Mode] = tuple(Mode),
                   tradeoff: float | None = None, default_work: float | None = None) -> dict[Mode, RunPlan]:
    """The plan of ``workflow`` on ``pools`` per mode (the run's own budget and deadline apply)."""
    ctx = _context(workflow, model, tradeoff, default_work)
    planned, fleet = pools_fleet(pools)
    spec = workflow.compile().run_spec("plan")
    return {Mode(m): plan_with_model(spec, planned, ctx["model"], mode=Mode(m), tradeoff=ctx["tradeoff"],
                                     default_work=ctx["default_work"], fleet=fleet, basis=ctx["basis"])
            for m in modes}


def held_front(spec: RunSpec, pools: Sequence[Pool], *, model: Any = None, tradeoff: float | None = None,
               default_work: float | None = None, points: int = FRONT_POINTS) -> list[tuple[RunPlan, float]]:
    """The held-bill front of a run: its cheapest plans within deadlines from the fastest plan's
    makespan to the cheapest plan's, each with the lower bound on the bill within that makespan
    (:func:`~daskcollab.placement.held_lower_bound`); dominated points dropped."""
    ctx = _context(None, model, tradeoff, default_work)
    planned, fleet = pools_fleet(pools)
    estimates = {s.name: ctx["model"].stage_estimates(spec.workflow, s.name) for s in spec.stages}
    common = dict(default_work=ctx["default_work"], fleet=fleet, basis=ctx["basis"], tradeoff=ctx["tradeoff"])
    base = dataclasses.replace(spec, deadline=None, budget=None)
    fastest = plan_with_model(base, planned, ctx["model"], mode=Mode.FASTEST, **common)
    cheapest = plan_with_model(base, planned, ctx["model"], mode=Mode.CHEAPEST, **common)
    lo, hi = fastest.makespan, max(cheapest.makespan, fastest.makespan)
    targets = [lo + (hi - lo) * k / max(points - 1, 1) for k in range(points)]
    plans = [plan_with_model(dataclasses.replace(base, deadline=t), planned, ctx["model"], mode=Mode.CHEAPEST,
                             **common) for t in targets]
    front: list[tuple[RunPlan, float]] = []
    for p in sorted([fastest, *plans, cheapest], key=lambda p: (p.makespan, p.held_cost)):
        if front and p.held_cost >= front[-1][0].held_cost - 1e-15:
            continue  # slower and no cheaper: dominated
        bound = held_lower_bound(spec, planned, p.makespan, estimates=estimates, fleet=fleet,
                                 default_work=ctx["default_work"])
        front.append((p, bound))
    return front


def workflow_plan_report(workflow: Workflow, pools: Sequence[Pool], *, model: Any = None,
                         mode: Mode | str | None = None) -> str:
    """A plain-text report: each mode's predicted makespan and cost, and the stages of one mode's plan."""
    import dask.config

    plans = workflow_plans(workflow, pools, model=model)
    shown = Mode(mode or dask.config.get("collab.placement.mode", "balanced"))
    planned, fleet = pools_fleet(pools)
    spec = workflow.compile().run_spec("plan")
    model = _context(workflow, model, None, None)["model"]
    estimates = {s.name: model.stage_estimates(spec.workflow, s.name) for s in spec.stages}

    def bound(p: RunPlan) -> float:
        return held_lower_bound(spec, planned, p.makespan, estimates=estimates, fleet=fleet)

    lines = [
        f"workflow {workflow.name!r}: {len(workflow.stages)} stages on pools "
        + ", ".join(f"{p.name} ({p.workers} x {p.price_per_hour:g} $/h, speed {p.speed:g}"
                    + (f", {dict(p.resources)}" if p.resources else "")
                    + (f", elastic {p.min_workers}-{p.max_workers}" if p.name in fleet.elastic else "")
                    + (f", start-up {p.startup:g} s" if p.startup else "") + (", spot" if p.spot else "") + ")"
                    for p in pools),
        "held_$: the bill (worker-time held from request to release); bound_$: no plan of that makespan bills less",
        f"{'mode':<10} {'makespan_s':>10} {'busy_$':>10} {'held_$':>10} {'bound_$':>10}  {'budget':<6}  {'deadline':<8}",
    ]
    for m, p in plans.items():
        ok_b = "-" if p.meets_budget is None else ("ok" if p.meets_budget else "MISS")
        ok_d = "-" if p.meets_deadline is None else ("ok" if p.meets_deadline else "MISS")
        lines.append(f"{m.value:<10} {p.makespan:>10.2f} {_money(p.cost)} {_money(p.held_cost)} {_money(bound(p))}"
                     f"  {ok_b:<6}  {ok_d:<8}")
    lines += ["", "held-bill front (the cheapest plan within each makespan):",
              f"  {'makespan_s':>10} {'held_$':>10} {'bound_$':>10} {'held/bound':>10}"]
    for p, b in held_front(spec, pools, model=model):
        ratio = p.held_cost / b if b and math.isfinite(b) else float("nan")
        lines.append(f"  {p.makespan:>10.2f} {_money(p.held_cost)} {_money(b)} {ratio:>10.2f}")
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


def _money(value: float) -> str:
    """Money with significant digits, right-aligned in 10 columns ($0.000123, not $0.0000)."""
    return f"{value:>10.3g}" if 0 < abs(value) < 0.001 else f"{value:>10.4f}"
