"""Hand-checked tests of the pure placement policy (no cluster)."""

from __future__ import annotations

import pytest
from _shapes import check_valid, random_dag
from testdata import benchmark_module

from daskcollab._errors import UnplaceableError, WorkflowError
from daskcollab.placement._heft import _EFT, _FIXED, _Graph, _schedule
from daskcollab.placement._planning import (
    DEFAULT_TRADEOFF,
    Mode,
    Objective,
    Pool,
    TaskSpec,
    eligible_pools,
    lower_bounds,
    plan,
    unplaceable,
)
from daskcollab.placement._search import _reclaim

# spot: $0.0001 per worker-second, speed 1, 2 workers; fast: $0.0004 per worker-second, speed 2, 1 worker
SPOT = Pool("spot", 0.36, 1.0, 2)
FAST = Pool("fast", 1.44, 2.0, 1)
GPU = Pool("gpu", 3.60, 4.0, 1, {"GPU": 1})
POOLS = [SPOT, FAST]


def chain() -> list[TaskSpec]:
    return [TaskSpec("a", 10.0), TaskSpec("b", 10.0, ("a",)), TaskSpec("c", 10.0, ("b",))]


def fork_join() -> list[TaskSpec]:
    mids = [TaskSpec(f"m{i}", 8.0, ("r",)) for i in range(4)]
    return [TaskSpec("r", 2.0), *mids, TaskSpec("j", 2.0, tuple(m.key for m in mids))]


def test_chain_hand_checked():
    tasks = chain()
    fast = plan(tasks, POOLS, Objective(Mode.FASTEST))
    assert {a.pool for a in fast.assignments.values()} == {"fast"}
    assert fast.makespan == pytest.approx(15.0)
    assert fast.cost == pytest.approx(15.0 * 0.0004)
    assert fast.busy_seconds_by_pool == {"fast": pytest.approx(15.0)}
    cheap = plan(tasks, POOLS, Objective(Mode.CHEAPEST))
    assert {a.pool for a in cheap.assignments.values()} == {"spot"}
    assert cheap.makespan == pytest.approx(30.0)
    assert cheap.cost == pytest.approx(30.0 * 0.0001)
    lb = lower_bounds(tasks, POOLS)
    assert (lb.critical_path, lb.work_over_speed, lb.cost) == pytest.approx((15.0, 7.5, 0.003))
    assert lb.makespan == pytest.approx(15.0)


def test_fork_join_hand_checked():
    tasks = fork_join()
    fast = plan(tasks, POOLS, Objective(Mode.FASTEST))
    check_valid(tasks, POOLS, fast)
    # r fast [0,1]; m0 fast [1,5]; m1, m2 spot [1,9] (tie with fast at 9: cheaper); m3 fast [5,9]; j fast [9,10]
    assert [fast.pool_of(k) for k in ("r", "m0", "m1", "m2", "m3", "j")] == ["fast", "fast", "spot", "spot", "fast", "fast"]
    assert fast.makespan == pytest.approx(10.0)
    assert fast.busy_seconds_by_pool == {"fast": pytest.approx(10.0), "spot": pytest.approx(16.0)}
    assert fast.cost == pytest.approx(10.0 * 0.0004 + 16.0 * 0.0001)
    cheap = plan(tasks, POOLS, Objective(Mode.CHEAPEST))
    check_valid(tasks, POOLS, cheap)
    assert cheap.makespan == pytest.approx(20.0)  # r [0,2], m0+m1 [2,10], m2+m3 [10,18], j [18,20]
    assert cheap.cost == pytest.approx(36.0 * 0.0001)
    lb = lower_bounds(tasks, POOLS)
    assert (lb.critical_path, lb.work_over_speed, lb.cost) == pytest.approx((6.0, 9.0, 0.0036))


def test_diamond_and_priority():
    diamond = [TaskSpec("a", 4.0), TaskSpec("b", 2.0, ("a",)), TaskSpec("c", 6.0, ("a",)), TaskSpec("d", 4.0, ("b", "c"))]
    one = [Pool("solo", 3.6, 1.0, 1)]
    p = plan(diamond, one, Objective(Mode.FASTEST))
    # one worker: a, then c (higher upward rank), then b, then d
    assert [p.assignments[k].start for k in "acbd"] == pytest.approx([0.0, 4.0, 10.0, 12.0])
    assert p.makespan == pytest.approx(16.0) and p.cost == pytest.approx(0.016)
    # an annotated priority beats the rank among ready tasks
    q = plan([TaskSpec("long", 10.0), TaskSpec("urgent", 1.0, priority=5)], one, Objective(Mode.FASTEST))
    assert q.assignments["urgent"].start == 0.0 and q.assignments["long"].start == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_bounds_and_mode_order(seed):
    tasks = random_dag(60, seed)
    pools = [SPOT, FAST, Pool("mid", 0.72, 1.5, 2)]
    lb = lower_bounds(tasks, pools)
    plans = {m: plan(tasks, pools, Objective(m)) for m in Mode}
    for p in plans.values():
        check_valid(tasks, pools, p)
        assert p.makespan >= lb.makespan - 1e-9
        assert p.cost >= lb.cost - 1e-12
    assert plans[Mode.CHEAPEST].cost == pytest.approx(lb.cost)
    assert plans[Mode.FASTEST].makespan <= plans[Mode.CHEAPEST].makespan
    assert plans[Mode.CHEAPEST].cost <= plans[Mode.FASTEST].cost
    assert plans[Mode.BALANCED].makespan <= plans[Mode.FASTEST].makespan * (1 + DEFAULT_TRADEOFF) + 1e-9
    assert plans[Mode.BALANCED].cost <= plans[Mode.FASTEST].cost + 1e-12


def test_cheapest_meets_a_feasible_deadline():
    tasks = fork_join()
    p = plan(tasks, POOLS, Objective(Mode.CHEAPEST, deadline=16.0))  # all-spot takes 20, fastest 14
    check_valid(tasks, POOLS, p)
    assert p.meets_deadline is True and p.makespan <= 16.0
    assert lower_bounds(tasks, POOLS).cost <= p.cost <= plan(tasks, POOLS, Objective(Mode.FASTEST)).cost
    loose = plan(tasks, POOLS, Objective(Mode.CHEAPEST, deadline=25.0))
    assert loose.meets_deadline is True and loose.cost == pytest.approx(0.0036)
    impossible = plan(tasks, POOLS, Objective(Mode.CHEAPEST, deadline=1.0))
    assert impossible.meets_deadline is False


def test_cheapest_deadline_on_random_dags():
    for seed in range(3):
        tasks = random_dag(80, seed)
        lb = lower_bounds(tasks, POOLS)
        p = plan(tasks, POOLS, Objective(Mode.CHEAPEST, deadline=3 * lb.makespan))
        check_valid(tasks, POOLS, p)
        assert p.meets_deadline is True


def independent(n: int, work: float = 1.0) -> list[TaskSpec]:
    return [TaskSpec(f"t{i}", work) for i in range(n)]


@pytest.mark.parametrize("deadline, cost", [(16.0, 0.0048), (12.0, 0.0056), (20.0, 0.0040)])
def test_cheapest_under_a_deadline_reaches_the_hand_computed_optimum(deadline, cost):
    # 40 unit tasks; spot: 2 workers, $0.0001 per unit of work; fast: 1 worker at speed 2, $0.0002
    # per unit. Within a deadline D spot does 2D units and fast the other 40 - 2D, so the least cost
    # is 2D * 0.0001 + (40 - 2D) * 0.0002 (all-spot takes 20 s, fastest 10 s).
    tasks = independent(40)
    p = plan(tasks, POOLS, Objective(Mode.CHEAPEST, deadline=deadline))
    check_valid(tasks, POOLS, p)
    assert p.meets_deadline is True and p.makespan <= deadline + 1e-9
    assert p.cost == pytest.approx(cost)


def test_slack_reclamation_moves_work_back_to_the_cheap_pool():
    # all 40 unit tasks on the fast pool take 20 s; all-spot also fits in 20 s, so with a 20 s
    # limit reclamation moves every task back to spot (the cost lower bound)
    tasks = independent(40)
    g = _Graph(tasks, POOLS)
    all_fast = _schedule(g, _FIXED, [1] * 40)
    assert all_fast.makespan == pytest.approx(20.0) and all_fast.cost == pytest.approx(0.008)
    back = _reclaim(g, all_fast, 20.0, rounds=3)
    assert back.makespan <= 20.0 + 1e-9 and back.cost == pytest.approx(0.004)
    # from the fastest plan (10 s) with a 16 s limit: spot takes 2 x 16 units, fast the other 8
    fastest = _schedule(g, _EFT)
    assert fastest.makespan == pytest.approx(10.0)
    assert _reclaim(g, fastest, 16.0, rounds=3).cost == pytest.approx(0.0048, rel=0.05)
    # a plan that already misses the limit is returned as it is
    assert _reclaim(g, all_fast, 10.0, rounds=3) is all_fast


def test_cheapest_under_a_deadline_on_a_montage_workflow():
    # a real workflow shape (WfCommons Montage, 291 tasks); all-spot misses the deadline by a hair.
    # The critical-path climb alone costs 1.057x the lower bound here; with reclamation <= 1.01x.
    emulate = benchmark_module("_emulate")
    pytest.importorskip("wfcommons")
    pools = [Pool("spot", 0.10, 1.0, 4), Pool("ondemand", 0.40, 2.0, 2), Pool("gpu", 2.50, 4.0, 1, {"GPU": 1})]
    raw = emulate.wfcommons_dag("montage", 300, seed=1)
    lb0 = lower_bounds(emulate.task_specs(raw), pools)
    tasks = emulate.task_specs(emulate.scale_work(raw, sum(t.work for t in raw) * 3.0 / lb0.makespan))
    lb = lower_bounds(tasks, pools)
    p = plan(tasks, pools, Objective(Mode.CHEAPEST, deadline=3.0 * lb.makespan))
    check_valid(tasks, pools, p)
    assert p.meets_deadline is True
    assert p.cost <= 1.01 * lb.cost
    assert plan(tasks, pools, Objective(Mode.CHEAPEST)).makespan > 3.0 * lb.makespan  # the deadline binds


def test_balanced_tradeoff_trades_makespan_for_cost():
    tasks = independent(40)
    fast = plan(tasks, POOLS, Objective(Mode.FASTEST))
    assert fast.makespan == pytest.approx(10.0)
    plans = {t: plan(tasks, POOLS, Objective(Mode.BALANCED, tradeoff=t)) for t in (0.0, 0.25, DEFAULT_TRADEOFF, 0.6, 1.0, 3.0)}
    for t, p in plans.items():
        check_valid(tasks, POOLS, p)
        assert p.makespan <= fast.makespan * (1 + t) + 1e-9
    costs = [p.cost for p in plans.values()]
    assert costs == sorted(costs, reverse=True) and costs[0] > costs[-1]
    assert plans[0.0].makespan == pytest.approx(fast.makespan)
    assert plans[0.6].cost == pytest.approx(0.0048)  # the optimum at 16 s (see the test above)
    assert plans[3.0].cost == pytest.approx(lower_bounds(tasks, POOLS).cost)  # all-spot fits in 40 s
    assert plan(tasks, POOLS, Objective(Mode.BALANCED)).cost == pytest.approx(plans[DEFAULT_TRADEOFF].cost)


def test_balanced_is_cheaper_than_fastest_on_a_wide_dag():
    # a long chain (the critical path) beside many short independent tasks
    tasks = [TaskSpec(f"c{i}", 10.0, (f"c{i - 1}",) if i else ()) for i in range(6)]
    tasks += [TaskSpec(f"w{i}", 3.0) for i in range(30)]
    pools = [Pool("spot", 0.36, 1.0, 6), Pool("fast", 1.44, 2.0, 4)]
    fast = plan(tasks, pools, Objective(Mode.FASTEST))
    bal = plan(tasks, pools, Objective(Mode.BALANCED, tradeoff=0.03))  # (nearly) no slower than fastest
    check_valid(tasks, pools, bal)
    assert bal.makespan <= 1.03 * fast.makespan
    assert bal.cost < fast.cost
    assert all(bal.pool_of(f"c{i}") == "fast" for i in range(6))


def test_balanced_budget_and_deadline_flags():
    tasks = fork_join()
    fast = plan(tasks, POOLS, Objective(Mode.FASTEST))
    budget = 0.5 * (fast.cost + 0.0036)
    p = plan(tasks, POOLS, Objective(Mode.BALANCED, budget=budget))
    assert p.meets_budget is True and p.cost <= budget and p.meets_deadline is None
    assert plan(tasks, POOLS, Objective(Mode.BALANCED, budget=1e-9)).meets_budget is False
    d = plan(tasks, POOLS, Objective(Mode.BALANCED, deadline=18.0))
    assert d.meets_deadline is True and d.cost < fast.cost
    t = plan(tasks, POOLS, Objective(Mode.BALANCED, tradeoff=1.0))
    assert t.makespan <= 2 * fast.makespan and t.cost <= fast.cost


def test_gpu_task_only_on_gpu_pool_and_pins():
    tasks = [TaskSpec("prep", 4.0), TaskSpec("train", 8.0, ("prep",), {"GPU": 1}), TaskSpec("eval", 1.0, ("train",), pool="spot")]
    for mode in Mode:
        p = plan(tasks, [SPOT, FAST, GPU], Objective(mode))
        assert p.pool_of("train") == "gpu" and p.pool_of("eval") == "spot"
    assert [q.name for q in eligible_pools(tasks[1], [SPOT, FAST, GPU])] == ["gpu"]
    assert lower_bounds(tasks, [SPOT, FAST, GPU]).critical_path == pytest.approx(4 / 4 + 8 / 4 + 1)


def test_unplaceable_names_stage_resource_and_pools():
    bad = TaskSpec("t", 1.0, resources={"TPU": 1}, stage="train")
    msgs = unplaceable([bad, TaskSpec("ok", 1.0)], POOLS)
    assert list(msgs) == ["t"]
    with pytest.raises(UnplaceableError, match=r"stage 'train'.*\{'TPU': 1\}.*pools available: spot .*fast "):
        plan([bad], POOLS)
    with pytest.raises(UnplaceableError, match=r"pinned to pool 'tpu-pod'"):
        plan([TaskSpec("p", 1.0, pool="tpu-pod", stage="embed")], POOLS)


def test_cycle_and_duplicates_raise_workflow_error():
    with pytest.raises(WorkflowError, match=r"cycle"):
        plan([TaskSpec("a", 1.0, ("b",)), TaskSpec("b", 1.0, ("a",))], POOLS)
    with pytest.raises(WorkflowError, match=r"twice"):
        plan([TaskSpec("a", 1.0), TaskSpec("a", 2.0)], POOLS)


def test_empty_and_outside_dependencies():
    p = plan([], POOLS)
    assert p.makespan == 0.0 and p.cost == 0.0 and not p.assignments
    q = plan([TaskSpec("x", 2.0, ("elsewhere",))], POOLS, Objective(Mode.FASTEST))
    assert q.assignments["x"].start == 0.0 and q.pool_of("x") == "fast"


def test_task_overhead_lengthens_the_schedule_but_is_not_charged():
    # a chain of 3 x 10 s on one spot worker: each task also waits 0.5 s to be dispatched
    one = [Pool("spot", 0.36, 1.0, 1)]
    p = plan(chain(), one, Objective(Mode.FASTEST), task_overhead=0.5)
    assert p.makespan == pytest.approx(31.5)
    assert [p.assignments[k].start for k in "abc"] == pytest.approx([0.5, 11.0, 21.5])
    assert p.cost == pytest.approx(plan(chain(), one, Objective(Mode.FASTEST)).cost)
    # with the overhead known, a deadline plan leaves room for it: the all-spot plan would miss
    tasks = independent(40)
    q = plan(tasks, POOLS, Objective(Mode.CHEAPEST, deadline=20.0), task_overhead=0.1)
    assert q.meets_deadline is True and q.makespan <= 20.0 + 1e-9
    assert q.cost > lower_bounds(tasks, POOLS).cost
    with pytest.raises(WorkflowError, match=r"task_overhead.*>= 0"):
        plan(tasks, POOLS, task_overhead=-1.0)


def test_cost_model_learns_the_task_overhead_and_round_trips(tmp_path):
    from daskcollab.placement import CostModel, load_cost_model, write_cost_model

    cm = CostModel()
    assert cm.task_overhead == 0.0
    for gap in (0.01, 0.03):
        cm.observe_overhead(gap)
    assert cm.task_overhead == pytest.approx(0.02)
    write_cost_model(cm, tmp_path / "cm.json")
    assert load_cost_model(tmp_path / "cm.json").task_overhead == pytest.approx(0.02)
    for _ in range(CostModel.MEMORY * 2):  # old observations fade
        cm.observe_overhead(0.5)
    assert cm.task_overhead == pytest.approx(0.5, rel=0.01)


def test_coarsen_bundles_wide_stages_and_keeps_the_plan():
    from daskcollab.placement._planning import coarsen

    # map (6,000 tasks) -> per-100 combine (60) -> one reduce, plus 200 GPU tasks beside them
    maps = [TaskSpec(("map", i), 0.01, stage="map") for i in range(6_000)]
    combine = [TaskSpec(("comb", j), 0.05, tuple(("map", i) for i in range(100 * j, 100 * j + 100)), stage="comb")
               for j in range(60)]
    gpu = [TaskSpec(("gpu", i), 0.02, resources={"GPU": 1}, stage="map") for i in range(200)]
    reduce = [TaskSpec("reduce", 0.5, tuple(t.key for t in combine) + ("outside",), stage="reduce")]
    tasks = maps + combine + gpu + reduce
    pools = [SPOT, FAST, GPU]
    bundled, bundle_of = coarsen(tasks, max_tasks=1_000)
    assert len(bundled) <= 1_100 and set(bundle_of) == {t.key for t in tasks}
    by_key = {b.key: b for b in bundled}
    assert sum(b.work for b in bundled) == pytest.approx(sum(t.work for t in tasks))
    for t in tasks:  # a bundle never mixes stages or resources
        b = by_key[bundle_of[t.key]]
        assert (b.stage, dict(b.resources)) == (t.stage, dict(t.resources))
    assert "outside" in by_key["reduce"].dependencies  # dependencies outside the submission are kept
    exact = plan(tasks, pools, Objective(Mode.BALANCED))
    coarse = plan(bundled, pools, Objective(Mode.BALANCED))  # acyclic, or plan() would raise
    assert coarse.makespan == pytest.approx(exact.makespan, rel=0.15)
    assert coarse.cost == pytest.approx(exact.cost, rel=0.15)
    assert {coarse.pool_of(bundle_of[t.key]) for t in gpu} == {"gpu"}
    assert coarsen(tasks[:500], max_tasks=1_000) == (tasks[:500], {})


def test_cost_model_learns_slippage_within_its_range(tmp_path):
    from daskcollab.placement import CostModel, load_cost_model, write_cost_model

    cm = CostModel()
    assert cm.slippage == 1.0
    cm.observe_slippage(planned=2.0, actual=3.0)
    cm.observe_slippage(planned=2.0, actual=2.0)
    assert cm.slippage == pytest.approx(1.25)
    write_cost_model(cm, tmp_path / "cm.json")
    assert load_cost_model(tmp_path / "cm.json").slippage == pytest.approx(1.25)
    fast = CostModel.from_dict({"version": 2, "slippage": [0.5, 1]})  # faster than planned: plans are not trimmed
    assert fast.slippage == 1.0
    cm.observe_slippage(planned=1.0, actual=100.0)
    assert cm.slippage == 3.0
    cm.observe_slippage(planned=0.0, actual=1.0)  # nothing to learn from a zero plan
    assert cm.to_dict()["slippage"][1] == 3
