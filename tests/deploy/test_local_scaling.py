"""Per-pool scaling of local pools on a real cluster (processes, TCP): one pool at a time, data kept."""

from __future__ import annotations

import pytest
from distributed import Client

from daskcollab._errors import DaskCollabError
from daskcollab.deploy import SCALING_PLUGIN_NAME, LocalPoolScaler, PoolScaler, start_local_pools
from daskcollab.placement import Pool, pool_resource

POOLS = [
    Pool("spot", 0.10, workers=1, min_workers=0, max_workers=2),
    Pool("gpu", 2.50, workers=1, min_workers=0, max_workers=1, resources={"GPU": 1}),
]


def pools_of_workers(client: Client) -> dict[str, str]:
    """worker address -> pool, as the scheduler sees it."""
    return {addr: next(r.removeprefix("pool-") for r in w["resources"] if r.startswith("pool-"))
            for addr, w in client.scheduler_info(n_workers=-1)["workers"].items()}


def block(size: int) -> bytes:
    return b"x" * size


@pytest.fixture(scope="module")
def pools_cluster():
    with start_local_pools(POOLS, plugin=False) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        yield cluster, client


def test_scaler_protocol_and_bounds(pools_cluster):
    cluster, _client = pools_cluster
    scaler = LocalPoolScaler(cluster)
    assert isinstance(scaler, PoolScaler)
    assert {name: (p.min_workers, p.max_workers) for name, p in scaler.pools.items()} == {"spot": (0, 2), "gpu": (0, 1)}
    assert (scaler.workers("spot"), scaler.workers("gpu")) == (1, 1)
    with pytest.raises(DaskCollabError, match=r"^stage 'scale', field 'pools.gpu.workers': expected a whole number of "
                       r"workers in \[min 0, max 1\], got 2. Fix: ask for 0..1 workers"):
        scaler.scale("gpu", 2)
    with pytest.raises(DaskCollabError, match=r"field 'pool': expected one of \['gpu', 'spot'\], got 'tpu'"):
        scaler.scale("tpu", 1)


def test_dask_alone_retires_another_pools_worker(pools_cluster):
    """The cross-pool retirement of dask-kubernetes#914, as Dask itself does it: asked for one worker to
    close (what the operator asks when *one* group shrinks), the scheduler picks the idle one without
    data, whatever its pool. Nothing is retired here; only the choice is shown."""
    cluster, client = pools_cluster
    keep = client.submit(block, 2**20, resources={pool_resource("spot"): 1}, pure=False)
    keep.result()
    pools = pools_of_workers(client)
    (picked,) = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.workers_to_close(n=1))
    assert pools[picked] == "gpu"  # shrinking "spot" this way would retire the GPU worker

    def scoped(dask_scheduler):
        plugin = dask_scheduler.plugins[SCALING_PLUGIN_NAME]
        with plugin.only("spot"):
            return dask_scheduler.workers_to_close(n=1)

    (picked,) = client.run_on_scheduler(scoped)
    assert pools[picked] == "spot"  # through the plugin's hook: that pool's worker, although it holds data
    del keep


def test_declared_min_protects_a_pool_from_any_downscale():
    pools = [Pool("spot", 0.10, workers=1, min_workers=0), Pool("gpu", 2.50, workers=1, min_workers=1)]
    with start_local_pools(pools, plugin=False) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        keep = client.submit(block, 2**20, resources={pool_resource("spot"): 1}, pure=False)
        keep.result()
        pools_ = pools_of_workers(client)
        closable = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.workers_to_close(n=2))
        assert [pools_[a] for a in closable] == ["spot"]  # gpu stays at its min of 1


def test_local_pool_scaler_grows_and_shrinks_one_pool_keeping_its_data(pools_cluster):
    cluster, client = pools_cluster
    scaler = LocalPoolScaler(cluster)
    before = pools_of_workers(client)
    spot_worker = next(a for a, p in before.items() if p == "spot")

    grown = scaler.scale("spot", 2)
    assert (grown.before, grown.after, grown.retired) == (1, 2, ())
    client.wait_for_workers(3, timeout=60)
    now = pools_of_workers(client)
    assert sorted(now.values()) == ["gpu", "spot", "spot"]
    assert set(before) <= set(now)  # nobody replaced

    # data only the GPU worker holds
    on_gpu = client.submit(block, 3 * 2**20, resources={pool_resource("gpu"): 1}, pure=False)
    on_gpu.result()
    (gpu_worker,) = client.who_has(on_gpu)[on_gpu.key]
    assert now[gpu_worker] == "gpu"

    shrunk = scaler.scale("gpu", 0)
    assert (shrunk.before, shrunk.after, shrunk.retired, shrunk.kept) == (1, 0, ("gpu-0",), ())
    after = pools_of_workers(client)
    assert sorted(after.values()) == ["spot", "spot"]
    assert spot_worker in after  # the spot workers were not touched
    (holder,) = client.who_has(on_gpu)[on_gpu.key]
    assert after[holder] == "spot"  # the GPU worker's data moved before it left
    assert len(on_gpu.result()) == 3 * 2**20
    assert scaler.workers("gpu") == 0

    back = scaler.scale("gpu", 1)
    assert back.after == 1
    client.wait_for_workers(3, timeout=60)
    assert sorted(pools_of_workers(client).values()) == ["gpu", "spot", "spot"]
    assert client.submit(lambda: 7, resources={"GPU": 1}, pure=False).result(timeout=30) == 7
    assert scaler.scale("spot", 1).after == 1
    client.wait_for_workers(2, timeout=30)
    assert sorted(pools_of_workers(client).values()) == ["gpu", "spot"]
