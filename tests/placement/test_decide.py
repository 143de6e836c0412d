"""The plugin's decisions as a pure function: restrict, wait, fail, order (no cluster)."""

from __future__ import annotations

import math

from daskcollab.placement import Mode, Objective, Pool, RunSpec, StageSpec, plan_run
from daskcollab.placement._decide import ClusterView, TaskView, decide

SPOT = Pool("spot", 0.10, 1.0, 2)
FAST = Pool("fast", 0.40, 2.0, 1)
GPU = Pool("gpu", 2.50, 1.0, 1, resources={"GPU": 1})


def view(*live, declared=(), mode=Mode.CHEAPEST):
    return ClusterView({p.name: p for p in live}, {p.name: p for p in declared}, (), mode)


def test_an_ad_hoc_submission_is_planned_restricted_and_ordered_as_planned():
    # a 3-task chain (the critical path) and four short independent tasks, submitted together
    chain = [TaskView(f"c{i}", "chain", work=4.0, dependencies=(f"c{i - 1}",) if i else ()) for i in range(3)]
    short = [TaskView(f"s{i}", "short", work=1.0) for i in range(4)]
    out = decide([*short, *chain], view(SPOT, FAST, mode=Mode.FASTEST), {}, now=0.0)
    assert out.plan is not None and set(out.restrict) == {t.key for t in [*chain, *short]}
    assert out.order["c0"] < out.order["c1"] < out.order["c2"]
    assert sorted(out.order.values()) == list(range(7))
    # ranks follow the planned start times, whatever the submission order (shorts were submitted first)
    start = {k: a.start for k, a in out.plan.assignments.items()}
    assert all(out.order[a] < out.order[b] for a in start for b in start if start[a] < start[b])
    pool_c0 = out.plan.pool_of("c0")
    later = [k for k in start if out.plan.pool_of(k) == pool_c0 and start[k] > start["c0"]]
    assert later and all(out.order[k] > out.order["c0"] for k in later)
    assert {r.reason for r in out.records} == {"plan"}


def test_one_live_pool_means_no_restriction_and_tiny_tasks_are_left_to_dask():
    out = decide([TaskView("a", "s", work=1.0)], view(SPOT), {}, now=0.0)
    assert out.restrict == {} and out.order == {"a": 0}
    tiny = decide([TaskView("t", "tiny", work=0.001)], view(SPOT, FAST), {}, now=0.0)
    assert tiny.restrict == {} and [r.reason for r in tiny.records] == ["below min-work"]


def test_tasks_no_pool_can_ever_run_fail_with_the_one_message():
    out = decide([TaskView("x", "train", resources={"TPU": 1})], view(SPOT, FAST), {}, now=0.0)
    reason, message = out.fail["x"]
    assert reason == "unplaceable"
    assert "stage 'train', field 'resources'" in message and "pools available: fast" in message
    assert out.restrict == {}


def test_run_tasks_follow_the_run_plan_pins_and_waits():
    spec = RunSpec("r1", "wf", (
        StageSpec("src", cost=2.0), StageSpec("train", inputs=("src",), cost=50.0, resources={"GPU": 1}),
        StageSpec("pinned", inputs=("src",), cost=1.0, pool="fast"),
    ))
    plan = plan_run(spec, [SPOT, FAST], objective=Objective(Mode.CHEAPEST), declared=[GPU])
    assert plan.stages["train"].waits and plan.stages["train"].pool == "gpu"
    tasks = [TaskView("s-0", "src", run="r1"), TaskView("t-0", "train", run="r1", resources={"GPU": 1}),
             TaskView("p-0", "pinned", run="r1", pool="fast")]
    out = decide(tasks, view(SPOT, FAST, declared=[GPU]), {"r1": plan}, now=0.0)
    assert out.restrict == {"s-0": plan.pool_of("src"), "t-0": "gpu", "p-0": "fast"}
    assert {(r.stage, r.reason) for r in out.records} == {("src", "run-plan"), ("train", "wait"), ("pinned", "pinned")}
    assert out.fail == {} and out.plan is None  # no ad-hoc plan: the run's plan decided


def test_a_stage_spread_over_every_pool_gets_no_pool_restriction():
    spec = RunSpec("r2", "wf", (StageSpec("wide", cost=100.0),))
    plan = plan_run(spec, [SPOT, FAST], objective=Objective(Mode.FASTEST))
    assert plan.stages["wide"].pool == "*" and math.isclose(plan.makespan, 100.0 / (1 + 1 + 2))
    out = decide([TaskView("w-0", "wide", run="r2")], view(SPOT, FAST), {"r2": plan}, now=0.0)
    assert out.restrict == {}
