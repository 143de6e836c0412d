"""Several xgboost stages training at once on shared single-thread workers (real cluster)."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import zarr

import daskcollab as dc


def _workflow(store, out):
    src = dc.ZarrSource(store, name="src")
    models = [dc.XGBoostModel(src, name=f"xgb{i}", rounds=8, params={"max_depth": 2 + i}) for i in range(3)]
    return dc.Workflow("three-xgb", [dc.Evaluate(models, name="ev"), dc.ZarrSink(models, path=out, name="sink")])


def test_collectives_sharing_workers_take_turns_and_match_the_sequential_run(client, clf_store, tmp_path):
    # each collective wants both workers (one rank per worker, each blocking its only thread until
    # its peers join); run side by side they must take turns on shared workers, not fail to bootstrap
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a hang guard (not a speed check)
        running = pool.submit(dc.run, _workflow(clf_store, tmp_path / "a.zarr"), client, progress=False)
        together = running.result(timeout=600)
    alone = dc.run(_workflow(clf_store, tmp_path / "b.zarr"), client, progress=False, concurrency=1)
    assert set(together.stage_states.values()) == {"done"}
    a, b = zarr.open_group(str(tmp_path / "a.zarr"), mode="r"), zarr.open_group(str(tmp_path / "b.zarr"), mode="r")
    for name in ("xgb0", "xgb1", "xgb2"):
        np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
    assert together.metrics == alone.metrics
