"""The cost/makespan Pareto front of placements, and picking a plan from it by the user's intent.

Pure (no Dask). :func:`pareto_front` walks the planner's ladder of time limits from the fastest
plan's makespan to the all-cheapest plan's (see :mod:`._search`): at each limit every candidate
pass is kept, and the best plan within the limit is refined by slack reclamation and offered to
the next limit (MOHEFT's idea of keeping many trade-offs, with the planner's own deadline search
as the generator). The non-dominated plans, sorted by makespan, are thinned to ``max_points``:
the best plan for each of the ``max_points - 2`` limits first, then others spread along the front. :func:`choose` picks one by a deadline, a budget or a trade-off weight;
:func:`front_table` prints the front beside the lower bounds.

>>> from daskcollab.placement import Mode, Objective, Pool, TaskSpec
>>> pools = [Pool("spot", 0.36, 1.0, 2), Pool("fast", 1.44, 2.0, 1)]
>>> front = pareto_front([TaskSpec(f"t{i}", 1.0) for i in range(40)], pools, max_points=5)
>>> [round(p.makespan, 1) for p in front]
[10.0, 11.0, 14.0, 16.0, 20.0]
>>> best = choose(front, Objective(Mode.CHEAPEST, deadline=15.0))
>>> best.makespan, round(best.cost, 6)
(14.0, 0.0052)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from daskcollab._errors import WorkflowError, stage_message
from daskcollab.placement._heft import _gc_paused, _Graph, _Sched
from daskcollab.placement._search import _by_makespan, _polish, _Search, _to_plan
from daskcollab.placement._spec import DEFAULT_TRADEOFF, LowerBounds, Mode, Objective, Plan, Pool, TaskSpec

#: Default number of plans :func:`pareto_front` returns at most.
FRONT_POINTS = 12


def pareto_front(
    tasks: Sequence[TaskSpec], pools: Sequence[Pool], *, task_overhead: float = 0.0, max_points: int = FRONT_POINTS
) -> list[Plan]:
    """Non-dominated placements (no other is both faster and cheaper), sorted by makespan.

    The first is the fastest plan found, the last the all-cheapest one (the cost lower bound of
    :func:`~daskcollab.placement.lower_bounds`); in between, at most ``max_points`` in all,
    spread along the front. Each plan's objective is ``cheapest`` within its own makespan.
    Raises like :func:`~daskcollab.placement.plan`; ``max_points`` below 2 is a
    :class:`~daskcollab._errors.WorkflowError`.
    """
    if not isinstance(max_points, int) or isinstance(max_points, bool) or max_points < 2:
        raise WorkflowError(stage_message("placement front", "max_points", f"expected an integer >= 2, got {max_points!r}",
                                          "ask for 2 plans or more"))
    with _gc_paused():
        g = _Graph(list(tasks), list(pools), task_overhead)
        search = _Search(g)
        seen: list[_Sched] = []
        best = [search.fast, search.cheap]
        if search.cheap.makespan > search.fast.makespan * (1 + 1e-9):
            best += _refined_walk(search, max_points - 2, seen)
        keep = {id(s) for s in best}
        polished = {id(s): _polish(g, s) for s in best + seen}
        front = _non_dominated(list(polished.values()))
        first = {id(polished[k]) for k in keep}
        points = _thin(front, max_points, {i for i, s in enumerate(front) if id(s) in first})
        return [_to_plan(g, s, Objective(Mode.CHEAPEST, deadline=s.makespan)) for s in points]


def _refined_walk(search: _Search, count: int, seen: list[_Sched]) -> list[_Sched]:
    """The best plan for ``count`` limits between the fastest and the all-cheapest makespans:
    half on the geometric ladder, the rest one at a time in the middle of the widest step of the
    front so far (normalised makespan plus cost), each offered the best plan of the limit below."""
    fast, cheap = search.fast, search.cheap
    coarse = search.ladder(max(count // 2, 1))
    found = dict(zip(coarse, search.walk(coarse, seen)))  # limit -> best plan within it
    dm = (cheap.makespan - fast.makespan) or 1.0
    dc = (fast.cost - cheap.cost) or 1.0
    while len(found) < count:
        points = [(fast.makespan, fast)] + sorted(found.items(), key=lambda kv: kv[0]) + [(cheap.makespan, cheap)]
        widest = max(range(len(points) - 1), key=lambda k: (points[k + 1][0] - points[k][0]) / dm
                     + (points[k][1].cost - points[k + 1][1].cost) / dc)
        (lo, below), (hi, _above) = points[widest], points[widest + 1]
        limit = math.sqrt(lo * hi)
        if limit in found or hi <= lo * (1 + 1e-6):
            break
        found[limit] = search.step(limit, below if below.makespan <= limit * (1 + 1e-9) else None, seen)
    return list(found.values())


def _non_dominated(plans: Sequence[_Sched]) -> list[_Sched]:
    """The plans no other beats on both makespan and cost, by makespan (ties: the cheaper)."""
    out: list[_Sched] = []
    for s in sorted(plans, key=_by_makespan):
        if not out or s.cost < out[-1].cost * (1 - 1e-9) - 1e-15:
            if out and s.makespan <= out[-1].makespan * (1 + 1e-9):
                out[-1] = s  # as fast and cheaper
            else:
                out.append(s)
    return out


def _thin(front: list[_Sched], k: int, first: set[int]) -> list[_Sched]:
    """``k`` points of ``front``: both ends, then the indices in ``first`` (the best plan found for
    each limit), then others, each time the one nearest to ``k`` even steps along the front
    (normalised makespan and cost) among those left."""
    if len(front) <= k:
        return front
    m0, m1 = front[0].makespan, front[-1].makespan
    c0, c1 = front[-1].cost, front[0].cost
    dm, dc = (m1 - m0) or 1.0, (c1 - c0) or 1.0
    arc = [0.0]
    for a, b in zip(front, front[1:]):
        arc.append(arc[-1] + math.hypot((b.makespan - a.makespan) / dm, (b.cost - a.cost) / dc))
    picked = {0, len(front) - 1}
    targets = [arc[-1] * m / (k - 1) for m in range(1, k - 1)]
    for pool in (sorted(first - picked), [i for i in range(len(front)) if i not in first]):
        for target in sorted(targets, key=lambda t: min(abs(arc[i] - t) for i in pool) if pool else 0.0):
            free = [i for i in pool if i not in picked]
            if not free or len(picked) >= k:
                break
            picked.add(min(free, key=lambda i: abs(arc[i] - target)))
            targets.remove(target)
    return [front[i] for i in sorted(picked)]


def choose(front: Sequence[Plan], objective: Objective) -> Plan:
    """The plan of ``front`` (from :func:`pareto_front`) that fits the user's intent.

    * a ``deadline``: the cheapest plan within it (with a ``budget`` too: among those that also
      fit it, the cheapest for ``cheapest``, else the fastest);
    * a ``budget``: the fastest plan that fits it;
    * otherwise by ``mode``: ``fastest`` the first plan, ``cheapest`` the last, ``balanced`` the
      plan minimising ``(1 - weight) * makespan / fastest + weight * cost / cheapest`` when
      ``objective.weight`` is set, else the cheapest within ``(1 + tradeoff)`` times the fastest
      makespan (``tradeoff`` default 0.5).

    When nothing meets the deadline (budget) the fastest (cheapest) plan is returned and its
    ``meets_deadline`` (``meets_budget``) is ``False``. The plan comes back with ``objective``.
    """
    plans = sorted(front, key=lambda p: (p.makespan, p.cost))
    if not plans:
        raise WorkflowError(stage_message("placement front", "front", "expected at least one plan, got none",
                                          "pass the list pareto_front() returned"))
    mode = Mode(objective.mode)
    deadline, budget, w = objective.deadline, objective.budget, objective.weight
    if w is not None and not (isinstance(w, (int, float)) and not isinstance(w, bool) and 0.0 <= float(w) <= 1.0):
        raise WorkflowError(stage_message("placement", "weight", f"expected a number in [0, 1], got {w!r}",
                                          "pass 0 (fastest) to 1 (cheapest)"))
    fits_d = [p for p in plans if deadline is None or p.makespan <= float(deadline) * (1 + 1e-9)]
    fits_b = [p for p in plans if budget is None or p.cost <= float(budget) * (1 + 1e-9)]
    both = [p for p in fits_d if p in fits_b]
    by_cost = lambda p: (p.cost, p.makespan)  # noqa: E731
    by_time = lambda p: (p.makespan, p.cost)  # noqa: E731
    if deadline is not None and budget is not None:
        if both:
            pick = min(both, key=by_cost if mode is Mode.CHEAPEST else by_time)
        else:
            pick = min(fits_d, key=by_cost) if fits_d else plans[0]
    elif deadline is not None:
        pick = min(fits_d, key=by_cost) if fits_d else plans[0]
    elif budget is not None:
        pick = min(fits_b, key=by_time) if fits_b else min(plans, key=by_cost)
    elif mode is Mode.FASTEST:
        pick = plans[0]
    elif mode is Mode.CHEAPEST:
        pick = min(plans, key=by_cost)
    elif w is not None:
        m0 = plans[0].makespan or 1.0
        c0 = min(p.cost for p in plans) or 1.0
        pick = min(plans, key=lambda p: ((1.0 - w) * p.makespan / m0 + w * p.cost / c0, p.makespan))
    else:
        eps = DEFAULT_TRADEOFF if objective.tradeoff is None else max(float(objective.tradeoff), 0.0)
        limit = plans[0].makespan * (1.0 + eps) * (1 + 1e-9)
        pick = min((p for p in plans if p.makespan <= limit), key=by_cost)
    return dataclasses.replace(
        pick,
        objective=objective,
        meets_deadline=None if deadline is None else pick.makespan <= float(deadline) * (1 + 1e-9),
        meets_budget=None if budget is None else pick.cost <= float(budget) * (1 + 1e-9),
    )


def front_bounds(
    tasks: Sequence[TaskSpec], pools: Sequence[Pool], front: Sequence[Plan], *, task_overhead: float = 0.0
) -> list[float]:
    """The LP lower bound on the cost within each front plan's makespan (:func:`cost_lower_bound`)."""
    from daskcollab.placement._bounds import _relax

    g = _Graph(list(tasks), list(pools), task_overhead)
    return [_relax(g, p.makespan)[0] for p in front]


def front_table(front: Sequence[Plan], bounds: LowerBounds, cost_bounds: Sequence[float] | None = None) -> str:
    """The front as plain text, one plan per line, beside the lower bounds.

    ``bounds`` (from :func:`~daskcollab.placement.lower_bounds`) gives the makespan and cost
    lower bounds each plan is compared with; ``cost_bounds`` (from :func:`front_bounds`), when
    given, the LP bound on the cost within each plan's makespan.
    """
    if cost_bounds is not None and len(cost_bounds) != len(front):
        raise WorkflowError(stage_message("placement front", "cost_bounds",
                                          f"expected one bound per plan ({len(front)}), got {len(cost_bounds)}",
                                          "pass front_bounds(tasks, pools, front)"))
    head = f"{'#':>3} {'makespan_s':>11} {'x_lb':>6} {'cost_$':>12} {'x_lb':>6}"
    if cost_bounds is not None:
        head += f" {'lp_bound_$':>12} {'x_lp':>6}"
    lines = [head + "  pools (busy s)"]
    lb_m, lb_c = bounds.makespan, bounds.cost
    for k, p in enumerate(front, 1):
        line = f"{k:>3} {p.makespan:>11.3f} {_ratio(p.makespan, lb_m):>6} {p.cost:>12.6f} {_ratio(p.cost, lb_c):>6}"
        if cost_bounds is not None:
            b = cost_bounds[k - 1]
            line += f" {b:>12.6f} {_ratio(p.cost, b):>6}" if math.isfinite(b) else f" {'infeasible':>12} {'-':>6}"
        busy = ", ".join(f"{name} {s:.1f}" for name, s in sorted(p.busy_seconds_by_pool.items()))
        lines.append(f"{line}  {busy}")
    lines.append(
        f"lower bounds: makespan {lb_m:.3f} s (critical path {bounds.critical_path:.3f} s, work / speed "
        f"{bounds.work_over_speed:.3f} s); cost ${lb_c:.6f} (all work on its cheapest pool)"
        + ("; lp_bound_$: least cost any placement can reach within that makespan" if cost_bounds is not None else "")
    )
    return "\n".join(lines)


def _ratio(value: float, bound: float) -> str:
    return f"{value / bound:.3f}" if bound > 0 and math.isfinite(bound) else "-"


__all__ = ["FRONT_POINTS", "choose", "front_bounds", "front_table", "pareto_front"]
