"""Local pools: worker specs, the worker preload on real processes, and per-pool scaling on a real cluster."""

from __future__ import annotations

import pytest
from distributed import Client

from daskcollab._errors import DaskCollabError
from daskcollab.deploy import pool_worker_specs, start_local_pools
from daskcollab.placement import EXAMPLE_POOLS, Pool, pool_resource
from daskcollab.placement._pools import POOL_LABEL_QUANTITY


def test_pool_worker_specs_need_a_worker_or_room_to_grow():
    with pytest.raises(DaskCollabError, match=r"pool 'x' to have >= 1 worker, got 0"):
        pool_worker_specs([Pool("x", 0.1, workers=0)])
    assert pool_worker_specs([Pool("x", 0.1, workers=0, max_workers=2)]) == {}
    with pytest.raises(DaskCollabError, match=r"unique pool names, got 'x' twice"):
        pool_worker_specs([Pool("x", 0.1), Pool("x", 0.2)])


def test_worker_specs_carry_preload_env_and_resources():
    specs = pool_worker_specs(EXAMPLE_POOLS)
    assert sorted(specs) == ["cpu-ondemand-0", "cpu-spot-0", "cpu-spot-1", "gpu-0"]
    gpu = specs["gpu-0"]["options"]
    assert gpu["preload"] == ["daskcollab.deploy.worker"]
    assert gpu["env"] == {"DASKCOLLAB_POOL": "gpu", "DASKCOLLAB_PRICE": "2.5", "DASKCOLLAB_SPEED": "1.0"}
    assert gpu["resources"] == {"GPU": 1}


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
