"""The placement plugin's bookkeeping without a scheduler: runs, budget and deadline verdicts, the
watchdog's verdicts, what the cost model learns, demand, settings (plain data, times as arguments)."""

from __future__ import annotations

import dask
import pytest

from daskcollab import BudgetError, RunCancelledError, UnplaceableError, UsageError
from daskcollab._types import RunStatus, StageState
from daskcollab.placement import (
    BudgetAction,
    BudgetBasis,
    ClusterView,
    CostModel,
    Learner,
    Mode,
    PlacementState,
    Pool,
    RunSpec,
    Settings,
    StageSpec,
    StartKind,
    TaskNeed,
    TaskView,
    Waiting,
    cluster_demand,
    unrunnable_verdicts,
)
from daskcollab.placement._settings import arguments, resolve


def _worker(pool: str, price: float, speed: float = 1.0) -> dict:
    return {"daskcollab": {"pool": pool, "price_per_hour": price, "speed": speed}}


def _state(**settings) -> PlacementState:
    state = PlacementState(Settings(**settings), Learner(CostModel()))
    state.worker_joined("tcp://spot", _worker("spot", 3.6), {}, "spot-0", now=0.0)
    state.worker_joined("tcp://fast", _worker("fast", 36.0, 2.0), {}, "fast-0", now=0.0)
    return state


CHAIN = (StageSpec("a", cost=100.0), StageSpec("b", inputs=("a",), cost=100.0))


def test_a_run_over_its_budget_is_refused_with_fail_and_warned_with_warn():
    spec = RunSpec("r1", "wf", CHAIN, budget=1e-6)
    refused = _state(on_budget_miss=BudgetAction.FAIL)
    reply = refused.start_run(spec, now=10.0)
    assert reply["kind"] == StartKind.BUDGET and "budget $1e-06 but the plan of the whole run costs" in reply["error"]
    record = refused.ledger.runs["r1"]
    assert record.status == RunStatus.FAILED and record.finished == 10.0 and "r1" not in refused.runs.plans
    warned = _state(on_budget_miss=BudgetAction.WARN)
    reply = warned.start_run(spec, now=10.0)
    assert reply["plan"] is not None and reply["warnings"] == warned.ledger.runs["r1"].alerts
    assert [d.reason for d in warned.ledger.decisions] == ["budget"]


def test_a_stage_no_pool_can_run_is_refused_at_the_start():
    reply = _state().start_run(RunSpec("r", "wf", (StageSpec("fit", resources={"TPU": 1}),)), now=0.0)
    assert reply["kind"] == StartKind.UNPLACEABLE and "TPU" in reply["error"]


def test_a_finished_stage_replans_the_rest_and_keeps_what_ran_where_it_ran():
    state = _state(mode=Mode.FASTEST)
    state.start_run(RunSpec("r", "wf", CHAIN), now=0.0)
    first = state.runs.plans["r"]
    assert state.stage_event("r", "a", StageState.RUNNING, now=1.0) == []
    assert state.ledger.runs["r"].stages["a"].started == 1.0
    assert state.stage_event("r", "a", StageState.DONE, now=400.0) == []  # very late: re-planned from 400 s
    again = state.runs.plans["r"]
    assert again is not first and again.stages["a"].pool == first.stages["a"].pool
    assert again.stages["b"].start == pytest.approx(400.0)  # offsets from the run's start, at 0 s


def test_a_run_done_teaches_the_cost_model_its_stages_and_a_failed_run_does_not():
    for status, learned in ((RunStatus.DONE, True), (RunStatus.FAILED, False)):
        state = _state()
        state.start_run(RunSpec("r", "wf", CHAIN[:1]), now=0.0)
        state.stage_event("r", "a", "running", now=0.0)
        state.ledger.record_task("a-0", stage="a", pool="spot", duration=5.0, price_per_hour=3.6, worker="tcp://spot",
                                 run="r", start=0.0, stop=5.0)
        state.stage_event("r", "a", "done", now=5.0)
        snapshot = state.finish_run("r", status, now=6.0)
        assert snapshot["status"] == status.value and snapshot["stages"]["a"]["state"] == "done"
        assert bool(state.learner.model.stage_estimates("wf", "a")) is learned
        assert state.learner.dirty is learned
    assert _state().finish_run("never-started", RunStatus.DONE, now=0.0) is None


def test_spend_and_time_are_judged_once_each_while_a_run_goes():
    state = _state()
    state.start_run(RunSpec("r", "wf", CHAIN, budget=0.5, deadline=50.0), now=0.0)
    assert state.runs.verdicts(BudgetBasis.HELD, now=10.0) == []
    alerts = state.runs.verdicts(BudgetBasis.HELD, now=60.0)  # 2 workers held 60 s at $3.6 + $36/h: $0.66
    assert [a.reason for a in alerts] == ["over-budget", "over-deadline"]
    assert "spent $0.6600 (held) of a $0.5 budget" in alerts[0].message
    assert state.runs.verdicts(BudgetBasis.HELD, now=70.0) == []  # said once
    assert state.runs.verdicts(BudgetBasis.BUSY, now=70.0) == []  # busy money: nothing ran


def test_the_tasks_of_a_failed_run_err_with_its_error_and_an_ad_hoc_plan_over_budget_is_rejected():
    state = _state()
    state.start_run(RunSpec("r", "wf", CHAIN), now=0.0)
    state.runs.fail("r", "run r was given up", RunCancelledError, RunStatus.CANCELLED)
    assert state.ledger.runs["r"].status == RunStatus.CANCELLED
    placement = state.place([TaskView("a-0", "a", run="r")], now=1.0, replace=False)
    assert isinstance(placement.errors["a-0"], RunCancelledError) and str(placement.errors["a-0"]) == "run r was given up"
    assert placement.decisions.restrict == {} and placement.decisions.records == []
    state = _state(on_budget_miss=BudgetAction.FAIL)
    views = [TaskView(f"t-{i}", "adhoc", work=10.0, budget=1e-9) for i in range(3)]
    placement = state.place(views, now=1.0, replace=False)
    assert placement.rejected and {type(e) for e in placement.errors.values()} == {BudgetError}
    assert state.overhead["tasks_planned"] == 0  # nothing was placed
    state = _state(on_budget_miss=BudgetAction.WARN)
    placement = state.place(views, now=1.0, replace=False)
    assert not placement.rejected and placement.warnings and state.ledger.budget == 1e-9
    assert set(placement.decisions.restrict) == {"t-0", "t-1", "t-2"}
    assert all(d.time == 1.0 for d in state.ledger.decisions)


def test_the_watchdog_places_again_what_lost_its_pool_and_errs_what_waited_too_long():
    spot, gpu = Pool("spot", 0.1, 1.0, 1), Pool("gpu", 2.5, 1.0, 1, {"GPU": 1})
    view = ClusterView({"spot": spot}, {"gpu": gpu})
    waiting = [Waiting("moved", "s", {}, None, "gone", 1.0), Waiting("young", "s", {}, None, "gone", 0.1),
               Waiting("gpu-wait", "g", {"GPU": 1}, "gpu", None, 30.0),
               Waiting("gpu-late", "g", {"GPU": 1}, "gpu", None, 61.0),
               Waiting("tpu", "t", {"TPU": 1}, None, None, 0.0)]
    verdicts = unrunnable_verdicts(waiting, view, elastic=(), timeout=60.0)
    assert verdicts.replace == ["moved"]
    assert sorted(verdicts.fail) == ["gpu-late", "tpu"]
    assert "waited 61" in verdicts.fail["gpu-late"] and "TPU" in verdicts.fail["tpu"]
    growing = unrunnable_verdicts(waiting[:1], view, elastic=("gone",), timeout=60.0)
    assert growing.replace == []  # an elastic pool being grown is not gone


def test_the_learner_samples_tasks_and_learns_overhead_and_slippage():
    learner = Learner(CostModel())
    common = dict(annotated=True, stage="s", prefix="p", workflow="wf", pool="spot", speed=1.0, worker="w")
    learner.task_done("x", True, duration=1.0, began=0.0, stopped=1.0, now=1.0, **common)
    # y waited 0.25 s after its input x and its worker were free: dispatch overhead
    learner.task_done("y", True, duration=1.0, began=1.25, stopped=2.25, now=2.25, dependencies=lambda: ["x"], **common)
    assert learner.model.task_overhead == pytest.approx(0.25)
    keys = [f"k{i}" for i in range(10)]
    learner.plan_made(keys, makespan=2.0, fresh=True, now=10.0)
    for key in keys:
        learner.task_done(key, True, duration=0.1, began=None, stopped=None, now=13.0, **common)
    assert learner.model.slippage == pytest.approx(1.5)  # 3 s for a 2 s plan
    learner.plan_made(keys, makespan=2.0, fresh=True, now=20.0)
    learner.task_forgotten("k0")  # cancelled before it ran: the plan is no sample
    assert learner.open_plans == {}
    off = Learner(CostModel(), enabled=False)
    off.task_done("x", True, duration=1.0, began=0.0, stopped=1.0, now=1.0, **common)
    assert not off.dirty and off.model.estimate("s", "p", "spot", 7.0, workflow="wf") == 7.0


def test_demand_counts_waiting_tasks_for_the_cheapest_able_pool_and_busy_workers():
    pools = [Pool("spot", 0.1, 1.0, 2), Pool("fast", 0.4, 2.0, 1), Pool("gpu", 2.5, 1.0, 1, {"GPU": 1})]
    tasks = [TaskNeed(None, None, None, True), TaskNeed({"GPU": 1}, None, None, True),
             TaskNeed({"pool-fast": 1, "daskcollab-hold": 1}, None, None, True),
             TaskNeed({"pool-spot": 1}, None, None, False)]
    demand = cluster_demand(tasks, {"spot": 1}, {}, {}, {}, pools, ["spot", "fast", "gpu"], now=0.0)
    assert {n: (d.tasks, d.busy) for n, d in demand.items()} == {"fast": (1, 0), "gpu": (1, 0), "spot": (2, 1)}


def test_settings_take_arguments_over_config_over_the_packaged_defaults():
    assert resolve() == Settings()  # daskcollab.yaml's defaults are the dataclass's
    with dask.config.set({"collab.placement.mode": "cheapest", "collab.placement.tradeoff": None}):
        s = resolve(**arguments(no_worker_timeout="2m", pools=[{"name": "gpu", "price-per-hour": 2.5}]))
        assert (s.mode, s.tradeoff, s.no_worker_timeout, list(s.declared)) == (Mode.CHEAPEST, 0.5, 120.0, ["gpu"])
        assert resolve(**arguments(mode="fastest")).mode is Mode.FASTEST
    with pytest.raises(UsageError, match="field 'budget_counts': 'money' is not one of 'held', 'busy'"):
        arguments(budget_counts="money")


def test_unplaceable_tasks_err_with_the_one_message():
    state = _state()
    placement = state.place([TaskView("x", "train", resources={"TPU": 1})], now=0.0, replace=False)
    assert isinstance(placement.errors["x"], UnplaceableError) and "TPU" in str(placement.errors["x"])
