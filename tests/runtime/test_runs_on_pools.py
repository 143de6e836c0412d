"""One workflow, one plan: whole runs through ``daskcollab.run`` on a real cluster of pools.

Two single-thread worker processes, one per pool (``cpu-spot``, ``cpu-ondemand``), with the
placement plugin; every run goes through ``daskcollab.run`` (nothing is annotated by hand).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from distributed import Client, Lock

import daskcollab as dc
from daskcollab import testing
from daskcollab.placement import Pool, placement_report

POOLS = [Pool("cpu-spot", price_per_hour=0.10, speed=1.0, workers=1),
         Pool("cpu-ondemand", price_per_hour=0.40, speed=2.0, workers=1)]


@pytest.fixture
def client(pools_client):
    return pools_client


def install(client, tmp_path, model="cm.json", **kwargs):
    """A fresh placement plugin (fresh ledger; the cost model at ``tmp_path / model``) for one test."""
    testing.use_placement_plugin(client, cost_model_path=tmp_path / model, **kwargs)


def two_models(store, *, pools=("cpu-spot", "cpu-ondemand"), rounds=300, **wf):
    src = dc.ZarrSource(store, name="src")
    a = dc.XGBoostModel(src, name="xgb-a", params={"max_depth": 6}, rounds=rounds, pool=pools[0])
    b = dc.XGBoostModel(src, name="xgb-b", params={"max_depth": 5, "eta": 0.2}, rounds=rounds, pool=pools[1])
    return dc.Workflow("two-models", [dc.Evaluate([a, b], name="ev")], **wf)


def test_independent_model_stages_overlap_in_time_and_match_the_sequential_run(client, clf_store, tmp_path):
    install(client, tmp_path)
    together = dc.run(two_models(clf_store), client, progress=False)
    stages = together.placements["stages"]
    # compute intervals of each stage's tasks, as the scheduler saw them (workers' startstops)
    a, b = stages["xgb-a"], stages["xgb-b"]
    overlap = min(a["last_stop"], b["last_stop"]) - max(a["first_start"], b["first_start"])
    assert overlap > 0, (a, b)
    # each stage's work ran on its own pool (a task below collab.placement.min-work, e.g. a row
    # slice of the quantile sample, is not restricted and may run anywhere)
    for stage, pool in ((a, "cpu-spot"), (b, "cpu-ondemand")):
        assert stage["pools"][pool]["busy_seconds"] >= 0.9 * stage["busy_seconds"], stage["pools"]
        assert all(p["busy_seconds"] < 0.1 for name, p in stage["pools"].items() if name != pool), stage["pools"]
    # both xgboost.dask collectives trained side by side without disturbing each other: each model
    # equals the one trained alone, stage after stage (one worker each: xgboost is deterministic)
    alone = dc.run(two_models(clf_store), client, progress=False, concurrency=1)
    sa, sb = alone.placements["stages"]["xgb-a"], alone.placements["stages"]["xgb-b"]
    assert sb["first_start"] >= sa["last_stop"]  # concurrency=1: one stage after another
    for model in ("xgb-a", "xgb-b"):
        assert together.metrics[model] == alone.metrics[model]
    assert together.makespan_s is not None and together.stage_states == {s: "done" for s in together.timings}


def test_one_plan_covers_every_stage_and_the_result_carries_it(client, clf_store, tmp_path):
    install(client, tmp_path, mode="cheapest")
    src = dc.ZarrSource(clf_store, name="src")
    xgb = dc.XGBoostModel(src, name="xgb", rounds=20)
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="lin")
    blend = dc.Blend([xgb, lin], name="blend")
    wf = dc.Workflow("planned", [dc.Evaluate([xgb, lin, blend], name="ev"),
                                 dc.ZarrSink([blend], name="out", path=str(tmp_path / "p.zarr"))])
    result = dc.run(wf, client, progress=False)
    names = {s.name for s in wf.stages}
    assert set(result.plan["stages"]) == names  # one plan, made before any task, for the whole run
    assert result.plan["mode"] == "cheapest"
    assert {s["pool"] for s in result.plan["stages"].values()} == {"cpu-spot"}  # cheapest: all on spot
    ledger = result.placements
    assert ledger["run_id"] == result.run_id and set(ledger["stages"]) == names
    assert all(s["state"] == "done" for s in ledger["stages"].values())
    # the tasks ran where the plan put them, and the money is accounted per stage and pool
    assert set(ledger["cost_busy_by_pool"]) == {"cpu-spot"}
    assert result.cost["busy"] == pytest.approx(sum(result.cost["busy_by_stage"].values()))
    assert result.cost["held"] >= result.cost["busy"] > 0
    assert result.cost["held_by_pool"].keys() == {"cpu-spot", "cpu-ondemand"}  # held: every worker, idle too
    decisions = [d for d in ledger["decisions"] if d["reason"] == "run-plan"]
    assert {d["stage"] for d in decisions} <= names and {d["pool"] for d in decisions} == {"cpu-spot"}
    assert "cost: $" in result.table() and "planned cpu-spot" in result.table()


def test_a_budget_exceeded_by_the_sum_of_stages_triggers_the_action(client, clf_store, tmp_path):
    # three stages that each cost 40 % of the budget in the plan: each alone fits, the run does not
    hint = 100.0  # seconds of work at speed 1: 100 * 0.10 $/h / 3600 on spot
    stage_cost = hint * 0.10 / 3600
    budget = stage_cost / 0.4

    def workflow():
        src = dc.ZarrSource(clf_store, name="src", cost=hint)
        xgb = dc.XGBoostModel(src, name="xgb", rounds=5, cost=hint)
        return dc.Workflow("costly", [dc.Evaluate([xgb], name="ev", cost=hint)], budget=budget)

    install(client, tmp_path, mode="cheapest", on_budget_miss="fail", budget_counts="busy")
    with pytest.raises(dc.BudgetError, match=r"workflow 'costly', field 'budget': budget \$0.00694\d* but the plan of "
                                             r"the whole run costs \$0.0083 \(busy; busy per stage: src \$0.0028, "
                                             r"xgb \$0.0028, ev \$0.0028\)"):
        dc.run(workflow(), client, progress=False)
    assert not placement_report(client)["tasks_by_pool"]  # refused before any task was submitted
    install(client, tmp_path, mode="cheapest", on_budget_miss="warn", budget_counts="busy")
    result = dc.run(workflow(), client, progress=False)
    assert any("plan of the whole run costs $0.0083" in w for w in result.warnings)
    assert result.metrics["xgb"]["auc"] > 0.5  # warn: the run went ahead


def test_money_actually_spent_is_compared_with_the_budget_while_the_run_goes(client, clf_store, tmp_path):
    # the plan meets the budget (tiny cost hints), the real training does not: the spend decides
    def workflow():
        src = dc.ZarrSource(clf_store, name="src", cost=0.001)
        xgb = dc.XGBoostModel(src, name="xgb", rounds=400, params={"max_depth": 8}, cost=0.001)
        late = dc.XGBoostModel(src, name="late", rounds=50, cost=0.001)
        ev = dc.Evaluate([xgb], name="ev", cost=0.001)
        return dc.Workflow("overspent", [ev, dc.Evaluate([late, xgb], name="ev2", cost=0.001)], budget=2e-5)

    install(client, tmp_path, mode="cheapest", on_budget_miss="warn")
    result = dc.run(workflow(), client, progress=False)
    assert any("spent $" in w and "of a $2e-05 budget" in w for w in result.warnings), result.warnings
    assert result.placements["over_budget"] is True and result.cost["held"] > 2e-5
    # with what the first run taught the cost model, the plan itself no longer fits: refused up front
    install(client, tmp_path, mode="cheapest", on_budget_miss="fail")
    with pytest.raises(dc.BudgetError, match=r"budget \$2e-05 but the plan of the whole run costs"):
        dc.run(workflow(), client, progress=False)
    # a fresh cost model believes the hints: the run starts, and errs once the spend passes the budget
    install(client, tmp_path, model="fresh.json", mode="cheapest", on_budget_miss="fail")
    with pytest.raises(dc.BudgetError, match=r"workflow 'overspent', field 'budget': run overspent-\w+: spent "
                                             r"\$[0-9.]+ \(held\) of a \$2e-05 budget"):
        dc.run(workflow(), client, progress=False)
    # the run given up stopped its 400-round training: no rank computes, every worker's lock is free
    # (the next run used to wait ~30 s for the abandoned collective to finish)
    def computing_ranks():
        return client.run_on_scheduler(lambda dask_scheduler: [
            str(k) for k, ts in dask_scheduler.tasks.items() if str(k).startswith("xgboost-rank") and ts.state == "processing"])

    deadline = time.monotonic() + 60  # the scheduler hears of the cancellation asynchronously (a hang guard)
    while computing_ranks() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert computing_ranks() == []
    with client.as_current():
        for address in client.scheduler_info()["workers"]:
            lock = Lock(f"daskcollab-xgboost-worker-{address}")
            assert lock.acquire(blocking=False), f"{address}'s xgboost lock is still held"
            lock.release()


def test_two_runs_on_one_scheduler_keep_separate_ledgers(client, clf_store, tmp_path):
    install(client, tmp_path)
    first = dc.run(two_models(clf_store, rounds=20), client, progress=False)
    second = dc.run(two_models(clf_store, rounds=20), client, progress=False)
    assert first.run_id != second.run_id
    runs = placement_report(client)["runs"]
    assert {first.run_id, second.run_id} <= set(runs)
    for result in (first, second):
        own = runs[result.run_id]
        assert own["workflow"] == "two-models" and own["status"] == "done"
        assert {k: v["tasks"] for k, v in own["stages"].items()} == {k: v["tasks"] for k, v in result.placements["stages"].items()}
        assert own["cost_busy"] == pytest.approx(result.cost["busy"])
        assert own["started"] >= (first.started_at if result is second else 0)
    # the second run added nothing to the first one's ledger (it closed when the first run ended)
    assert runs[second.run_id]["started"] >= runs[first.run_id]["finished"]
    monitor = client.run_on_scheduler(
        lambda dask_scheduler: dask_scheduler.plugins["daskcollab-stage-monitor"].snapshot())
    rows = {(r["run"], r["stage"]): r for r in monitor}
    assert rows[(first.run_id, "xgb-a")]["state"] == rows[(second.run_id, "xgb-a")]["state"] == "done"


def test_a_stage_only_a_declared_pool_can_run_waits_for_its_worker(pools_cluster, clf_store, tmp_path):
    with Client(pools_cluster) as client:
        client.wait_for_workers(2, timeout=60)
        install(client, tmp_path, no_worker_timeout="300s",
                pools=[{"name": "gpu", "price-per-hour": 2.5, "resources": {"GPU": 1}}])
        src = dc.ZarrSource(clf_store, name="src")
        gpu = dc.XGBoostModel(src, name="gpu-xgb", rounds=5, resources={"GPU": 1})
        wf = dc.Workflow("waits", [dc.Evaluate([gpu], name="ev")])
        outcome: dict = {}
        thread = threading.Thread(target=lambda: outcome.update(result=dc.run(wf, client, progress=False)))
        thread.start()
        try:
            # the GPU stage's tasks wait for a worker of the declared pool (no error, no progress)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not placement_report(client)["waiting_by_pool"].get("gpu"):
                time.sleep(0.2)
            assert placement_report(client)["waiting_by_pool"].get("gpu"), placement_report(client)["decisions"]
            assert "result" not in outcome and thread.is_alive()
            address = client.scheduler.address
            worker = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--resources", "GPU=1", "--preload", "daskcollab.deploy.worker", "--pool", "gpu",
                 "--price", "2.5", "--no-dashboard", "--memory-limit", "2GiB"],
                env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                thread.join(timeout=240)
                assert "result" in outcome, "the run did not finish after the gpu worker joined"
                result = outcome["result"]
                assert result.metrics["gpu-xgb"]["auc"] > 0.5
                assert set(result.placements["stages"]["gpu-xgb"]["pools"]) == {"gpu"}
                assert result.plan["stages"]["gpu-xgb"]["waits"] is True
            finally:
                worker.terminate()
                worker.wait(timeout=30)
        finally:
            thread.join(timeout=5)


def test_a_pool_on_a_cluster_without_the_plugin_is_refused_before_anything_runs(clf_store):
    with dc.local_cluster(n_workers=1, dashboard_address=None) as cluster, Client(cluster) as client:
        src = dc.ZarrSource(clf_store, name="src", pool="cpu-spot")
        with pytest.raises(dc.UnplaceableError, match=r"stage 'src', field 'pool': names pool 'cpu-spot', but the "
                                                      r"scheduler runs no placement plugin.*Fix: start the scheduler"):
            dc.run(dc.Workflow("w", [src]), client, progress=False)
