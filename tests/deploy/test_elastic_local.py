"""Elastic local pools on a real cluster (processes, TCP): each pool follows the run's plan.

One run of three stages (``prep`` on cpu-spot, ``train`` that only the GPU pool can run, ``report``
on cpu-spot), registered with the placement plugin as ``daskcollab.run`` does, its tasks sleeping.
The GPU pool starts at zero workers; the controller on the scheduler asks for its worker before
``train`` is due, lets it go once the plan has nothing more for it, and never touches cpu-spot's
workers while scaling the GPU pool. The bill counts the GPU worker's start-up time.
"""

from __future__ import annotations

import time

import dask
import pytest
from distributed import Client, wait

from daskcollab.deploy import ELASTIC_PLUGIN_NAME, ElasticController, LocalPoolScaler, start_local_pools
from daskcollab.placement import PLUGIN_NAME, PlacementPlugin, Pool, RunSpec, StageSpec, placement_report
from daskcollab.runtime import _remote

POOLS = [
    Pool("cpu-spot", 0.10, workers=1, min_workers=1, max_workers=2),
    Pool("gpu", 2.50, workers=0, min_workers=0, max_workers=1, resources={"GPU": 1}),
]
HANG_GUARD_S = 120


def pools_now(client: Client) -> dict[str, list[str]]:
    """pool -> names of its workers, as the scheduler sees them."""
    out: dict[str, list[str]] = {}
    for w in client.scheduler_info(n_workers=-1)["workers"].values():
        pool = next(r.removeprefix("pool-") for r in w["resources"] if r.startswith("pool-"))
        out.setdefault(pool, []).append(w["name"])
    return {k: sorted(v) for k, v in out.items()}


def wait_until(predicate, what: str, timeout: float = HANG_GUARD_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"hang guard: still waiting for {what}")
        time.sleep(0.1)


def nap(seconds: float, *_inputs) -> float:
    time.sleep(seconds)
    return seconds


def run_three_stages(client: Client, run_id: str) -> tuple[dict, dict]:
    """prep (2 x 1 s) -> train (one 2 s task needing a GPU) -> report (3 s), as one registered run:
    its ledger, and the plan it started with."""
    spec = RunSpec(run_id, "elastic-test", (
        StageSpec("prep", cost=2.0),
        StageSpec("train", inputs=("prep",), resources={"GPU": 1}, cost=2.0),
        StageSpec("report", inputs=("train",), cost=3.0),
    ))
    answer = client.run_on_scheduler(_remote.start_run, spec.to_dict())
    assert answer.get("plan"), answer
    first_plan = answer["plan"]

    def collab(stage):
        return dask.annotate(collab={"workflow": "elastic-test", "run": run_id, "stage": stage, "kind": "task"})

    with collab("prep"):
        prep = [dask.delayed(nap, pure=False)(1.0) for _ in range(2)]
    with collab("train"), dask.annotate(resources={"GPU": 1}):
        train = dask.delayed(nap, pure=False)(2.0, *prep)
    with collab("report"):
        report = dask.delayed(nap, pure=False)(3.0, train)
    futures = dict(zip(("prep", "train", "report"), client.compute([prep, train, report])))
    for stage in ("prep", "train", "report"):
        client.run_on_scheduler(_remote.stage_event, run_id, stage, "running")
    for stage, future in futures.items():
        wait(future, timeout=HANG_GUARD_S)
        client.run_on_scheduler(_remote.stage_event, run_id, stage, "done")
    assert futures["report"].result() == 3.0
    return client.run_on_scheduler(_remote.finish_run, run_id, "done"), first_plan


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    plugin = PlacementPlugin(mode="cheapest", cost_model_path=tmp_path_factory.mktemp("cm") / "cm.json", learn=False)
    elastic = {"startup": 3.0, "interval": 0.2, "cooldown": 0.5}
    with start_local_pools(POOLS, plugin=plugin, elastic=elastic) as cluster, Client(cluster) as client:
        client.wait_for_workers(1, timeout=60)
        yield cluster, client


def test_each_pool_follows_the_plan_and_the_gpu_pool_goes_back_to_zero(cluster):
    cluster, client = cluster
    assert isinstance(cluster.elastic, ElasticController)
    assert pools_now(client) == {"cpu-spot": ["cpu-spot-0"]}  # the GPU pool starts at zero
    ledger, first_plan = run_three_stages(client, "r1")

    # the plan placed train on the GPU pool (its worker joined for it) and the rest on cpu-spot
    assert set(ledger["stages"]["train"]["pools"]) == {"gpu"}
    assert set(ledger["stages"]["prep"]["pools"]) == set(ledger["stages"]["report"]["pools"]) == {"cpu-spot"}
    assert ledger["plan"]["stages"]["train"]["pool"] == "gpu"

    # the plan's pool-size schedule: the GPU worker asked for ahead of train (its start-up paid) and
    # released after it; prep packed onto cpu-spot's live worker: a second one would join (3 s start-up)
    # after prep's 2 x 1 s are done, so the plan never grows cpu-spot
    schedule = first_plan["schedule"]
    assert len(schedule["gpu"]) == 1 and all(joined - requested == pytest.approx(3.0)
                                             for requested, joined, _ in schedule["gpu"])

    # after the run the GPU pool is back to zero and cpu-spot at its min, as the schedule says
    def at_rest():  # the pools' sizes, and the controller's steps that got them there recorded
        steps = {(a.pool, a.scaled.after) for a in cluster.elastic.actions}
        now = pools_now(client)
        return now.keys() == {"cpu-spot"} and len(now["cpu-spot"]) == 1 and ("gpu", 0) in steps

    wait_until(at_rest, "gpu at 0 and cpu-spot at its min")
    actions = cluster.elastic.actions
    gpu = [(a.scaled.before, a.scaled.after) for a in actions if a.pool == "gpu"]
    assert gpu[0] == (0, 1) and gpu[-1] == (1, 0), actions
    for a in actions:  # every retirement was of the pool being scaled
        assert all(name.startswith(f"{a.pool}-") for name in a.scaled.retired), a
    assert not [a for a in actions if a.pool == "cpu-spot"], actions  # the plan never grew it

    # the bill: the GPU worker is paid from the request (start-up) to its leave, not the whole run
    elapsed = ledger["elapsed"]
    assert ledger["startup_seconds_by_pool"]["gpu"] > 0 and ledger["cost_startup_by_pool"]["gpu"] > 0
    assert ledger["cost_startup"] == pytest.approx(sum(ledger["cost_startup_by_pool"].values()))
    gpu_held = ledger["held_seconds_by_pool"]["gpu"]
    assert ledger["startup_seconds_by_pool"]["gpu"] < gpu_held < elapsed - 1.0, ledger["held_seconds_by_pool"]
    report = placement_report(client)
    assert report["startup_cost_by_pool"]["gpu"] > 0 and report["booting_by_pool"] == {}
    assert report["elastic_pools"] == {"cpu-spot": {"min": 1, "max": 2}, "gpu": {"min": 0, "max": 1}}
    assert set(report["demand"]) == {"cpu-spot", "gpu"}


def test_demand_names_the_run_stages_while_they_wait(cluster):
    """While a run is planned, the plugin's demand has each stage's window on its pool."""
    cluster, client = cluster
    spec = RunSpec("r2", "elastic-test", (StageSpec("train", resources={"GPU": 1}, cost=600.0),))
    client.run_on_scheduler(_remote.start_run, spec.to_dict())
    try:
        demand = placement_report(client)["demand"]
        (need,) = demand["gpu"]["needs"]
        assert (need["run"], need["stage"], need["workers"]) == ("r2", "train", 1)
        assert need["finish"] - need["start"] == pytest.approx(600.0, rel=0.01)  # 600 s of work on one worker
        assert demand["cpu-spot"]["needs"] == []
    finally:
        client.run_on_scheduler(_remote.finish_run, "r2", "failed")


def test_stopping_the_controller_plans_on_live_pools_again_and_a_client_side_one_scales_through_any_scaler(cluster):
    cluster, client = cluster
    cluster.elastic.stop()
    assert cluster.elastic is None
    plugins = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.plugins))
    assert ELASTIC_PLUGIN_NAME not in plugins and PLUGIN_NAME in plugins
    assert placement_report(client)["elastic_pools"] == {}

    # the client-side controller (what drives Kubernetes) on the same pools, through a LocalPoolScaler
    with ElasticController(LocalPoolScaler(cluster), client=client, startup=3.0, interval=0.3, cooldown=0.5) as elastic:
        assert placement_report(client)["elastic_pools"]  # it declared its pools
        gpu_tasks = client.map(nap, [0.5] * 3, resources={"GPU": 1}, pure=False)  # only the GPU pool can run them
        assert client.gather(gpu_tasks, errors="raise") == [0.5] * 3
        wait_until(lambda: "gpu" not in pools_now(client) and any(
            (a.pool, a.scaled.after) == ("gpu", 0) for a in elastic.actions), "the GPU pool back at zero")
        steps = [(a.pool, a.scaled.before, a.scaled.after) for a in elastic.actions]
        assert ("gpu", 0, 1) in steps and ("gpu", 1, 0) in steps, steps
        assert elastic.policy.measured["gpu"] >= 1  # it measured the GPU worker's start-up time
    assert placement_report(client)["elastic_pools"] == {}
    assert pools_now(client).keys() == {"cpu-spot"} and len(pools_now(client)["cpu-spot"]) == 1
