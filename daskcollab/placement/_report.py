"""What each placement mode would do with a set of tasks on a set of pools (pure, plain text).

:func:`plan_report` (a table) and :func:`summarize_plans` (plain data) compare the modes of the
task-level policy; ``daskcollab plan`` prints the run-level plan (see ``compile/_plan.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from daskcollab.placement._planning import Mode, Objective, Pool, TaskSpec, lower_bounds, plan


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def plan_report(
    tasks: Sequence[TaskSpec],
    pools: Iterable[Pool],
    budget: float | None = None,
    deadline: float | None = None,
    modes: Iterable[Mode] = tuple(Mode),
) -> str:
    """A plain-text table of what each mode would do: makespan, cost, budget/deadline, per pool.

    Examples
    --------
    >>> from daskcollab.placement import Pool, TaskSpec
    >>> pools = [Pool("spot", 0.1, 1.0, 2), Pool("fast", 0.4, 2.0, 1)]
    >>> tasks = [TaskSpec(i, work=10.0) for i in range(4)]
    >>> print(plan_report(tasks, pools).splitlines()[0])  # doctest: +NORMALIZE_WHITESPACE
    mode       makespan_s   cost_$     SLR  budget  deadline  per pool (busy s / $)
    """
    pools = list(pools)
    tasks = list(tasks)
    bounds = lower_bounds(tasks, pools)
    header = f"{'mode':<10} {'makespan_s':>10} {'cost_$':>8} {'SLR':>7}  {'budget':<6}  {'deadline':<8}  per pool (busy s / $)"
    lines = [header]
    for mode in modes:
        p = plan(tasks, pools, Objective(mode=Mode(mode), budget=budget, deadline=deadline))
        slr = p.makespan / bounds.makespan if bounds.makespan > 0 else float("nan")
        per_pool = ", ".join(
            f"{name}: {p.busy_seconds_by_pool.get(name, 0.0):.1f} s / ${p.cost_by_pool.get(name, 0.0):.4f}"
            for name in sorted(p.cost_by_pool)
        )
        ok_b = "-" if p.meets_budget is None else ("ok" if p.meets_budget else "MISS")
        ok_d = "-" if p.meets_deadline is None else ("ok" if p.meets_deadline else "MISS")
        lines.append(
            f"{Mode(mode).value:<10} {p.makespan:>10.2f} {p.cost:>8.4f} {slr:>7.3f}  {ok_b:<6}  {ok_d:<8}  {per_pool}"
        )
    lines.append(
        f"lower bounds: makespan {bounds.makespan:.2f} s (critical path {bounds.critical_path:.2f} s, "
        f"work/speed {bounds.work_over_speed:.2f} s), cost ${bounds.cost:.4f}"
        + (f"; budget ${_fmt(budget, '.4f')}" if budget is not None else "")
        + (f"; deadline {_fmt(deadline, '.1f')} s" if deadline is not None else "")
    )
    return "\n".join(lines)


def summarize_plans(tasks: Sequence[TaskSpec], pools: Iterable[Pool], **objective: Any) -> dict[str, Mapping[str, Any]]:
    """Per mode: makespan, cost and per-pool cost as plain data (the machine-readable plan_report)."""
    pools = list(pools)
    out: dict[str, Mapping[str, Any]] = {}
    for mode in Mode:
        p = plan(list(tasks), pools, Objective(mode=mode, **objective))
        out[mode.value] = {
            "makespan": p.makespan,
            "cost": p.cost,
            "cost_by_pool": dict(p.cost_by_pool),
            "busy_seconds_by_pool": dict(p.busy_seconds_by_pool),
            "meets_budget": p.meets_budget,
            "meets_deadline": p.meets_deadline,
        }
    return out
