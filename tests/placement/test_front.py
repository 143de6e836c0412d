"""The cost/makespan front, picking from it, and its table (pure policy, no cluster)."""

from __future__ import annotations

import math

import pytest
from _shapes import BENCH_POOLS, bwa_like, check_valid, epigenomics_like, random_dag

from daskcollab._errors import WorkflowError
from daskcollab.placement import (
    Mode,
    Objective,
    Pool,
    TaskSpec,
    choose,
    cost_lower_bound,
    front_bounds,
    front_table,
    lower_bounds,
    pareto_front,
    plan,
)

POOLS = [Pool("spot", 0.36, 1.0, 2), Pool("fast", 1.44, 2.0, 1)]
UNITS = [TaskSpec(f"t{i}", 1.0) for i in range(40)]


def test_front_of_interchangeable_tasks_is_the_optimum_line():
    # within D spot does 2D of the 40 units and fast the rest: the least cost is 0.008 - 0.0002 D
    front = pareto_front(UNITS, POOLS)
    assert 5 <= len(front) <= 12
    assert front[0].makespan == pytest.approx(10.0) and front[-1].makespan == pytest.approx(20.0)
    for p in front:
        check_valid(UNITS, POOLS, p)
        assert p.cost == pytest.approx(0.008 - 0.0002 * p.makespan)
        assert p.cost == pytest.approx(cost_lower_bound(UNITS, POOLS, p.makespan))
        assert p.objective == Objective(Mode.CHEAPEST, deadline=p.makespan) and p.meets_deadline is True


@pytest.mark.parametrize("shape", ["random", "epigenomics", "bwa"])
def test_front_is_non_dominated_and_spans_fastest_to_cheapest(shape):
    tasks = {"random": lambda: random_dag(150, 4), "epigenomics": lambda: epigenomics_like(4, 12, 1),
             "bwa": lambda: bwa_like(200, 1)}[shape]()
    front = pareto_front(tasks, BENCH_POOLS, max_points=8)
    assert 2 <= len(front) <= 8
    makespans = [p.makespan for p in front]
    costs = [p.cost for p in front]
    assert makespans == sorted(makespans) and costs == sorted(costs, reverse=True)
    assert all(b.makespan > a.makespan and b.cost < a.cost for a, b in zip(front, front[1:]))
    for p in front:
        check_valid(tasks, BENCH_POOLS, p)
    fastest = plan(tasks, BENCH_POOLS, Objective(Mode.FASTEST))
    assert front[0].makespan <= fastest.makespan * (1 + 1e-9)
    assert front[-1].cost == pytest.approx(lower_bounds(tasks, BENCH_POOLS).cost)


def test_choose_by_deadline_budget_and_weight():
    front = pareto_front(UNITS, POOLS)
    by_deadline = choose(front, Objective(Mode.CHEAPEST, deadline=15.5))
    assert by_deadline.makespan <= 15.5 and by_deadline.meets_deadline is True
    assert by_deadline.cost == min(p.cost for p in front if p.makespan <= 15.5)
    assert by_deadline.objective == Objective(Mode.CHEAPEST, deadline=15.5)
    by_budget = choose(front, Objective(Mode.BALANCED, budget=0.0051))
    assert by_budget.cost <= 0.0051 and by_budget.meets_budget is True
    assert by_budget.makespan == min(p.makespan for p in front if p.cost <= 0.0051)
    both = choose(front, Objective(Mode.BALANCED, deadline=18.0, budget=0.0055))
    assert both.makespan <= 18.0 and both.cost <= 0.0055
    assert both.makespan == min(p.makespan for p in front if p.cost <= 0.0055)  # balanced: the fastest of them
    cheap_both = choose(front, Objective(Mode.CHEAPEST, deadline=18.0, budget=0.0055))
    assert cheap_both.cost == min(p.cost for p in front if p.makespan <= 18.0)
    assert choose(front, Objective(Mode.FASTEST)).makespan == front[0].makespan
    assert choose(front, Objective(Mode.CHEAPEST)).cost == front[-1].cost
    assert choose(front, Objective(Mode.BALANCED, weight=0.0)).makespan == front[0].makespan
    assert choose(front, Objective(Mode.BALANCED, weight=1.0)).cost == front[-1].cost
    mid = choose(front, Objective(Mode.BALANCED, weight=0.5))
    assert front[0].makespan <= mid.makespan <= front[-1].makespan
    # without a weight: the cheapest within (1 + tradeoff) x the fastest makespan (10 s)
    assert choose(front, Objective(Mode.BALANCED)).makespan == max(p.makespan for p in front if p.makespan <= 15.0)
    assert choose(front, Objective(Mode.BALANCED, tradeoff=0.2)).makespan <= 12.0


def test_choose_when_nothing_fits():
    front = pareto_front(UNITS, POOLS)
    late = choose(front, Objective(Mode.CHEAPEST, deadline=5.0))
    assert late.meets_deadline is False and late.makespan == front[0].makespan  # the fastest there is
    poor = choose(front, Objective(Mode.BALANCED, budget=1e-6))
    assert poor.meets_budget is False and poor.cost == front[-1].cost  # the cheapest there is


def test_cheapest_from_the_front_never_rises_as_the_deadline_loosens():
    tasks = bwa_like(294, 0)
    front = pareto_front(tasks, BENCH_POOLS)
    deadlines = [front[0].makespan * (1 + k / 20) for k in range(61)]
    costs = [choose(front, Objective(Mode.CHEAPEST, deadline=d)).cost for d in deadlines]
    assert all(b <= a for a, b in zip(costs, costs[1:]))
    assert costs[0] > costs[-1]


def test_errors_name_the_field_and_the_fix():
    with pytest.raises(WorkflowError, match=r"field 'max_points'.*>= 2.*Fix"):
        pareto_front(UNITS, POOLS, max_points=1)
    with pytest.raises(WorkflowError, match=r"field 'front'.*none.*Fix: pass the list pareto_front"):
        choose([], Objective(Mode.FASTEST))
    front = pareto_front(UNITS, POOLS, max_points=4)
    with pytest.raises(WorkflowError, match=r"field 'weight'.*\[0, 1\].*1.5"):
        choose(front, Objective(Mode.BALANCED, weight=1.5))
    with pytest.raises(WorkflowError, match=r"field 'cost_bounds'.*one bound per plan \(4\), got 1"):
        front_table(front, lower_bounds(UNITS, POOLS), [0.1])


def test_front_table_prints_each_plan_beside_the_bounds():
    front = pareto_front(UNITS, POOLS, max_points=4)
    lb = lower_bounds(UNITS, POOLS)
    lp = front_bounds(UNITS, POOLS, front)
    assert lp == pytest.approx([p.cost for p in front])  # this front is optimal
    text = front_table(front, lb, lp)
    lines = text.splitlines()
    assert lines[0].split()[:7] == ["#", "makespan_s", "x_lb", "cost_$", "x_lb", "lp_bound_$", "x_lp"]
    assert len(lines) == len(front) + 2
    first = lines[1].split()
    assert first[:3] == ["1", "10.000", "1.000"] and first[3] == "0.006000" and first[4] == "1.500"
    assert first[6] == "1.000" and "fast 10.0" in lines[1] and "spot 20.0" in lines[1]
    assert lines[-1].startswith("lower bounds: makespan 10.000 s") and "cost $0.004000" in lines[-1]
    plain = front_table(front, lb)
    assert "lp_bound_$" not in plain and len(plain.splitlines()) == len(front) + 2
    # a makespan no placement can reach prints as such
    shown = front_table(front[:1], lb, [math.inf])
    assert "infeasible" in shown.splitlines()[1]
