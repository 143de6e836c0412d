"""Bad workflows and bad data raise DaskCollabError subclasses that name the stage, the field
and the fix — before any expensive work starts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import zarr

import daskcollab as dc
from daskcollab import DataError, UnplaceableError, WorkflowError
from daskcollab.data import open_dataset


def test_errors_share_one_base():
    for cls in (DataError, UnplaceableError, WorkflowError, dc.WorkflowFileError, dc.BudgetError):
        assert issubclass(cls, dc.DaskCollabError)


def test_cycle_in_python_wiring_names_the_cycle(tmp_path):
    a = dc.Standardize(None, name="a")
    b = dc.Standardize(a, name="b")
    a.data = b  # only mutation after construction can make a cycle in Python
    with pytest.raises(WorkflowError, match=r"the stages form a cycle: .*a -> b -> a|b -> a -> b"):
        dc.Workflow("cyc", [b])


def test_bad_parameters_are_caught_when_the_workflow_is_built(tmp_path):
    src = dc.ZarrSource(tmp_path / "x.zarr")
    with pytest.raises(WorkflowError, match=r"stage 'xgboost', field 'rounds': expected a positive integer, got -3\. Fix: rounds=100"):
        dc.Workflow("w", [dc.XGBoostModel(src, rounds=-3)])
    with pytest.raises(WorkflowError, match=r"stage 'xgboost', field 'params.objective'.*use task= for the objective"):
        dc.Workflow("w", [dc.XGBoostModel(src, params={"objective": "reg:linear"})])
    with pytest.raises(WorkflowError, match=r"stage 'linear', field 'task': expected one of \['classification', 'regression'\], got 'ranking'"):
        dc.Workflow("w", [dc.LinearModel(src, task="ranking")])
    with pytest.raises(WorkflowError, match=r"stage 'blend', field 'models\[1\]': expected a model or ensemble stage, got zarr_source stage 'zarr_source'"):
        dc.Workflow("w", [dc.Blend([dc.XGBoostModel(src), src])])
    with pytest.raises(WorkflowError, match=r"field 'resources': expected a mapping of resource name to a non-negative number, got \{'GPU': -1\}"):
        dc.Workflow("w", [dc.XGBoostModel(src, resources={"GPU": -1})])
    with pytest.raises(WorkflowError, match=r"two stages are named 'm'.*Fix: pass a distinct name="):
        dc.Workflow("w", [dc.XGBoostModel(src, name="m"), dc.LinearModel(src, name="m")])


def test_missing_store_and_missing_array(tmp_path, clf_store):
    with pytest.raises(DataError, match=r"stage 'src', field 'path': no Zarr store at .*nope.zarr.*Fix: create it"):
        open_dataset(tmp_path / "nope.zarr", "X", "y", dc.RowSplit(), stage="src")
    with pytest.raises(DataError, match=r"stage 'src', field 'labels': missing Zarr array 'label' in .* \(arrays there: \['X', 'y'\]\)\. Fix: set 'labels' to one of them"):
        open_dataset(clf_store, "X", "label", dc.RowSplit(), stage="src")


def test_shape_mismatch_between_x_and_y(tmp_path):
    group = zarr.open_group(tmp_path / "bad.zarr", mode="w")
    group.create_array("X", shape=(100, 3), chunks=(50, 3), dtype="float32")[:] = 1
    group.create_array("y", shape=(90,), chunks=(50,), dtype="float32")[:] = 0
    with pytest.raises(DataError, match=r"stage 'src', field 'labels': shape mismatch between X and y: features 'X' has shape \(100, 3\), labels 'y' has shape \(90,\)"):
        open_dataset(tmp_path / "bad.zarr", "X", "y", dc.RowSplit(), stage="src")


def test_non_numeric_features(tmp_path):
    group = zarr.open_group(tmp_path / "text.zarr", mode="w")
    group.create_array("X", shape=(4, 1), chunks=(2, 1), dtype=str)[:] = np.array([["a"], ["b"], ["c"], ["d"]])
    group.create_array("y", shape=(4,), chunks=(2,), dtype="float32")[:] = 0
    with pytest.raises(DataError, match=r"stage 'src', field 'features': non-numeric features/labels: array 'X' has dtype"):
        open_dataset(tmp_path / "text.zarr", "X", "y", dc.RowSplit(), stage="src")
    # the helper stores text columns as category codes instead
    frame = pd.DataFrame({"city": ["a", "b", "a", None], "x": [1.0, 2.0, 3.0, 4.0]})
    path = dc.write_zarr_dataset(tmp_path / "ok.zarr", frame, np.zeros(4), chunk_rows=2)
    X = zarr.open_group(path)["X"]
    np.testing.assert_array_equal(X[:, 0], [0, 1, 0, np.nan])
    assert X.attrs["categories"] == {"city": ["a", "b"]}


def test_empty_split_through_the_source_stage(client, clf_store):
    src = dc.ZarrSource(clf_store, name="src", split=dc.ChunkSplit(train=(0, 5), validation=(5, 6), test=None))
    wf = dc.Workflow("w", [dc.XGBoostModel(src, rounds=2)])
    with pytest.raises(DataError, match=r"stage 'src', field 'split.test': the test part is empty"):
        dc.run(wf, client, progress=False)


def test_unplaceable_resource_fails_fast_naming_stage_and_resource(client, clf_store):
    # refused before anything is submitted (the pre-flight check), so it cannot hang
    src = dc.ZarrSource(clf_store, name="src")
    xgb = dc.XGBoostModel(src, name="gpu-xgb", resources={"TPU": 1}, rounds=2)
    with pytest.raises(UnplaceableError, match=r"stage 'gpu-xgb', field 'resources': expected a request some current "
                                               r"or declared pool can satisfy, got resources \{'TPU': 1\}.*pools "
                                               r"available: \(unpooled .*'GPU': 1.*Fix: request resources"):
        dc.run(dc.Workflow("w", [xgb]), client, progress=False)


def test_labels_must_be_class_indices_for_classification(client, reg_store, tmp_path):
    src = dc.ZarrSource(reg_store, name="src")
    wf = dc.Workflow("w", [dc.LinearModel(src, name="lin", task="classification")])
    with pytest.raises(DataError, match=r"stage 'lin', field 'labels': classification needs integer labels 0 \.\. k-1 "
                                        r"\(k >= 2, every class present\), got values that are not integers in "
                                        r"\[0, 1000\)\. Fix: encode the target as 0/1"):
        dc.run(wf, client, progress=False)
    y = np.repeat([0, 1, 3], 200).astype("float32")  # class 2 is missing
    store = dc.write_zarr_dataset(tmp_path / "gap.zarr", np.random.default_rng(0).normal(size=(600, 3)), y,
                                  chunk_rows=200)
    wf = dc.Workflow("w", [dc.XGBoostModel(dc.ZarrSource(store, name="src"), name="xgb", rounds=2)])
    with pytest.raises(DataError, match=r"stage 'xgb', field 'labels': .*got the values \[0, 1, 3\]"):
        dc.run(wf, client, progress=False)


def test_nan_labels(client, tmp_path):
    y = np.zeros(400, dtype="float32")
    y[:200] = 1
    y[::40] = np.nan
    path = dc.write_zarr_dataset(tmp_path / "nan.zarr", np.random.default_rng(0).normal(size=(400, 3)), y, chunk_rows=100)
    wf = dc.Workflow("w", [dc.XGBoostModel(dc.ZarrSource(path, name="src", split=dc.RowSplit(seed=1)), name="xgb", rounds=2)])
    with pytest.raises(DataError, match=r"stage 'src', field 'labels': 10 NaN labels in 'y'.*Fix: drop or impute"):
        dc.run(wf, client, progress=False)


def test_training_rows_that_cannot_fit_stop_before_training(tmp_path):
    """Workers that cannot hold their share of the training rows are not left to be killed."""
    from distributed import Client, LocalCluster

    from testdata import make_classification_store

    # 2M x 28 float32 = 224 MB of training rows; 2 workers of 700 MiB (about 300 MiB go to libraries)
    store = make_classification_store(tmp_path / "big.zarr", rows=2_000_000, chunk_rows=250_000)
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="700MiB", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        src = dc.ZarrSource(store, name="src", persist=False, split=dc.RowSplit(validation=0.01, test=0.01))
        wf = dc.Workflow("m", [dc.XGBoostModel(src, name="xgb", rounds=2)])
        with pytest.raises(DataError, match=r"stage 'xgb', field 'max_train_rows': the [\d,]+ training rows .* do not "
                                            r"fit in worker memory.*Fix: set max_train_rows=\d+ \(a seeded sample\)"):
            dc.run(wf, client, progress=False)
        assert all(w.status.name == "running" for w in cluster.workers.values())  # nobody was killed


def test_max_train_rows_trains_on_a_seeded_sample(client, clf_store):
    from daskcollab.data import RowSample, sample_rows
    import dask.array as da

    sample = RowSample(0.25, seed=0, chunks=(1000, 1000, 500))
    rows = sample_rows(da.arange(2500, chunks=((1000, 1000, 500),)), sample).compute()
    assert abs(len(rows) - 625) < 80 and len(rows) == sum(sample.counts())
    np.testing.assert_array_equal(rows, sample_rows(da.arange(2500, chunks=((1000, 1000, 500),)), sample).compute())
    src = dc.ZarrSource(clf_store, name="src")
    xgb = dc.XGBoostModel(src, name="xgb", rounds=5, max_train_rows=500)
    result = dc.run(dc.Workflow("s", [dc.Evaluate([xgb])]), client, progress=False)
    assert result.metrics["xgb"]["auc"] > 0.5


def test_workers_too_small_to_run_anything_are_refused_up_front(clf_store):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, memory_limit="350MiB", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        wf = dc.Workflow("tiny", [dc.XGBoostModel(dc.ZarrSource(clf_store), rounds=2)])
        with pytest.raises(UnplaceableError, match=r"has memory_limit 350 MiB: it pauses at 80 % \(280 MiB\).*"
                                                   r"would wait forever\. Fix: give every worker a memory_limit of at least 500 MiB"):
            dc.run(wf, client, progress=False)
