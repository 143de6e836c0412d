"""Plans priced as a cloud bills (held worker-time, start-ups, minimum periods), their lower bound, and
spot pools with a deadline guarantee (pure)."""

from __future__ import annotations

import math

import pytest

from daskcollab.placement import (
    CostBasis,
    Fleet,
    Lease,
    Mode,
    Objective,
    Pool,
    RunSpec,
    StageSpec,
    billed_seconds,
    plan_run,
    pool_from_mapping,
    slot_leases,
)
from daskcollab.placement._bounds import held_lower_bound
from daskcollab.placement._runplan import RunPlan
from daskcollab.placement._spot import Progress, SpotPolicy, latest_finishes, spot_moves

HOUR = 3600.0


def test_billing_rounds_up_to_the_granularity_and_never_below_the_minimum():
    vm = Pool("vm", 3.6, billing_granularity=10.0, billing_minimum=60.0)
    assert [billed_seconds(s, vm) for s in (0.0, 1.0, 59.0, 61.0, 71.0)] == [0.0, 60.0, 60.0, 70.0, 80.0]
    assert Lease("vm", 0.0, 5.0, 95.0).cost(vm) == pytest.approx(100.0 * 3.6 / HOUR)


def test_a_worker_is_kept_through_a_gap_shorter_than_its_start_up_and_released_through_a_longer_one():
    pool = Pool("p", 3.6, startup=20.0)
    kept = slot_leases([(20.0, 30.0), (40.0, 50.0)], pool, origin=0.0)
    assert [(l.requested, l.joined, l.released) for l in kept] == [(0.0, 20.0, 50.0)]  # 10 s idle < 20 s start-up
    split = slot_leases([(20.0, 30.0), (80.0, 90.0)], pool, origin=0.0)
    assert [(l.requested, l.released) for l in split] == [(0.0, 30.0), (60.0, 90.0)]  # 50 s idle > a new start-up
    live = slot_leases([(100.0, 110.0)], pool, origin=0.0, live=True)  # up now, idle 100 s: released, asked again
    assert [(l.requested, l.released) for l in live] == [(80.0, 110.0)]
    assert slot_leases([], pool, origin=0.0, floor=70.0)[0].released == 70.0  # a min worker: the whole run


def test_pools_files_declare_start_up_billing_and_spot_terms():
    p = pool_from_mapping({"name": "cpu-spot", "price-per-hour": 0.1, "startup": "90s", "spot": True,
                           "billing": {"granularity": "1s", "minimum": "1m"}, "preemption": {"rate": 0.5}})
    assert (p.startup, p.billing_granularity, p.billing_minimum, p.spot, p.preemption_rate) == (90.0, 1.0, 60.0, True, 0.5)
    with pytest.raises(Exception, match=r"pools.x.billing.*expected a mapping with keys from \['granularity', 'minimum'\]"):
        pool_from_mapping({"name": "x", "billing": {"minutes": 1}})


# a cheap pool that is up and stays (its min workers), an elastic pool cheaper per work that must be started
SPOT = Pool("spot", 0.10, 1.0, workers=1, min_workers=1)
FAST = Pool("fast", 0.15, 2.0, workers=2, min_workers=0, startup=60.0, billing_minimum=60.0)
ELASTIC = Fleet(frozenset({"spot", "fast"}), {"spot": 1, "fast": 0})


def _run(*stages, deadline=None):
    return RunSpec("r", "wf", tuple(stages), deadline=deadline)


def test_opening_a_pool_for_short_stages_costs_more_than_waiting_for_the_cheap_one():
    spec = _run(StageSpec("a", cost=10.0), StageSpec("b", cost=10.0), deadline=100.0)
    busy = plan_run(spec, [SPOT, FAST], objective=Objective(Mode.CHEAPEST, deadline=100.0, basis=CostBasis.BUSY),
                    fleet=ELASTIC)
    held = plan_run(spec, [SPOT, FAST], objective=Objective(Mode.CHEAPEST, deadline=100.0), fleet=ELASTIC)
    assert {p.pool for p in busy.stages.values()} == {"fast"}  # cheaper per work, blind to its start-up
    assert {p.pool for p in held.stages.values()} == {"spot"} and "fast" not in held.leases  # b waits for a
    assert held.held_cost < busy.held_cost and held.makespan == pytest.approx(20.0)
    # the busy plan is billed a start-up and a minimum period it did not count
    assert busy.held_cost >= busy.cost + 60.0 * 0.15 / HOUR


def test_a_worker_kept_between_two_stages_costs_one_start_up_and_the_controller_is_told_to_keep_it():
    gpu = Pool("gpu", 3.6, 1.0, workers=1, min_workers=0, resources={"GPU": 1}, startup=30.0)
    spec = _run(StageSpec("fit", resources={"GPU": 1}, cost=10.0), StageSpec("prep", inputs=("fit",), pool="spot", cost=10.0),
                StageSpec("refit", inputs=("prep",), resources={"GPU": 1}, cost=10.0))
    plan = plan_run(spec, [SPOT, gpu], objective=Objective(Mode.CHEAPEST), fleet=Fleet(frozenset({"spot", "gpu"}),
                                                                                        {"spot": 1, "gpu": 0}))
    assert plan.pool_of("prep") == "spot"
    assert [(l.requested, l.joined, l.released) for l in plan.leases["gpu"]] == [(0.0, 30.0, 60.0)]  # one lease
    assert plan.holds["gpu"] == ((40.0, 50.0),)  # idle while prep runs: kept, not released and asked for again
    from daskcollab.placement._demand import run_needs

    kept = [n for n in run_needs(plan, 1000.0, {}, 1000.0) if n.stage is None]
    assert [(n.pool, n.start, n.finish) for n in kept] == [("gpu", 1040.0, 1050.0)]


def test_work_is_packed_onto_fewer_workers_when_the_deadline_allows():
    pool = Pool("p", 3.6, 1.0, workers=4, min_workers=0, startup=30.0)
    spec = _run(StageSpec("wide", cost=40.0))  # could use all 4 workers: 10 s each, but 4 start-ups
    loose = plan_run(spec, [pool], objective=Objective(Mode.CHEAPEST, deadline=100.0), fleet=Fleet(frozenset({"p"}), {"p": 0}))
    assert len(loose.leases["p"]) == 1 and loose.held_cost == pytest.approx((30.0 + 40.0) * 3.6 / HOUR)
    tight = plan_run(spec, [pool], objective=Objective(Mode.CHEAPEST, deadline=45.0), fleet=Fleet(frozenset({"p"}), {"p": 0}))
    assert len(tight.leases["p"]) == 4 and tight.makespan == pytest.approx(40.0)


def test_static_pools_hold_every_worker_for_the_whole_run_so_the_shorter_plan_bills_less():
    spot, fast = Pool("spot", 0.1, 1.0, 4), Pool("fast", 0.4, 2.0, 1)
    spec = _run(StageSpec("a", cost=40.0), StageSpec("b", inputs=("a",), resources={}, cost=4.0))
    held = plan_run(spec, [spot, fast], objective=Objective(Mode.CHEAPEST))
    busy = plan_run(spec, [spot, fast], objective=Objective(Mode.CHEAPEST, basis=CostBasis.BUSY))
    assert held.held_cost <= busy.held_cost and busy.cost <= held.cost
    assert held.leases == {}  # no controller: nothing to schedule, the cluster is held


def test_the_held_bill_lower_bound_is_below_every_plan_and_tight_where_packing_is_exact():
    pool = Pool("p", 3.6, 1.0, workers=4, min_workers=0, startup=30.0)
    fleet = Fleet(frozenset({"p"}), {"p": 0})
    spec = _run(StageSpec("wide", cost=40.0))
    assert held_lower_bound(spec, [pool], 100.0, fleet=fleet) == pytest.approx((30.0 + 40.0) * 3.6 / HOUR)
    assert held_lower_bound(spec, [pool], 5.0, fleet=fleet) == math.inf  # below the critical path
    spec = _run(StageSpec("a", cost=10.0), StageSpec("b", cost=10.0), StageSpec("c", inputs=("a", "b"), cost=6.0))
    for deadline in (30.0, 60.0, 200.0):
        objective = Objective(Mode.CHEAPEST, deadline=deadline)
        for fleet_ in (ELASTIC, Fleet()):
            plan = plan_run(spec, [SPOT, FAST], objective=objective, fleet=fleet_)
            bound = held_lower_bound(spec, [SPOT, FAST], max(deadline, plan.makespan), fleet=fleet_)
            assert 0.0 < bound <= plan.held_cost + 1e-12


# spot: a cheap spot pool, an on-demand pool that starts in 5 s
SPOTP = Pool("spot", 0.05, 1.0, workers=2, min_workers=0, spot=True, preemption_rate=1.0)
OD = Pool("od", 0.40, 1.0, workers=2, min_workers=0, startup=5.0)
SPOT_FLEET = Fleet(frozenset({"spot", "od"}), {"spot": 2, "od": 0})


def _spot_plan(deadline, *stages) -> tuple[RunSpec, RunPlan]:
    stages = stages or (StageSpec("a", cost=20.0), StageSpec("b", inputs=("a",), cost=20.0))
    spec = RunSpec("r", "wf", stages, deadline=deadline)
    return spec, plan_run(spec, [SPOTP, OD], objective=Objective(Mode.CHEAPEST, deadline=deadline), fleet=SPOT_FLEET)


def test_a_stage_starts_on_spot_only_before_its_point_of_no_return():
    one = StageSpec("a", cost=20.0)  # spot: 10 s on 2 workers; on-demand: 5 s start-up + 10 s
    _, roomy = _spot_plan(20.0, one)
    assert roomy.pool_of("a") == "spot"  # 0 + 5 + 10 + 1 s margin <= 20: a loss can be redone on-demand
    _, tight = _spot_plan(15.0, one)
    assert tight.pool_of("a") == "od" and tight.meets_deadline  # 16 > 15: on-demand from the start
    # in a DAG, a stage's deadline is its latest finish: the run's minus the rest of its path on on-demand
    spec, chain = _spot_plan(60.0)
    assert latest_finishes(chain, spec, [SPOTP, OD], SPOT_FLEET)["a"][0] == pytest.approx(50.0)  # 60 - b's 10 s


def test_a_stage_moves_to_on_demand_at_its_point_of_no_return_and_when_it_falls_behind():
    spec, plan = _spot_plan(60.0)
    moves = lambda now, prog: spot_moves(plan, spec, {"a": "running"}, {"a": prog}, [SPOTP, OD], 0.0, now,  # noqa: E731
                                          fleet=SPOT_FLEET)
    # a must end by 50 (b's 10 s on-demand before the deadline of 60)
    assert moves(5.0, Progress(10, 5, 0.0)) == []  # half done in half its time: on track
    assert moves(30.0, Progress(10, 9, 0.0)) == []  # slowed (a worker lost), still ends by 34: on track
    # 3 tasks in 30 s: spot would end at 100; moving now ends by 30 + 5 + 7 (+1): behind, move
    assert [m.reason for m in moves(30.0, Progress(10, 3, 0.0))] == ["behind"]
    # nothing finished for 35 s (spot gone): 35 + 5 s start-up + 10 s + 1 s >= 50: its point of no return
    assert [m.reason for m in moves(35.0, Progress(10, 0, 0.0))] == ["no-return"]
    assert moves(33.0, Progress(10, 0, 0.0)) == []
    assert spot_moves(plan, spec, {"a": "running"}, {}, [SPOTP, OD], 0.0, 10.0, SpotPolicy.ON_DEMAND,
                      fleet=SPOT_FLEET)[0].reason == "policy"


def test_when_spot_disappears_for_good_the_run_still_meets_its_deadline():
    """A replay: spot runs a's tasks until t=6 and is gone for good; the rule moves the work in time."""
    deadline, tick, task = 60.0, 0.5, 2.0  # 10 tasks of 2 s per stage, 2 workers
    spec, plan = _spot_plan(deadline)
    done = {"a": 0, "b": 0}
    off: set[str] = set()
    od_from: dict[str, float] = {}
    t, finished_at = 0.0, None
    while t < 2 * deadline and finished_at is None:
        for stage in ("a", "b"):
            if done[stage] >= 10:
                continue
            if stage in off:  # on-demand: its workers join 5 s after the move, then 2 tasks per 2 s
                rate = 2 / task if t >= od_from[stage] + OD.startup else 0.0
            else:
                rate = 2 / task if t < 6.0 else 0.0  # spot gone for good at 6 s
            done[stage] = min(10, done[stage] + rate * tick)
            break
        progress = {s: Progress(10, int(done[s]), 0.0) for s in ("a", "b")}
        states = {s: "done" if done[s] >= 10 else "running" for s in ("a", "b")}
        for m in spot_moves(plan, spec, states, progress, [SPOTP, OD], 0.0, t, fleet=SPOT_FLEET):
            if m.stage not in off:
                off.add(m.stage)
                od_from[m.stage] = t
                spec = RunSpec(spec.run_id, spec.workflow, spec.stages, deadline=deadline,
                               off_spot=frozenset(off))
                plan = plan_run(spec, [SPOTP, OD], objective=Objective(Mode.CHEAPEST, deadline=deadline),
                                fleet=SPOT_FLEET, origin=t)
        if done["b"] >= 10:
            finished_at = t
        t += tick
    assert off == {"a", "b"} and finished_at is not None and finished_at <= deadline
