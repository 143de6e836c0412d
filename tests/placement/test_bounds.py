"""The LP lower bound on the cost within a makespan (pure policy, no cluster)."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from _shapes import BENCH_POOLS, bwa_like, epigenomics_like, random_dag

from daskcollab._errors import UnplaceableError
from daskcollab.placement import Mode, Objective, Pool, TaskSpec, cost_lower_bound, lower_bounds, pareto_front, plan
from daskcollab.placement._heft import _FIXED, _Graph, _schedule

SPOT = Pool("spot", 0.36, 1.0, 2)  # $0.0001 per worker-second
FAST = Pool("fast", 1.44, 2.0, 1)  # $0.0004 per worker-second, twice as fast: $0.0002 per unit of work
POOLS = [SPOT, FAST]


@pytest.mark.parametrize("deadline, cost", [(10.0, 0.0060), (12.0, 0.0056), (16.0, 0.0048), (20.0, 0.0040),
                                            (30.0, 0.0040)])
def test_tight_on_interchangeable_tasks(deadline, cost):
    # 40 unit tasks: within D spot does 2D units and fast the rest, the optimum plan() reaches
    tasks = [TaskSpec(f"t{i}", 1.0) for i in range(40)]
    assert cost_lower_bound(tasks, POOLS, deadline) == pytest.approx(cost)
    assert plan(tasks, POOLS, Objective(Mode.CHEAPEST, deadline=deadline)).cost == pytest.approx(cost)


def test_a_chain_hand_computed():
    # 3 x 10 s chain: spot takes 10 s per task ($0.001), fast 5 s ($0.002). Within 20 s two tasks
    # go fast (the integral optimum, $0.005); within 22.5 s the relaxation runs 1.5 tasks fast
    chain = [TaskSpec("a", 10.0), TaskSpec("b", 10.0, ("a",)), TaskSpec("c", 10.0, ("b",))]
    assert cost_lower_bound(chain, POOLS, 20.0) == pytest.approx(0.005)
    assert cost_lower_bound(chain, POOLS, 22.5) == pytest.approx(0.0045)
    assert cost_lower_bound(chain, POOLS, 15.0) == pytest.approx(0.006)  # all fast: the critical path
    assert cost_lower_bound(chain, POOLS, 30.0) == pytest.approx(0.003)  # all spot
    assert cost_lower_bound(chain, POOLS, 14.9) == math.inf  # below the critical path at the fastest speed


def test_capacity_and_eligibility():
    tasks = [TaskSpec(f"t{i}", 1.0) for i in range(40)]
    assert cost_lower_bound(tasks, POOLS, 9.9) == math.inf  # 40 units need 10 s on 4 units/s
    # a task that needs a GPU pays the GPU price whatever the makespan
    gpu = Pool("gpu", 3.6, 4.0, 1, {"GPU": 1})
    train = [TaskSpec("prep", 4.0), TaskSpec("train", 8.0, ("prep",), {"GPU": 1})]
    assert cost_lower_bound(train, [SPOT, gpu], 100.0) == pytest.approx(4.0 * 0.0001 + 2.0 * 0.001)
    with pytest.raises(UnplaceableError, match=r"\{'TPU': 1\}"):
        cost_lower_bound([TaskSpec("x", 1.0, resources={"TPU": 1})], POOLS, 10.0)
    assert cost_lower_bound([], POOLS, 1.0) == 0.0


def test_overhead_holds_workers_but_is_not_charged():
    tasks = [TaskSpec(f"t{i}", 1.0) for i in range(40)]
    # with 0.25 s per task the 40 tasks hold 50 worker-seconds on spot; within 20 s spot holds
    # 40 of them (32 units), fast the other 8 units (8 x 0.5 + 8 x 0.25 = 6 s of its 20)
    assert cost_lower_bound(tasks, POOLS, 20.0, task_overhead=0.25) == pytest.approx(32 * 0.0001 + 8 * 0.0002)
    assert cost_lower_bound(tasks, POOLS, 20.0, task_overhead=0.25) > cost_lower_bound(tasks, POOLS, 20.0)


def test_loose_makespan_gives_the_cheapest_pool_bound():
    tasks = random_dag(60, 3)
    lb = lower_bounds(tasks, POOLS)
    big = plan(tasks, POOLS, Objective(Mode.CHEAPEST)).makespan
    assert cost_lower_bound(tasks, POOLS, big) == pytest.approx(lb.cost)


def _optimum(tasks, pools, deadline):
    """Least cost of any assignment whose best schedule (all orders, all workers) meets the deadline."""
    index = {t.key: i for i, t in enumerate(tasks)}
    workers = [(j, k) for j, p in enumerate(pools) for k in range(p.workers)]
    orders = [perm for perm in itertools.permutations(range(len(tasks)))
              if all(perm.index(index[d]) < perm.index(i) for i in perm for d in tasks[i].dependencies)]
    best = math.inf
    for assign in itertools.product(range(len(pools)), repeat=len(tasks)):
        cost = sum(tasks[i].work / pools[j].speed * pools[j].price_per_hour / 3600 for i, j in enumerate(assign))
        if cost >= best:
            continue
        slots = [[w for w, (j, _k) in enumerate(workers) if j == assign[i]] for i in range(len(tasks))]
        for order in orders:
            for choice in itertools.product(*(slots[i] for i in order)):
                free = [0.0] * len(workers)
                fin = [0.0] * len(tasks)
                for i, w in zip(order, choice):
                    ready = max((fin[index[d]] for d in tasks[i].dependencies), default=0.0)
                    fin[i] = max(ready, free[w]) + tasks[i].work / pools[assign[i]].speed
                    free[w] = fin[i]
                if max(fin) <= deadline + 1e-9:
                    best = cost
                    break
            if best == cost:
                break
    return best


@pytest.mark.parametrize("seed", range(6))
def test_never_above_the_brute_force_optimum(seed):
    rng = random.Random(seed)
    tasks = [TaskSpec(i, float(rng.randint(1, 6)), tuple({rng.randrange(i) for _ in range(rng.randint(0, 2))}) if i else ())
             for i in range(5)]
    pools = [Pool("spot", 0.36, 1.0, 2), Pool("fast", 1.44, 2.0, 1)]
    fastest = plan(tasks, pools, Objective(Mode.FASTEST)).makespan
    for deadline in (fastest, 1.3 * fastest, 2.0 * fastest):
        best = _optimum(tasks, pools, deadline)
        bound = cost_lower_bound(tasks, pools, deadline)
        assert bound <= best * (1 + 1e-9) + 1e-15
        assert plan(tasks, pools, Objective(Mode.CHEAPEST, deadline=deadline)).cost >= best * (1 - 1e-9)


@pytest.mark.parametrize("shape", ["random", "epigenomics", "bwa"])
def test_below_every_plan_we_can_construct(shape):
    tasks = {"random": lambda: random_dag(120, 7), "epigenomics": lambda: epigenomics_like(3, 8, 2),
             "bwa": lambda: bwa_like(60, 1)}[shape]()
    pools = BENCH_POOLS
    g = _Graph(tasks, pools)
    rng = random.Random(0)
    plans = [(p.makespan, p.cost) for p in pareto_front(tasks, pools)]
    for _ in range(40):  # random assignments, list-scheduled
        s = _schedule(g, _FIXED, [rng.choice(g.opts[g.sig[i]])[0] for i in range(g.n)])
        plans.append((s.makespan, s.cost))
    for makespan, cost in plans:
        assert cost_lower_bound(tasks, pools, makespan * (1 + 1e-9)) <= cost * (1 + 1e-9)


def test_the_bound_falls_as_the_makespan_grows():
    tasks = bwa_like(60, 2)
    lb = lower_bounds(tasks, BENCH_POOLS)
    values = [cost_lower_bound(tasks, BENCH_POOLS, f * lb.makespan) for f in (1.2, 1.5, 2.0, 3.0, 4.0)]
    assert all(b >= a for a, b in zip(values[1:], values))  # looser makespan, lower (or equal) bound
    assert values[0] > values[-1] > lb.cost
    all_spot = plan(tasks, BENCH_POOLS, Objective(Mode.CHEAPEST)).makespan
    assert cost_lower_bound(tasks, BENCH_POOLS, all_spot) == pytest.approx(lb.cost)
