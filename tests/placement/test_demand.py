"""Per-pool demand from run plans and waiting tasks (pure)."""

from __future__ import annotations

import pytest

from daskcollab.placement import ALL_POOLS, Fleet, Mode, Objective, Pool, RunSpec, StageSpec, plan_run
from daskcollab.placement._demand import Need, PoolDemand, pool_demand, run_needs, spread

POOLS = [Pool("spot", 0.10, 1.0, workers=4), Pool("gpu", 2.50, 4.0, workers=1, resources={"GPU": 1}, min_workers=0)]
# prep (spot) -> train (GPU only) -> report (spot)
SPEC = RunSpec("r", "wf", (
    StageSpec("prep", cost=40.0),
    StageSpec("train", inputs=("prep",), resources={"GPU": 1}, cost=40.0),
    StageSpec("report", inputs=("train",), cost=4.0),
))


@pytest.fixture(scope="module")
def plan():
    # both pools follow the plan (a controller scales them): the GPU pool is held for train only
    p = plan_run(SPEC, POOLS, objective=Objective(Mode.CHEAPEST), fleet=Fleet(frozenset({"spot", "gpu"})))
    assert {n: s.pool for n, s in p.stages.items()} == {"prep": "spot", "train": "gpu", "report": "spot"}
    return p


def windows(needs):
    return {n.stage: (n.pool, round(n.start, 6), round(n.finish, 6), n.workers) for n in needs}


def test_a_fresh_run_needs_each_stage_on_its_pool_in_its_planned_window(plan):
    t0 = 1000.0
    needs = run_needs(plan, t0, {}, now=t0)
    assert windows(needs) == {
        "prep": ("spot", t0 + 0.0, t0 + 10.0, 4),   # 40 s of work on 4 workers of speed 1
        "train": ("gpu", t0 + 10.0, t0 + 20.0, 1),  # 40 s on one worker of speed 4
        "report": ("spot", t0 + 20.0, t0 + 21.0, 4),
    }


def test_finished_stages_need_nothing_and_a_late_run_slides_what_is_left(plan):
    t0 = 1000.0
    # prep done; train computing and 5 s past its planned finish (20 s): report slides by 5 s
    needs = run_needs(plan, t0, {"prep": "done", "train": "running"}, now=t0 + 25.0, active={"train"})
    assert windows(needs) == {"train": ("gpu", t0 + 25.0, t0 + 25.0, 1), "report": ("spot", t0 + 25.0, t0 + 26.0, 4)}
    # "running" from the runner only means submitted: without active tasks a stage keeps its window
    early = run_needs(plan, t0, {"prep": "running", "train": "running"}, now=t0 + 2.0, active={"prep"})
    assert windows(early)["train"] == ("gpu", t0 + 10.0, t0 + 20.0, 1)
    # a stage whose tasks already wait before its planned start is needed now
    ahead = run_needs(plan, t0, {"prep": "done"}, now=t0 + 8.0, active={"train"})
    assert windows(ahead)["train"] == ("gpu", t0 + 8.0, t0 + 20.0, 1)
    # every stage finished: nothing
    assert run_needs(plan, t0, {s: "done" for s in plan.stages}, now=t0 + 30) == []


def test_a_stage_spread_over_pools_needs_the_fastest_first():
    pools = [Pool("spot", 0.10, 1.0, workers=4), Pool("fast", 0.40, 2.0, workers=2)]
    p = plan_run(RunSpec("r", "wf", (StageSpec("a", cost=60.0),)), pools, objective=Objective(Mode.FASTEST))
    assert p.stages["a"].pool == ALL_POOLS and p.stages["a"].workers == 6
    needs = run_needs(p, 0.0, {}, now=0.0, spread_over={"a": pools})
    assert sorted((n.pool, n.workers) for n in needs) == [("fast", 2), ("spot", 4)]
    assert spread(3, pools) == {"fast": 2, "spot": 1}
    assert spread(9, pools) == {"fast": 2, "spot": 4}  # never more than a pool has


def test_pool_demand_now_and_peak():
    d = pool_demand([Need("gpu", 10.0, 20.0, 1), Need("spot", 0.0, 5.0, 3), Need("spot", 4.0, 8.0, 2)], ["other"],
                    busy={"spot": 1}, tasks={"other": 7})
    assert sorted(d) == ["gpu", "other", "spot"]
    spot, gpu, other = d["spot"], d["gpu"], d["other"]
    assert [spot.planned(t) for t in (0.0, 4.5, 6.0, 9.0)] == [3, 5, 2, 0]
    assert spot.now(9.0) == 1  # its busy worker
    assert other.now(0.0) == 7 and other.peak(0.0, 100.0) == 7  # waiting tasks, no plan
    assert gpu.peak(0.0, 9.9) == 0 and gpu.peak(0.0, 10.0) == 1 and gpu.peak(15.0, 16.0) == 1
    assert gpu.next_start(0.0) == 10.0 and gpu.next_start(10.0) is None
    back = PoolDemand.from_dict(spot.to_dict())
    assert back == spot
