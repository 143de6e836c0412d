"""Recovery on real clusters (worker processes, TCP): a worker killed (SIGKILL) in the middle of a
stage, and the workflow still finishes with the same outputs as a clean run."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import zarr
from distributed import Client, LocalCluster

import daskcollab as dc
from daskcollab.testing import StageKiller, chaos_workflow

ARRAYS = ("blend", "xgb", "logreg")


def outputs(path):
    group = zarr.open_group(path, mode="r")
    assert group.attrs["complete"] is True
    return {name: group[name][:] for name in ARRAYS}


@pytest.fixture
def cache(tmp_path):
    with dask.config.set({"collab.resume.path": str(tmp_path / "cache"), "collab.resume.mode": "off"}):
        yield tmp_path / "cache"


@pytest.fixture
def store(tmp_path):
    from testdata import make_classification_store

    return make_classification_store(tmp_path / "in.zarr", rows=8_000, chunk_rows=1_000)


def test_workers_killed_in_training_and_later_stages_give_the_clean_outputs(store, tmp_path, cache):
    with LocalCluster(n_workers=4, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        clean = dc.run(chaos_workflow(store, tmp_path / "clean.zarr"), client, progress=False)
        with StageKiller(client, ["xgb:xgboost-rank", "blend", "sink"], delay=0.5) as killer:
            hurt = dc.run(chaos_workflow(store, tmp_path / "hurt.zarr"), client, progress=False)
        assert [stage for stage, _ in killer.killed] == ["xgb", "blend", "sink"]
        assert len(client.scheduler_info()["workers"]) >= 1
    ref, got = outputs(tmp_path / "clean.zarr"), outputs(tmp_path / "hurt.zarr")
    for name in ARRAYS:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)  # bit for bit
    assert hurt.metrics == clean.metrics
    # the collective saw its worker leave and continued from a checkpoint
    assert "xgb" in hurt.recoveries and killer.killed[0][1] in hurt.recoveries["xgb"][0]
    assert any("recovered" in w for w in hurt.warnings)


def test_a_training_that_cannot_recover_fails_naming_the_lost_worker(store, cache):
    """retries=0: the first lost rank fails the stage with RecoveryError (never a hang)."""
    src = dc.ZarrSource(store, name="src", split=dc.RowSplit(validation=0.25, test=0.25, seed=0))
    xgb = dc.XGBoostModel(src, name="xgb", params={"max_depth": 4}, rounds=200, retries=0)
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        with StageKiller(client, ["xgb:xgboost-rank"], delay=0.5) as killer, \
                pytest.raises(dc.RecoveryError, match=r"stage 'xgb', field 'retries': lost work again: (tcp://\S+) was lost "
                                                      r"\(a worker of the xgboost collective left\); its worker-lost "
                                                      r"budget of 0 attempt\(s\) is spent.*Fix: raise retries= on stage 'xgb'") as caught:
            dc.run(dc.Workflow("fragile", [dc.Evaluate([xgb], name="eval")]), client, progress=False)
        assert killer.killed and killer.killed[0][1] in str(caught.value)
