"""The placement plugin on real local clusters of pools (worker processes, TCP)."""

from __future__ import annotations

import json
import time

import dask
import pytest
from distributed import Client

from daskcollab import testing
from daskcollab._errors import BudgetError, UnplaceableError
from daskcollab.deploy import start_local_pools
from daskcollab.placement import (
    PlacementPlugin,
    Pool,
    load_cost_model,
    placement_report,
    pool_resource,
    save_cost_model,
)

POOLS = [
    Pool("spot", price_per_hour=0.10, speed=1.0, workers=2),
    Pool("fast", price_per_hour=0.40, speed=2.0, workers=1),
    Pool("gpu", price_per_hour=2.50, speed=1.0, workers=1, resources={"GPU": 1}),
]


def sleepy(seconds, *deps):
    t0 = time.perf_counter()
    time.sleep(seconds)
    return time.perf_counter() - t0


@pytest.fixture
def client(pools_client):
    return pools_client


def install(client, **kwargs):
    """Replace the scheduler's placement plugin (a fresh run: fresh ledger, cost model from disk)."""
    testing.use_placement_plugin(client, **kwargs)


def pool_of_workers(client):
    return {addr: w["name"].rsplit("-", 1)[0] for addr, w in client.scheduler_info()["workers"].items()}


def stage(name, n, seconds, *, mode=None, **collab):
    ann = {"workflow": "wf", "stage": name, "kind": "task", "work": seconds, **collab}
    if mode:
        ann["mode"] = mode
    with dask.annotate(collab=ann):
        return [dask.delayed(sleepy, pure=False)(seconds) for _ in range(n)]


def test_pinned_and_planned_stages_run_on_their_pools(client, tmp_path):
    install(client, cost_model_path=tmp_path / "cm.json", mode="cheapest")
    where = pool_of_workers(client)
    pinned = stage("pinned", 6, 0.1, pool="fast")
    with dask.annotate(resources={pool_resource("fast"): 1}):
        pinned_f = client.compute(pinned)
    planned_f = client.compute(stage("planned", 8, 0.1))
    client.gather(pinned_f + planned_f)
    report = placement_report(client)
    ran = {k: where[v[0]] for k, v in report["ran_on"].items()}
    assert {ran[f.key] for f in pinned_f} == {"fast"}
    # cheapest mode: the whole planned stage on the cheap pool (plain Dask spreads over all 4 workers)
    assert {ran[f.key] for f in planned_f} == {"spot"}
    assert {report["placements"][str(f.key)] for f in planned_f} == {"spot"}
    reasons = {(d["stage"], d["pool"], d["reason"]) for d in report["decisions"]}
    assert ("pinned", "fast", "pinned") in reasons and ("planned", "spot", "plan") in reasons


def test_tasks_without_annotation_or_with_worker_restrictions_are_left_alone(client, tmp_path):
    install(client, cost_model_path=tmp_path / "cm.json", mode="cheapest")
    gpu_addr = next(a for a, p in pool_of_workers(client).items() if p == "gpu")
    plain = client.submit(sleepy, 0.01, pure=False)
    with dask.annotate(collab={"workflow": "wf", "stage": "xgb", "kind": "model", "work": 0.01}):
        pinned = client.submit(sleepy, 0.01, workers=[gpu_addr], pure=False)
    client.gather([plain, pinned])

    def restrictions(dask_scheduler, keys):
        return {k: (dask_scheduler.tasks[k].resource_restrictions, dask_scheduler.tasks[k].worker_restrictions) for k in keys}

    r = client.run_on_scheduler(restrictions, keys=[plain.key, pinned.key])
    assert r[plain.key] == (None, None)
    assert r[pinned.key] == (None, {gpu_addr})
    assert client.who_has(pinned)[pinned.key] == (gpu_addr,)


@pytest.mark.parametrize("with_dependency", [False, True])
def test_unplaceable_resources_fail_without_waiting_for_their_inputs(client, tmp_path, with_dependency):
    install(client, cost_model_path=tmp_path / "cm.json")
    slow = dask.delayed(sleepy, pure=False)(30.0)
    with dask.annotate(resources={"TPU": 1}, collab={"workflow": "wf", "stage": "train", "kind": "model", "work": 1}):
        x = dask.delayed(sleepy, pure=False)(0.01, *([slow] if with_dependency else []))
    fut, slow_fut = client.compute([x, slow])
    with pytest.raises(UnplaceableError, match=r"stage 'train', field 'resources'.*\{'TPU': 1\}.*pools available: fast .*gpu .*'GPU'.*spot "):
        fut.result(timeout=60)  # a hang guard: the task errs, it never waits in no-worker
    assert not slow_fut.done()  # it erred while its 30 s input was still running: it did not wait for it
    client.cancel(slow_fut)


def test_unknown_pool_fails_fast_and_names_the_pool(client, tmp_path):
    install(client, cost_model_path=tmp_path / "cm.json")
    with dask.annotate(resources={pool_resource("tpu-pod"): 1}):
        x = stage("embed", 1, 0.01, pool="tpu-pod")[0]
        fut = client.compute(x)
    with pytest.raises(UnplaceableError, match=r"stage 'embed'.*pool 'tpu-pod'.*pools available: fast"):
        fut.result(timeout=60)  # a hang guard: it errs instead of waiting in no-worker
    # a pool the plugin was told about (declared, no workers yet) does not fail fast
    install(client, cost_model_path=tmp_path / "cm.json", pools=[{"name": "tpu-pod", "price-per-hour": 9.0}],
            no_worker_timeout="1.5s")
    with dask.annotate(resources={pool_resource("tpu-pod"): 1}):
        fut = client.compute(stage("embed", 1, 0.01, pool="tpu-pod")[0])
    time.sleep(1.0)
    assert fut.status == "pending"
    # ... but it does not wait forever either: the no-worker timeout errs it
    with pytest.raises(UnplaceableError, match=r"waited \d+ s \(no-worker-timeout\).*pool 'tpu-pod'"):
        fut.result(timeout=10)


def test_resource_only_a_declared_empty_pool_has_waits_then_times_out(client, tmp_path):
    # Regression: a TPU task (only the declared, empty 'tpu-pod' has TPU) used to make plan() raise
    # inside update_graph. Now it waits (bounded by the no-worker timeout) while the rest runs.
    # A timeout far longer than the other tasks take, even on a loaded machine; once they are done
    # a plugin with a 1 s timeout replaces it, and the TPU task (waiting longer than that) errs.
    tpu_pool = [{"name": "tpu-pod", "price-per-hour": 9.0, "resources": {"TPU": 1}}]
    install(client, cost_model_path=tmp_path / "cm.json", no_worker_timeout="10m", pools=tpu_pool)
    before = stage("prep", 2, 0.01)
    with dask.annotate(resources={"TPU": 1}, collab={"workflow": "wf", "stage": "embed", "kind": "model", "work": 1}):
        tpu = dask.delayed(sleepy, pure=False)(0.01, *before)
    after = stage("report", 2, 0.01)
    futs = client.compute([tpu, *before, *after])
    client.gather(futs[1:])  # the tasks live pools can run finish
    assert futs[0].status == "pending"
    decisions = placement_report(client)["decisions"]
    assert {d["stage"] for d in decisions if d["reason"] == "plan"} >= {"prep", "report"}
    time.sleep(1.5)  # the TPU task has now waited longer than the new plugin's timeout
    install(client, cost_model_path=tmp_path / "cm.json", no_worker_timeout="1s", pools=tpu_pool)
    with pytest.raises(UnplaceableError, match=r"stage 'embed'.*waited \d+ s \(no-worker-timeout\).*'TPU'.*tpu-pod"):
        futs[0].result(timeout=90)


def test_money_accounting_matches_busy_seconds_times_price(client, tmp_path):
    install(client, cost_model_path=tmp_path / "cm.json", mode="fastest")
    where = pool_of_workers(client)
    futs = client.compute(stage("acct", 12, 0.15))
    durations = client.gather(futs)
    report = placement_report(client)
    busy = {}
    for f, d in zip(futs, durations):
        pool = where[report["ran_on"][f.key][0]]
        busy[pool] = busy.get(pool, 0.0) + d
    prices = {p.name: p.price_per_hour for p in POOLS}
    assert len(busy) >= 2  # fastest mode spreads over pools
    for pool, seconds in busy.items():
        assert report["busy_seconds_by_pool"][pool] == pytest.approx(seconds, rel=0.05, abs=0.01)
        assert report["cost_by_pool"][pool] == pytest.approx(seconds * prices[pool] / 3600, rel=0.05)
    assert report["cost"] == pytest.approx(sum(report["cost_by_pool"].values()))
    assert report["cost_by_stage"]["acct"] == pytest.approx(report["cost"])


def test_cost_model_learns_across_runs(client, tmp_path):
    path = tmp_path / "cm.json"
    install(client, cost_model_path=path, mode="cheapest")
    # run 1: the stage's cost estimate is 30x too low (0.01 s per task claimed, 0.3 s real)
    with dask.annotate(collab={"workflow": "wf", "stage": "learn", "kind": "task", "cost": 0.04}):
        run1 = [dask.delayed(sleepy, pure=False)(0.3) for _ in range(4)]
    client.gather(client.compute(run1))
    first = [d for d in placement_report(client)["decisions"] if d["stage"] == "learn"]
    assert sum(d["estimated_work"] for d in first) == pytest.approx(0.04)
    assert save_cost_model(client) == str(path)
    assert "learn" in json.dumps(json.loads(path.read_text()))
    learned = load_cost_model(path).estimate("learn", "sleepy", None, 0.01, workflow="wf")
    assert load_cost_model(path).estimate("learn", "sleepy", None, 0.01, workflow="other") == 0.01  # per workflow
    assert 0.25 < learned < 0.5
    # run 2: a fresh plugin (as after a scheduler restart) loads the file and plans with what it saw
    install(client, cost_model_path=path, mode="cheapest")
    with dask.annotate(collab={"workflow": "wf", "stage": "learn", "kind": "task", "cost": 0.04}):
        run2 = [dask.delayed(sleepy, pure=False)(0.3) for _ in range(4)]
    client.gather(client.compute(run2))
    second = [d for d in placement_report(client)["decisions"] if d["stage"] == "learn"]
    assert sum(d["estimated_work"] for d in second) == pytest.approx(4 * learned, rel=0.01)
    # the per-task overhead (a free worker's wait for its next task) is learned and planned with too:
    # 4 tasks on 2 spot workers, so each worker's second task gives one observation per run
    save_cost_model(client)
    overhead_sum, observed = json.loads(path.read_text())["overhead"]
    assert observed >= 2 and 0.0 <= overhead_sum / observed < 0.5
    assert placement_report(client)["task_overhead"] == pytest.approx(overhead_sum / observed)


def test_slippage_is_learned_and_deadline_plans_aim_earlier(client, tmp_path):
    path = tmp_path / "cm.json"
    install(client, cost_model_path=path, mode="cheapest")
    # run 1: 12 tasks claim 0.2 s each but sleep 0.4 s: on the 2 spot workers the 1.2 s plan takes ~2.4 s
    with dask.annotate(collab={"workflow": "wf", "stage": "slow", "kind": "task", "work": 0.2}):
        run1 = [dask.delayed(sleepy, pure=False)(0.4) for _ in range(12)]
    client.gather(client.compute(run1))
    slip = placement_report(client)["slippage"]
    assert 1.5 < slip < 3.0
    save_cost_model(client)
    # run 2, deadline 1.5 s: the all-spot plan (1.2 s) would meet it on paper; with the slippage
    # learned the plan aims for 1.5 / slip and moves work to the fast pool
    install(client, cost_model_path=path, mode="cheapest")
    with dask.annotate(collab={"workflow": "wf", "stage": "slow", "kind": "task", "work": 0.2, "deadline": 1.5}):
        run2 = [dask.delayed(sleepy, pure=False)(0.2) for _ in range(12)]
    futs = client.compute(run2)
    client.gather(futs)
    report = placement_report(client)
    assert report["slippage"] > 1.3  # loaded from run 1 (and refined by run 2)
    assert "fast" in {report["placements"][str(f.key)] for f in futs}
    decision = next(d for d in report["decisions"] if d["stage"] == "slow" and d["reason"] == "plan")
    assert decision["estimated_makespan"] > 1.0  # the prediction includes the slippage


def test_tasks_below_min_work_are_left_to_dask_but_accounted(client, tmp_path):
    install(client, cost_model_path=tmp_path / "cm.json", mode="cheapest")
    tiny = stage("tiny", 20, 0.001)  # 1 ms of work: below the 5 ms default min-work
    big = stage("big", 4, 0.05)
    futs = client.compute(tiny + big)
    client.gather(futs)

    def restrictions(dask_scheduler, keys):
        return [dask_scheduler.tasks[k].resource_restrictions for k in keys]

    assert client.run_on_scheduler(restrictions, keys=[f.key for f in futs[:20]]) == [None] * 20
    assert client.run_on_scheduler(restrictions, keys=[f.key for f in futs[20:]]) == [{pool_resource("spot"): 1}] * 4
    report = placement_report(client)
    reasons = {(d["stage"], d["reason"]) for d in report["decisions"]}
    assert ("tiny", "below min-work") in reasons and ("big", "plan") in reasons
    assert sum(report["tasks_by_pool"].values()) >= 24  # the tiny ones are accounted where they ran


def test_budget_and_deadline(client, tmp_path):
    install(client, cost_model_path=tmp_path / "cm.json", on_budget_miss="fail")
    futs = client.compute(stage("costly", 4, 0.05, budget=1e-12))
    with pytest.raises(BudgetError, match=r"stage 'costly', field 'budget': budget \$1e-12 but the balanced plan costs"):
        client.gather(futs)
    assert "costly" not in placement_report(client)["cost_by_stage"]  # refused before any of its tasks ran
    # warn (default): the run completes, the miss is recorded for the report
    install(client, cost_model_path=tmp_path / "cm.json")
    client.gather(client.compute(stage("late", 2, 0.05, deadline=1e-6)))
    misses = [d for d in placement_report(client)["decisions"] if d["reason"] == "budget"]
    assert misses and "deadline 1e-06 s" in misses[0]["message"]
    # a generous budget is met and nothing is recorded as a miss
    install(client, cost_model_path=tmp_path / "cm.json")
    client.gather(client.compute(stage("fine", 2, 0.05, budget=100.0)))
    report = placement_report(client)
    assert report["budget"] == 100.0 and report["over_budget"] is False
    assert not [d for d in report["decisions"] if d["reason"] == "budget"]


def test_replans_when_a_pool_loses_its_workers(tmp_path):
    pools = [Pool("spot", 0.10, 1.0, workers=1), Pool("fast", 0.40, 2.0, workers=1)]
    with start_local_pools(pools, plugin=PlacementPlugin(cost_model_path=tmp_path / "cm.json", mode="cheapest")) as cluster:
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=30)
            where = pool_of_workers(client)
            spot = next(a for a, p in where.items() if p == "spot")
            futs = client.compute(stage("work", 8, 0.2))
            time.sleep(0.5)  # a couple of tasks ran on spot
            client.retire_workers([spot], close_workers=True)
            client.gather(futs, errors="raise")  # completes: nothing stranded in no-worker
            report = placement_report(client)
            assert any(d["reason"] == "replan" and d["pool"] == "fast" for d in report["decisions"])
            assert "fast" in {where.get(v[0]) for v in report["ran_on"].values()}


@pytest.mark.slow
def test_benchmark_quick_smoke(tmp_path):
    import os
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_placement.py"), "--quick"],
                          capture_output=True, text=True, timeout=900, cwd=root,  # a hang guard, not a limit
                          env={**os.environ, "DASKCOLLAB_BENCH_RESULTS": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = tmp_path / "placement_quick.json"
    data = json.loads(path.read_text())
    assert set(data["workflows"]) == {"montage@0.5s", "genome@0.5s"}
    shape = data["workflows"]["montage@0.5s"]
    runs = shape["runs"]
    assert set(runs) == {"dask-default", "fastest", "cheapest", "cheapest@dask", "balanced"}
    assert all(r["makespan_s"] > 0 and r["cost"] > 0 and r["lp_bound_at_makespan"] > 0 for r in runs.values())
    # the plugin's own ledger and the tasks' self-reported busy seconds agree on money
    for mode in ("fastest", "cheapest", "balanced"):
        assert runs[mode]["plugin_cost"] == pytest.approx(runs[mode]["cost"], rel=0.05)
    assert {"front_cost_at_dask_makespan_vs_bound", "cheapest_deadline", "cheapest_cost_vs_bound",
            "fastest_follows_plan"} <= shape["checks"].keys()
    assert {"us_per_task", "wall_ratio"} <= data["overhead"]["checks"].keys()


def test_a_worker_runs_its_queued_tasks_in_the_plan_order(tmp_path):
    """Six independent tasks, longest planned first (HEFT), where Dask's own order runs them the other way."""
    def timed(seconds):
        start = time.time()
        time.sleep(seconds)
        return start

    def graph():
        out = []
        for i, work in enumerate([0.3, 0.25, 0.2, 0.15, 0.1, 0.05]):
            with dask.annotate(collab={"workflow": "o", "stage": f"s{i}", "kind": "task", "work": work}):
                out.append(dask.delayed(timed, pure=False)(work, dask_key_name=f"t{i}-{time.time_ns()}"))
        return out

    keys = [f"t{i}" for i in range(6)]
    runs = {}
    for plugin in (False, PlacementPlugin(cost_model_path=tmp_path / "cm.json", mode="fastest")):
        with start_local_pools([Pool("one", 0.1, 1.0, 1)], plugin=plugin) as cluster, Client(cluster) as c:
            c.wait_for_workers(1, timeout=60)
            started = dict(zip(keys, c.gather(c.compute(graph()))))
            runs[bool(plugin)] = sorted(keys, key=started.get)
    assert runs[True] == keys  # the plan's order: longest first
    assert runs[False] != keys  # Dask's own order differs: the test would fail without the plugin's order


@pytest.mark.parametrize("kwargs,field", [({"no_worker_timeout": "10min"}, "no_worker_timeout"),
                                          ({"task_overhead": "fast"}, "task_overhead"),
                                          ({"mode": "quickest"}, "mode"),
                                          ({"budget_counts": "idle"}, "budget_counts"),
                                          ({"on_budget_miss": "explode"}, "on_budget_miss")])
def test_bad_plugin_arguments_are_refused_on_the_client(kwargs, field):
    """Not a KeyError inside the scheduler's plugin start (which broke the client's connection)."""
    from daskcollab import UsageError
    from daskcollab.placement import PlacementPlugin

    with pytest.raises(UsageError, match=rf"PlacementPlugin, field '{field}': .* Fix: pass "):
        PlacementPlugin(**kwargs)
