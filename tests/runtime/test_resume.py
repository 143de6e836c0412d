"""Resume on a real cluster: a client killed (SIGKILL) after training leaves its model kept, and the
same workflow run again reuses it (no retraining, no lock left held) and writes the same outputs."""

from __future__ import annotations

import dask
import numpy as np
import pytest
from distributed import Client, LocalCluster

import daskcollab as dc
from daskcollab.testing import chaos_workflow

ARRAYS = ("blend", "xgb", "logreg")


@pytest.fixture
def store(tmp_path):
    from testdata import make_classification_store

    return make_classification_store(tmp_path / "in.zarr", rows=8_000, chunk_rows=1_000)


def outputs(path):
    import zarr

    group = zarr.open_group(path, mode="r")
    assert group.attrs["complete"] is True
    return {name: group[name][:] for name in ARRAYS}


_CLIENT = """
import dask, daskcollab as dc
from distributed import Client
from daskcollab.testing import chaos_workflow
with dask.config.set({{"collab.resume.path": {cache!r}}}), Client({address!r}) as client:
    dc.run(chaos_workflow({store!r}, {out!r}), client, progress=False)
"""


def test_a_killed_client_leaves_its_trained_models_and_the_rerun_reuses_them(store, tmp_path):
    """The client dies (SIGKILL) once the xgboost stage finished; the same workflow run again reuses
    that model (no retraining, no lock left held) and writes the outputs a full recompute writes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    cache = tmp_path / "cache"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        code = _CLIENT.format(cache=str(cache), address=cluster.scheduler_address,
                              store=str(store), out=str(tmp_path / "crashed.zarr"))
        proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
        try:
            for _ in range(1200):  # a hang guard (10 min), not a time limit
                if list((cache / "chaos").glob("xgb-*/model.json")) or proc.poll() is not None:
                    break
                time.sleep(0.5)
            assert proc.poll() is None, "the client finished before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        assert not (tmp_path / "crashed.zarr").exists()  # it died before its sink

        with dask.config.set({"collab.resume.path": str(cache)}):
            resumed = dc.run(chaos_workflow(store, tmp_path / "resumed.zarr"), client, progress=False)
            assert "xgb" in resumed.reused and resumed.stage_states["xgb"] == "reused"
            assert "sink" not in resumed.reused and "eval" not in resumed.reused
            fresh = dc.run(chaos_workflow(store, tmp_path / "fresh.zarr"), client, progress=False, recompute=True)
            assert fresh.reused == ()
    ref, got = outputs(tmp_path / "fresh.zarr"), outputs(tmp_path / "resumed.zarr")
    for name in ARRAYS:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
    assert resumed.metrics == fresh.metrics
