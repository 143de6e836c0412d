"""The elastic controller follows the plan's pool-size schedule, not only its stages (real local pools).

The GPU pool bills a 60 s minimum period per worker. A run uses its worker twice, 8 s apart
(``fit``, then ``prep`` on cpu-spot, then ``refit``): releasing the worker after ``fit`` and asking
for another before ``refit`` would bill two minimum periods, so the plan keeps it (one lease, the
gap held), and the controller keeps it through a gap longer than its look-ahead window, where it
would otherwise release it.
"""

from __future__ import annotations

import dask
import pytest
from distributed import Client, wait

from daskcollab.deploy import start_local_pools
from daskcollab.placement import PlacementPlugin, Pool, RunSpec, StageSpec
from daskcollab.runtime import _remote

POOLS = [
    Pool("cpu-spot", 0.10, workers=1, min_workers=1, max_workers=1),
    Pool("gpu", 2.50, workers=0, min_workers=0, max_workers=1, resources={"GPU": 1}, startup=2.0,
         billing_minimum=60.0),
]
HANG_GUARD_S = 120


def nap(seconds: float, *_inputs) -> float:
    import time

    time.sleep(seconds)
    return seconds


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    plugin = PlacementPlugin(mode="cheapest", cost_model_path=tmp_path_factory.mktemp("cm") / "cm.json", learn=False)
    # look-ahead: start-up 2 s x (1 + margin 0.5) = 3 s, shorter than the 8 s gap; scale-down after 0.5 s
    elastic = {"startup": 2.0, "interval": 0.2, "cooldown": 0.5, "margin": 0.5}
    with start_local_pools(POOLS, plugin=plugin, elastic=elastic) as cluster, Client(cluster) as client:
        client.wait_for_workers(1, timeout=60)
        yield cluster, client


def test_the_controller_keeps_a_worker_the_plan_holds_through_an_idle_gap(cluster):
    cluster, client = cluster
    run_id = "hold"
    spec = RunSpec(run_id, "hold-test", (
        StageSpec("fit", resources={"GPU": 1}, cost=1.0),
        StageSpec("prep", inputs=("fit",), pool="cpu-spot", cost=8.0),
        StageSpec("refit", inputs=("prep",), resources={"GPU": 1}, cost=1.0),
    ))
    answer = client.run_on_scheduler(_remote.start_run, spec.to_dict())
    schedule = answer["plan"]["schedule"]
    assert len(schedule["gpu"]) == 1, schedule  # one lease across the gap: a second would bill another minute

    def collab(stage, **extra):
        return dask.annotate(collab={"workflow": "hold-test", "run": run_id, "stage": stage, "kind": "task", **extra})

    with collab("fit"), dask.annotate(resources={"GPU": 1}):
        fit = dask.delayed(nap, pure=False)(1.0)
    with collab("prep", pool="cpu-spot"):
        prep = dask.delayed(nap, pure=False)(8.0, fit)
    with collab("refit"), dask.annotate(resources={"GPU": 1}):
        refit = dask.delayed(nap, pure=False)(1.0, prep)
    futures = dict(zip(("fit", "prep", "refit"), client.compute([fit, prep, refit])))
    for stage in futures:
        client.run_on_scheduler(_remote.stage_event, run_id, stage, "running")
    for stage, future in futures.items():
        wait(future, timeout=HANG_GUARD_S)
        client.run_on_scheduler(_remote.stage_event, run_id, stage, "done")
    ledger = client.run_on_scheduler(_remote.finish_run, run_id, "done")

    gpu = [(a.scaled.before, a.scaled.after, a.started) for a in cluster.elastic.actions if a.pool == "gpu"]
    ups = [g for g in gpu if g[1] > g[0]]
    assert len(ups) == 1, gpu  # asked for once: not released during prep and asked for again
    fit_done, refit_start = ledger["stages"]["fit"]["last_stop"], ledger["stages"]["refit"]["first_start"]
    assert not [g for g in gpu if g[1] < g[0] and fit_done < g[2] < refit_start], gpu  # kept through the gap
    assert refit_start - fit_done > 6.0  # the gap was longer than the controller's look-ahead (3 s)
