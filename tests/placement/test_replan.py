"""Re-planning on drift (pure): a stage that finished late or early moves the decisions after it."""

from __future__ import annotations

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
