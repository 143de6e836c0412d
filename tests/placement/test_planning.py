"""Hand-checked tests of the pure placement policy (no cluster)."""

from __future__ import annotations

import random

import pytest

from daskcollab._errors import UnplaceableError, WorkflowError
from daskcollab.placement._planning import (
    Mode,
    Objective,
    Pool,
    TaskSpec,
    eligible_pools,
    lower_bounds,
    plan,
    unplaceable,
)

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


def random_dag(n: int, seed: int) -> list[TaskSpec]:
    rng = random.Random(seed)
    return [
        TaskSpec(i, rng.uniform(1.0, 20.0), tuple(sorted({rng.randrange(i) for _ in range(rng.randint(0, 3))})) if i else ())
        for i in range(n)
    ]


def check_valid(tasks: list[TaskSpec], pools: list[Pool], p) -> None:
    by_name = {q.name: q for q in pools}
    for t in tasks:
        a = p.assignments[t.key]
        assert a.finish - a.start == pytest.approx(t.work / by_name[a.pool].speed)
        assert by_name[a.pool] in eligible_pools(t, pools)
        for d in t.dependencies:
            assert p.assignments[d].finish <= a.start + 1e-9
    slots: dict = {}
    for a in p.assignments.values():
        slots.setdefault((a.pool, a.worker), []).append((a.start, a.finish))
    for (pool, worker), spans in slots.items():
        assert 0 <= worker < by_name[pool].workers
        spans.sort()
        assert all(f <= s2 + 1e-9 for (_, f), (s2, _) in zip(spans, spans[1:]))
    assert p.makespan == pytest.approx(max((a.finish for a in p.assignments.values()), default=0.0))
    assert p.cost == pytest.approx(sum(p.cost_by_pool.values()))


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
    assert plans[Mode.BALANCED].makespan <= plans[Mode.FASTEST].makespan * 1.03 + 1e-9
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


def test_balanced_is_cheaper_than_fastest_on_a_wide_dag():
    # a long chain (the critical path) beside many short independent tasks
    tasks = [TaskSpec(f"c{i}", 10.0, (f"c{i - 1}",) if i else ()) for i in range(6)]
    tasks += [TaskSpec(f"w{i}", 3.0) for i in range(30)]
    pools = [Pool("spot", 0.36, 1.0, 6), Pool("fast", 1.44, 2.0, 4)]
    fast = plan(tasks, pools, Objective(Mode.FASTEST))
    bal = plan(tasks, pools, Objective(Mode.BALANCED))
    check_valid(tasks, pools, bal)
    assert bal.makespan <= 1.05 * fast.makespan
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
