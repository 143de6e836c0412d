"""daskcollab on Kubernetes through dask-kubernetes, against an emulated API server (see ``kubesim.py``).

Real: kr8s, ``KubeCluster``, the dask-kubernetes operator's handler functions, the scheduler and
worker processes (started from the pods' container args and env), Dask. Emulated: the API server
(kmock, with the operator's CRD schemas enforced), the kubelet, cluster DNS.
"""

from __future__ import annotations

import pytest

pytest.importorskip("kmock", reason="install the test extra: pip install -e '.[test]'")
from kubesim import kube_pools_cluster, pools_of_workers  # noqa: E402

from daskcollab.deploy import KubePool, KubePoolScaler, PoolScaler, worker_group
from daskcollab.placement import PLUGIN_NAME, Pool, pool_resource

pytestmark = pytest.mark.kubernetes

IMAGE = "ghcr.io/example/daskcollab:0.1.0"
POOLS = [
    Pool("cpu-spot", 0.10, workers=1, min_workers=0, max_workers=2),
    KubePool(Pool("cpu-ondemand", 0.40, speed=2.0, workers=1, min_workers=0, max_workers=2), nthreads=2),
    Pool("gpu", 2.50, workers=1, min_workers=0, max_workers=1, resources={"GPU": 1}),
]
NAMES = ["cpu-spot", "cpu-ondemand", "gpu"]


# Tasks use builtins (``bytes(n)``: n bytes) and lambdas: the worker processes here, as in a real image,
# cannot import this test module, so functions defined in it by name would not unpickle there.


def replicas(kube, cluster: str = "collab") -> dict[str, int]:
    return kube.replicas(cluster)


def deployments(kube, group: str) -> list[str]:
    return [d["metadata"]["name"] for d in kube.objects("deployments")
            if d["metadata"]["labels"].get("dask.org/workergroup-name") == group]


@pytest.fixture(scope="module")
def cluster(kube_module):
    with kube_pools_cluster(kube_module, POOLS, IMAGE, 3, "3 workers") as running:
        yield running


def test_one_worker_group_per_pool_and_tasks_land_on_their_pools(kube_module, cluster):
    kube = kube_module
    cluster, client = cluster
    assert replicas(kube) == {"default": 1, "cpu-ondemand": 1, "gpu": 1}  # the first pool is <name>-default
    pod_pools = {p["metadata"]["labels"]["dask.org/workergroup-name"]: p["metadata"]["labels"]["daskcollab/pool"]
                 for p in kube.objects("pods") if p["metadata"]["labels"].get("dask.org/component") == "worker"}
    assert pod_pools == {"collab-default": "cpu-spot", "collab-cpu-ondemand": "cpu-ondemand", "collab-gpu": "gpu"}
    assert sorted(pools_of_workers(client).values()) == ["cpu-ondemand", "cpu-spot", "gpu"]

    def scheduler_state(dask_scheduler):  # local, so pickled by value
        import dask.config

        return {
            "plugins": sorted(dask_scheduler.plugins),
            "mode": dask.config.get("collab.placement.mode"),
            "declared": [(p["name"], p["min"], p["max"]) for p in dask.config.get("collab.placement.pools")],
            "workers": {ws.extra["daskcollab"]["pool"]: (ws.extra["daskcollab"], dict(ws.resources), ws.nthreads)
                        for ws in dask_scheduler.workers.values()},
        }

    state = client.run_on_scheduler(scheduler_state)
    assert PLUGIN_NAME in state["plugins"] and "daskcollab-pool-scaling" in state["plugins"]  # the preload ran
    assert state["mode"] == "cheapest"  # start_kube_cluster(config=...) reached the scheduler
    assert state["declared"] == [("cpu-spot", 0, 2), ("cpu-ondemand", 0, 2), ("gpu", 0, 1)]  # known before pods
    assert state["workers"] == {
        "cpu-spot": ({"pool": "cpu-spot", "price_per_hour": 0.1, "speed": 1.0}, {"pool-cpu-spot": 1e6}, 1),
        "cpu-ondemand": ({"pool": "cpu-ondemand", "price_per_hour": 0.4, "speed": 2.0}, {"pool-cpu-ondemand": 1e6}, 2),
        "gpu": ({"pool": "gpu", "price_per_hour": 2.5, "speed": 1.0}, {"GPU": 1.0, "pool-gpu": 1e6}, 1),
    }

    # a tiny computation: each part pinned to one pool, a GPU task, then a reduction over the parts
    parts = {pool: client.submit(bytes, 1000, resources={pool_resource(pool): 1}, pure=False) for pool in NAMES}
    on_gpu = client.submit(lambda: "cuda?", resources={"GPU": 1}, pure=False)
    client.gather([*parts.values(), on_gpu])
    names = pools_of_workers(client)
    where = {addr: w["name"] for addr, w in client.scheduler_info(n_workers=-1)["workers"].items()}
    holders = {pool: [names[where[a]] for a in client.who_has(fut)[fut.key]] for pool, fut in parts.items()}
    assert holders == {pool: [pool] for pool in NAMES}
    assert [names[where[a]] for a in client.who_has(on_gpu)[on_gpu.key]] == ["gpu"]
    total = client.submit(lambda *xs: sum(map(len, xs)), *parts.values())
    assert total.result(timeout=60) == 3000 and on_gpu.result() == "cuda?"


def test_pool_scaler_scales_each_pool_by_its_name_and_keeps_data(kube_module, cluster):
    kube = kube_module
    cluster, client = cluster
    scaler = KubePoolScaler(cluster, POOLS)
    assert isinstance(scaler, PoolScaler)
    assert worker_group(POOLS, "cpu-spot") == "default" and scaler.group("cpu-spot") == "collab-default"
    assert [scaler.workers(p) for p in NAMES] == [1, 1, 1]

    grown = scaler.scale("cpu-spot", 2)  # the default group, addressed by its pool's name
    assert (grown.before, grown.after) == (1, 2)
    kube.wait_for(lambda: sorted(pools_of_workers(client).values()) == ["cpu-ondemand", "cpu-spot", "cpu-spot", "gpu"],
                  what="a second cpu-spot worker")
    assert replicas(kube) == {"default": 2, "cpu-ondemand": 1, "gpu": 1}

    # data only the cpu-ondemand worker holds, then that pool goes to zero
    held = client.submit(bytes, 2**20, resources={pool_resource("cpu-ondemand"): 1}, pure=False)
    held.result(timeout=30)
    others = {n for n, p in pools_of_workers(client).items() if p != "cpu-ondemand"}
    (ondemand,) = deployments(kube, "collab-cpu-ondemand")
    # what the operator's own scale-down would retire: Dask's pick among all pools, never this one (it holds data)
    assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.workers_to_close(n=1, attribute="name"))[0] \
        in others
    shrunk = scaler.scale("cpu-ondemand", 0)
    assert (shrunk.before, shrunk.after, shrunk.retired, shrunk.kept) == (1, 0, (ondemand,), ())
    assert deployments(kube, "collab-cpu-ondemand") == []
    assert replicas(kube) == {"default": 2, "cpu-ondemand": 0, "gpu": 1}
    assert set(pools_of_workers(client)) == others  # the other pools' workers were not touched
    assert len(held.result(timeout=30)) == 2**20  # moved off before the worker left
    kube.settle()  # the operator has seen the replicas change: it must find nothing more to retire
    assert set(pools_of_workers(client)) == others

    assert scaler.scale("cpu-ondemand", 1).after == 1
    assert scaler.scale("cpu-spot", 1).after == 1
    kube.wait_for(lambda: sorted(pools_of_workers(client).values()) == ["cpu-ondemand", "cpu-spot", "gpu"],
                  what="one worker per pool again")
    assert replicas(kube) == {"default": 1, "cpu-ondemand": 1, "gpu": 1}


def test_adapt_needs_bounds_and_scales_only_the_default_group(kube_module, cluster):
    """What dask-kubernetes' own ``adapt`` does with pools (dask-kubernetes#933): without bounds the API
    server refuses the DaskAutoscaler (422: its CRD requires integer minimum/maximum); with bounds the
    operator autoscales the *default* group only, even while the work waits for another pool."""
    import kr8s

    kube = kube_module
    cluster, client = cluster
    with pytest.raises(kr8s.ServerError, match=r"is invalid: spec.(minimum|maximum): None is not of type 'integer'") as refused:
        cluster.adapt()
    assert refused.value.response.status_code == 422

    # 40 one-second tasks that only the GPU pool may run; the scheduler wants more workers for them
    waiting = [client.submit(__import__("time").sleep, 1, resources={pool_resource("gpu"): 1}, pure=False)
               for _ in range(40)]
    kube.wait_for(lambda: client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.adaptive_target()) >= 3,
                  what="the scheduler asking for more workers")
    cluster.adapt(minimum=1, maximum=2)
    kube.wait_for(lambda: replicas(kube)["default"] == 2, timeout=30, what="the autoscaler's first step")
    assert replicas(kube) == {"default": 2, "cpu-ondemand": 1, "gpu": 1}  # the GPU pool did not grow
    client.cancel(waiting)
    # KubePoolScaler (like KubeCluster.scale) ends adaptivity: dask-kubernetes deletes the DaskAutoscaler
    assert KubePoolScaler(cluster, POOLS).scale("cpu-spot", 1).after == 1
    assert kube.objects("daskautoscalers") == []
    kube.wait_for(lambda: sorted(pools_of_workers(client).values()) == ["cpu-ondemand", "cpu-spot", "gpu"],
                  what="one worker per pool again")


def test_the_operators_own_scale_down_retires_another_pools_worker(kube_module, cluster):
    """dask-kubernetes#914 reproduced on the operator's real handler: ``KubeCluster.scale(0,
    worker_group="cpu-ondemand")`` makes the operator ask the scheduler for *any* one worker to retire;
    Dask picks the idle one without data: the GPU worker goes, the cpu-ondemand one keeps running.
    (:class:`KubePoolScaler` above retires the right one.) Leaves the cluster broken: keep it last."""
    kube = kube_module
    cluster, client = cluster
    held = [client.submit(bytes, 2**20, resources={pool_resource(p): 1}, pure=False) for p in ("cpu-spot", "cpu-ondemand")]
    client.gather(held)
    (gpu_deployment,) = deployments(kube, "collab-gpu")
    (ondemand_deployment,) = deployments(kube, "collab-cpu-ondemand")

    cluster.scale(0, worker_group="cpu-ondemand")
    kube.wait_for(lambda: "gpu" not in pools_of_workers(client).values(), timeout=30, what="a retirement")
    kube.settle()
    assert sorted(pools_of_workers(client).values()) == ["cpu-ondemand", "cpu-spot"]  # wrong pool retired
    assert deployments(kube, "collab-gpu") == [] and deployments(kube, "collab-cpu-ondemand") == [ondemand_deployment]
    assert replicas(kube) == {"default": 1, "cpu-ondemand": 0, "gpu": 1}  # and the groups disagree with what runs
    assert gpu_deployment not in [d["metadata"]["name"] for d in kube.objects("deployments")]
