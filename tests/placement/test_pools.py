"""Pool metadata, the worker preload and the local heterogeneous cluster (real processes)."""

from __future__ import annotations

import pytest
from distributed import Client

from daskcollab._errors import DaskCollabError
from daskcollab.placement import (
    EXAMPLE_POOLS,
    Mode,
    Pool,
    TaskSpec,
    plan_report,
    pool_of_label,
    pool_resource,
    pool_worker_specs,
    start_local_pools,
    worker_metadata,
)
from daskcollab.placement._pools import (
    POOL_LABEL_QUANTITY,
    WorkerInfo,
    pool_from_mapping,
    pools_from_workers,
    split_resources,
    worker_info,
)


def test_pool_label_round_trip():
    assert pool_resource("cpu-spot") == "pool-cpu-spot"
    assert pool_of_label(pool_resource("cpu-spot")) == "cpu-spot"
    assert pool_of_label("GPU") is None
    assert split_resources({"GPU": 1, "pool-gpu": 1}) == ({"GPU": 1}, ["gpu"])
    with pytest.raises(DaskCollabError, match=r"non-empty pool name, got ''"):
        pool_resource("")


def test_worker_metadata_validates():
    assert worker_metadata("gpu", 2.5, 1.0) == {"pool": "gpu", "price_per_hour": 2.5, "speed": 1.0}
    with pytest.raises(DaskCollabError, match=r"speed.*> 0, got -1.*Fix: pass --speed"):
        worker_metadata("gpu", 2.5, -1)
    with pytest.raises(DaskCollabError, match=r"price per hour >= 0, got -0.5"):
        worker_metadata("gpu", -0.5)


def test_worker_info_prefers_metadata_then_label():
    meta = {"daskcollab": {"pool": "fast", "price_per_hour": 0.4, "speed": 2.0}}
    info = worker_info("tcp://a:1", meta, {"pool-fast": POOL_LABEL_QUANTITY, "GPU": 1})
    assert (info.pool, info.price_per_hour, info.speed, dict(info.resources)) == ("fast", 0.4, 2.0, {"GPU": 1})
    label_only = worker_info("tcp://b:1", {}, {"pool-spot": 1})
    assert (label_only.pool, label_only.price_per_hour) == ("spot", 0.0)
    assert worker_info("tcp://c:1", {}, {"GPU": 1}) is None


def test_pools_from_workers_counts_and_common_resources():
    pools = pools_from_workers(
        [
            WorkerInfo("a", "gpu", 2.5, 1.0, {"GPU": 2}),
            WorkerInfo("b", "gpu", 2.5, 1.0, {"GPU": 1}),
            WorkerInfo("c", "spot", 0.1, 1.0, {}),
        ]
    )
    assert pools["gpu"].workers == 2 and dict(pools["gpu"].resources) == {"GPU": 1}
    assert pools["spot"].price_per_hour == 0.1


def test_pool_from_mapping_and_errors():
    pool = pool_from_mapping({"name": "gpu", "price-per-hour": 2.5, "resources": {"GPU": 1}, "workers": 2})
    assert (pool.price_per_hour, pool.workers, dict(pool.resources)) == (2.5, 2, {"GPU": 1.0})
    with pytest.raises(DaskCollabError, match=r"expected a mapping with at least 'name'.*got \{'price': 1\}"):
        pool_from_mapping({"price": 1})
    with pytest.raises(DaskCollabError, match=r"pool 'x' to have >= 1 worker, got 0"):
        pool_worker_specs([Pool("x", 0.1, workers=0)])


def test_worker_specs_carry_preload_env_and_resources():
    specs = pool_worker_specs(EXAMPLE_POOLS)
    assert sorted(specs) == ["cpu-ondemand-0", "cpu-spot-0", "cpu-spot-1", "gpu-0"]
    gpu = specs["gpu-0"]["options"]
    assert gpu["preload"] == ["daskcollab.placement.worker"]
    assert gpu["env"] == {"DASKCOLLAB_POOL": "gpu", "DASKCOLLAB_PRICE": "2.5", "DASKCOLLAB_SPEED": "1.0"}
    assert gpu["resources"] == {"GPU": 1}


def test_plan_report_lists_every_mode_and_pool():
    pools = [Pool("spot", 0.1, 1.0, 2), Pool("fast", 0.4, 2.0, 1)]
    tasks = [TaskSpec(i, work=10.0) for i in range(6)]
    report = plan_report(tasks, pools, budget=1e-9, deadline=1e9)
    lines = report.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == [m.value for m in Mode]
    assert "MISS" in lines[1]  # a budget of ~0 cannot be met
    assert "lower bounds" in lines[-1]


def test_local_pools_advertise_metadata_and_survive_restart():
    pools = [Pool("spot", 0.1, 1.0, workers=1), Pool("gpu", 2.5, 1.0, workers=1, resources={"GPU": 1})]
    with start_local_pools(pools, plugin=False) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=30)

        def describe(dask_scheduler):
            return {
                ws.name: (ws.extra.get("daskcollab"), dict(ws.resources)) for ws in dask_scheduler.workers.values()
            }

        before = client.run_on_scheduler(describe)
        assert before["gpu-0"][0] == {"pool": "gpu", "price_per_hour": 2.5, "speed": 1.0}
        assert before["gpu-0"][1] == {"GPU": 1, "pool-gpu": POOL_LABEL_QUANTITY}
        assert before["spot-0"][1] == {"pool-spot": POOL_LABEL_QUANTITY}
        old = {ws["name"]: addr for addr, ws in client.scheduler_info()["workers"].items()}
        client.restart_workers([old["gpu-0"]])
        client.wait_for_workers(2, timeout=30)
        after = client.run_on_scheduler(describe)
        new = {ws["name"]: addr for addr, ws in client.scheduler_info()["workers"].items()}
        assert new["gpu-0"] != old["gpu-0"]  # a new address ...
        assert after["gpu-0"] == before["gpu-0"]  # ... same pool label and metadata
        # a task restricted by the pool label runs on the restarted worker
        fut = client.submit(lambda: 1, resources={pool_resource("gpu"): 1}, pure=False)
        assert fut.result(timeout=10) == 1
        assert client.who_has(fut)[fut.key] == (new["gpu-0"],)
