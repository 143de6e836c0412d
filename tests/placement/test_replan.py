"""Re-planning on drift (pure): a stage that finished late or early moves the decisions after it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from daskcollab.placement import ALL_POOLS, Mode, Objective, Pool, RunSpec, StageSpec, plan_run

SPOT = Pool("spot", 0.1, 1.0, 1)
FAST = Pool("fast", 0.4, 2.0, 1)


def _chain(deadline: float) -> RunSpec:
    return RunSpec("r", "wf", (StageSpec("a", cost=10.0, pool="spot"), StageSpec("b", inputs=("a",), cost=10.0)),
                   deadline=deadline)


def _replan(spec: RunSpec, a_finished: float):
    """The plan after stage ``a`` (run on spot from 0) reported done at ``a_finished``."""
    return plan_run(spec, [SPOT, FAST], objective=Objective(Mode.CHEAPEST, deadline=spec.deadline),
                    origin=a_finished, fixed={"a": ("spot", 0.0, a_finished)})


def test_a_late_stage_moves_the_next_one_to_the_fast_pool_to_keep_the_deadline():
    spec = _chain(deadline=30.0)
    first = plan_run(spec, [SPOT, FAST], objective=Objective(Mode.CHEAPEST, deadline=30.0))
    assert first.pool_of("b") == "spot" and first.makespan == pytest.approx(20.0)  # 10 + 10 on spot fits
    on_time = _replan(spec, a_finished=10.0)
    assert on_time.pool_of("b") == "spot"
    late = _replan(spec, a_finished=24.0)  # spot now ends at 34 > 30: b takes faster workers
    b = late.stages["b"]
    assert b.pool in ("fast", ALL_POOLS)  # fast alone ends at 29; spread over both (10 / 3) at 27.3, cheaper
    assert b.start == pytest.approx(24.0) and b.finish <= 30.0 and late.meets_deadline


def test_an_early_stage_gives_the_next_one_back_to_the_cheap_pool():
    spec = _chain(deadline=18.0)
    # a on spot takes 10 by the estimate: b cannot stay on spot alone (it would end at 20 > 18)
    first = plan_run(spec, [SPOT, FAST], objective=Objective(Mode.CHEAPEST, deadline=18.0))
    assert first.stages["b"].pool in ("fast", ALL_POOLS) and first.meets_deadline
    early = _replan(spec, a_finished=6.0)  # a took 6: b on spot ends at 16 <= 18 and costs a quarter
    assert early.pool_of("b") == "spot" and early.meets_deadline
    assert early.cost < first.cost


def test_a_replan_keeps_what_ran():
    late = _replan(_chain(deadline=30.0), a_finished=24.0)
    a = late.stages["a"]
    assert (a.pool, a.start, a.finish) == ("spot", 0.0, 24.0)


def test_a_spread_stage_is_priced_by_the_mix_of_pools_it_was_learned_on():
    """A stage left to Dask's balancing over every pool costs what that mix cost when it was learned
    there, not the pools' capacity-weighted price; on one pool, that pool's price."""
    from daskcollab.placement._cost_model import CostModel

    cm = CostModel()
    # 10 work-seconds that cost 0.15 $/h per work-second: mostly on spot (0.1), some on fast (0.4 / speed 2)
    cm.observe_stage("wf", "a", ALL_POOLS, work=10.0, width=2.0, latency=0.0, cost=10.0 * 0.15 / 3600)
    learned = CostModel.from_dict(cm.to_dict()).stage_estimates("wf", "a")
    assert learned[ALL_POOLS].price_per_work == pytest.approx(0.15)
    spec = RunSpec("r", "wf", (StageSpec("a"),))
    spread = plan_run(spec, [SPOT, FAST], estimates={"a": learned}, objective=Objective(Mode.FASTEST))
    assert spread.pool_of("a") is None  # spread over both pools
    assert spread.cost == pytest.approx(10.0 * 0.15 / 3600)
    unlearned = plan_run(spec, [SPOT, FAST], estimates={"a": {ALL_POOLS: replace(learned[ALL_POOLS], price_per_work=None)}},
                         objective=Objective(Mode.FASTEST))
    assert unlearned.cost == pytest.approx(10.0 * (0.1 + 0.4) / (1.0 + 2.0) / 3600)  # capacity-weighted
    cheap = plan_run(spec, [SPOT, FAST], estimates={"a": learned}, objective=Objective(Mode.CHEAPEST))
    assert cheap.pool_of("a") == "spot" and cheap.cost == pytest.approx(10.0 * 0.1 / 3600)


def test_stage_observations_of_a_version_2_cost_model_are_relearned():
    from daskcollab.placement._cost_model import CostModel

    old = {"version": 2, "tasks": {"wf|s|t|spot": [2.0, 1]}, "stages": {"wf|s": {"spot": [4.0, 1.0, 0.5, 1]}}}
    cm = CostModel.from_dict(old)
    assert cm.stage_estimates("wf", "s") == {}  # no money recorded: relearned by the next run
    assert cm.estimate("s", "t", "spot", 9.0, workflow="wf") == 2.0  # task observations are kept
