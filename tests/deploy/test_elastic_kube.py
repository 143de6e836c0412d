"""Elastic pools on Kubernetes, against the emulated API server (see ``kubesim.py``): the controller
scales each pool's DaskWorkerGroup by the pool's name, through dask-kubernetes' own API
(:class:`~daskcollab.deploy.KubePoolScaler`), driven by what the placement plugin says each pool needs.

Real: kr8s, ``KubeCluster``, the operator's handler functions, the scheduler and worker processes
(from the pods' container args), the placement plugin (scheduler preload). Emulated: the API server,
the kubelet, cluster DNS. The GPU pool starts at zero replicas; work that only it can run makes the
controller grow it, and once that work is done it goes back to zero while the cpu-spot worker stays.
"""

from __future__ import annotations

import pytest

pytest.importorskip("kmock", reason="install the test extra: pip install -e '.[test]'")
from kubesim import kube_pools_cluster, pools_of_workers  # noqa: E402

from daskcollab.deploy import ElasticController
from daskcollab.placement import Pool, RunSpec, StageSpec, placement_report
from daskcollab.runtime import _remote

pytestmark = pytest.mark.kubernetes

IMAGE = "ghcr.io/example/daskcollab:0.1.0"
POOLS = [
    Pool("cpu-spot", 0.10, workers=1, min_workers=1, max_workers=2),
    Pool("gpu", 2.50, workers=0, min_workers=0, max_workers=1, resources={"GPU": 1}),
]


def replicas(kube, cluster: str = "collab") -> dict[str, int]:
    return kube.replicas(cluster)


@pytest.fixture(scope="module")
def cluster(kube_module):
    with kube_pools_cluster(kube_module, POOLS, IMAGE, 1, "the cpu-spot worker") as running:
        yield running


def test_each_pool_group_grows_for_its_work_and_the_gpu_group_goes_back_to_zero(kube_module, cluster):
    kube = kube_module
    cluster, client = cluster
    assert replicas(kube) == {"default": 1, "gpu": 0}
    (spot_worker,) = pools_of_workers(client)
    with ElasticController(cluster, POOLS, client=client, startup=5.0, interval=0.3, cooldown=1.0) as elastic:
        assert placement_report(client)["elastic_pools"] == {"cpu-spot": {"min": 1, "max": 2},
                                                              "gpu": {"min": 0, "max": 1}}
        # a run whose one stage only the GPU pool can run: its plan asks for the GPU worker now
        spec = RunSpec("k1", "elastic-kube", (StageSpec("train", resources={"GPU": 1}, cost=3.0),))
        assert client.run_on_scheduler(_remote.start_run, spec.to_dict())["plan"]["stages"]["train"]["pool"] == "gpu"
        kube.wait_for(lambda: replicas(kube)["gpu"] == 1, timeout=30, what="the GPU group asked for")
        # tasks that only the GPU pool can run (lambdas: the pods cannot import this module)
        on_gpu = client.map(lambda i: (__import__("time").sleep(0.5), i)[1], range(3), resources={"GPU": 1},
                            pure=False)
        assert client.gather(on_gpu) == [0, 1, 2]
        assert "gpu" in pools_of_workers(client).values()
        client.run_on_scheduler(_remote.finish_run, "k1", "done")
        del on_gpu
        kube.wait_for(lambda: replicas(kube)["gpu"] == 0 and "gpu" not in pools_of_workers(client).values()
                      and any((a.pool, a.scaled.after) == ("gpu", 0) for a in elastic.actions),
                      timeout=60, what="the GPU group back at zero")
        steps = [(a.pool, a.scaled.before, a.scaled.after, a.scaled.retired) for a in elastic.actions]
        assert ("gpu", 0, 1, ()) in steps, steps
        down = [a for a in elastic.actions if a.pool == "gpu" and a.scaled.after == 0]
        assert all(name.startswith("collab-gpu-") for a in down for name in a.scaled.retired), steps
        assert elastic.policy.measured["gpu"] >= 1  # it measured the pod's start-up (request to join)
    # the cpu-spot worker was never touched, its group kept its min
    assert list(pools_of_workers(client)) == [spot_worker] and replicas(kube) == {"default": 1, "gpu": 0}
    report = placement_report(client)
    assert report["elastic_pools"] == {}  # the controller stopped: plans use the live pools again
    assert report["startup_seconds_by_pool"]["gpu"] > 0  # the GPU pod was paid for while it booted
    assert report["alive_seconds_by_pool"]["gpu"] > report["startup_seconds_by_pool"]["gpu"]
    assert report["booting_by_pool"] == {}


def test_the_gpu_group_keeps_the_worker_the_plan_holds_between_two_uses(kube_module, cluster):
    """The plan keeps the GPU worker through an 8 s gap (its pool bills a 60 s minimum: releasing it
    and asking again would bill two): the controller keeps the group at one replica meanwhile, where
    its look-ahead alone (start-up x 1.5) would have let it go."""
    import dataclasses

    import dask
    from distributed import wait

    kube = kube_module
    cluster, client = cluster
    pools = [POOLS[0], dataclasses.replace(POOLS[1], billing_minimum=60.0)]
    with ElasticController(cluster, pools, client=client, startup=3.0, interval=0.3, cooldown=1.0) as elastic:
        spec = RunSpec("k2", "hold-kube", (
            StageSpec("fit", resources={"GPU": 1}, cost=1.0),
            StageSpec("prep", inputs=("fit",), pool="cpu-spot", cost=8.0),
            StageSpec("refit", inputs=("prep",), resources={"GPU": 1}, cost=1.0),
        ))
        plan = client.run_on_scheduler(_remote.start_run, spec.to_dict())["plan"]
        assert len(plan["schedule"]["gpu"]) == 1, plan["schedule"]  # one lease across the gap

        def collab(stage, **extra):
            return dask.annotate(collab={"workflow": "hold-kube", "run": "k2", "stage": stage, "kind": "task", **extra})

        nap = lambda s, *_: (__import__("time").sleep(s), s)[1]  # noqa: E731  (the pods cannot import this module)
        with collab("fit"), dask.annotate(resources={"GPU": 1}):
            fit = dask.delayed(nap, pure=False)(1.0)
        with collab("prep", pool="cpu-spot"):
            prep = dask.delayed(nap, pure=False)(8.0, fit)
        with collab("refit"), dask.annotate(resources={"GPU": 1}):
            refit = dask.delayed(nap, pure=False)(1.0, prep)
        futures = dict(zip(("fit", "prep", "refit"), client.compute([fit, prep, refit])))
        for stage in futures:
            client.run_on_scheduler(_remote.stage_event, "k2", stage, "running")
        for stage, future in futures.items():
            wait(future, timeout=120)
            client.run_on_scheduler(_remote.stage_event, "k2", stage, "done")
        ledger = client.run_on_scheduler(_remote.finish_run, "k2", "done")
        gpu = [(a.scaled.before, a.scaled.after, a.started) for a in elastic.actions if a.pool == "gpu"]
        fit_done, refit_start = ledger["stages"]["fit"]["last_stop"], ledger["stages"]["refit"]["first_start"]
        assert refit_start - fit_done > 6.0
        assert not [g for g in gpu if g[1] < g[0] and fit_done < g[2] < refit_start], gpu  # kept through the gap
        assert len([g for g in gpu if g[1] > g[0]]) == 1, gpu  # asked for once
        del futures, fit, prep, refit
        kube.wait_for(lambda: replicas(kube)["gpu"] == 0, timeout=60, what="the GPU group back at zero")
