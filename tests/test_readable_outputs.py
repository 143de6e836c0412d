"""Every store a workflow writes opens with plain zarr, xarray and dask; predictions join back to
their source rows; a run's JSON reads back with its versions and timestamps."""

from __future__ import annotations

import json
import os
import warnings

import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr

import daskcollab as dc
from daskcollab import DataError, WorkflowError
from daskcollab.data._split import PART_CODES, resolve_split


def _open_everywhere(path):
    """The store through xarray (both entry points, no warning about missing metadata), zarr and dask."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. xarray's "failed to open consolidated metadata"
        ds = xr.open_zarr(path)
        ds2 = xr.open_dataset(path, engine="zarr")
    group = zarr.open_group(path, mode="r")
    assert group.metadata.consolidated_metadata is not None  # one read opens everything
    assert set(ds.data_vars) | set(ds.coords) == set(ds2.data_vars) | set(ds2.coords) == set(group.array_keys())
    for name in group.array_keys():
        np.testing.assert_array_equal(da.from_zarr(os.fspath(path), component=name).compute(), group[name][:])
        np.testing.assert_array_equal(ds[name].values, group[name][:])
    return ds, group


def test_data_and_prediction_stores_open_with_xarray_and_join_back(client, tmp_path):
    store = tmp_path / "built.zarr"
    split = dc.RowSplit(validation=0.25, test=0.25, seed=3)
    src = dc.ZarrSource(store, name="src", builder="sensor-fusion", builder_options={"rows": 4_000, "chunk_rows": 1_000},
                        split=split)
    xgb = dc.XGBoostModel(src, name="xgb", rounds=10)
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
    sinks = [dc.ZarrSink([xgb, lin], path=tmp_path / "all.zarr", name="all"),
             dc.ZarrSink([xgb], path=tmp_path / "test.zarr", part="test", name="test_rows")]
    result = dc.run(dc.Workflow("readable", sinks), client, progress=False)

    data, _ = _open_everywhere(store)
    assert data["X"].dims == ("row", "feature") and data["y"].dims == ("row",)
    assert data["X"].shape == (4_000, 28)

    preds, group = _open_everywhere(tmp_path / "all.zarr")
    assert preds["xgb"].dims == ("row",) and preds["row"].dims == ("row",)
    np.testing.assert_array_equal(preds["row"].values, np.arange(4_000))
    plan = resolve_split(split, (1_000,) * 4, "src")
    expected_parts = np.concatenate([plan.codes(i) for i in range(4)])
    np.testing.assert_array_equal(preds["part"].values, expected_parts)
    assert group["part"].attrs["flag_meanings"] == "none train validation test"
    assert set(np.unique(preds["part"].values)) == set(PART_CODES.values())

    tested, _ = _open_everywhere(tmp_path / "test.zarr")
    n_test = int((expected_parts == PART_CODES["test"]).sum())
    assert tested["xgb"].shape == (n_test,)
    assert set(np.unique(tested["part"].values)) == {PART_CODES["test"]}
    # the test-rows store joins back to the all-rows store (and so to the source) by row id
    joined = preds.sel(row=tested["row"].values)
    np.testing.assert_array_equal(joined["xgb"].values, tested["xgb"].values)
    np.testing.assert_array_equal(data["y"].values[tested["row"].values],
                                  data["y"].isel(row=tested["row"].values).values)

    # absolute paths in the result, and a JSON that reads back
    assert result.outputs == {"all": str(tmp_path / "all.zarr"), "test_rows": str(tmp_path / "test.zarr")}
    assert all(os.path.isabs(p) for p in result.outputs.values())
    text = result.to_json()
    raw = json.loads(text)
    assert raw["format"] == 1 and raw["started_at_utc"].endswith("+00:00")
    assert raw["versions"]["xgboost"] == __import__("xgboost").__version__
    assert set(raw["versions"]) >= {"python", "daskcollab", "dask", "distributed", "dask_ml", "sklearn", "zarr"}
    back = dc.RunResult.from_json(text)
    assert json.loads(back.to_json()) == raw  # everything survives (tuples come back as lists)
    assert back.metrics == result.metrics and back.versions == result.versions
    assert back.started_at == result.started_at and back.warnings == result.warnings


def test_multiclass_probabilities_name_their_class_dimension(client, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3_000, 5)).astype("float32")
    y = np.digitize(X[:, 0] + 0.3 * X[:, 1], [-0.5, 0.5]).astype("float32")  # three classes
    store = dc.write_zarr_dataset(tmp_path / "mc.zarr", X, y, chunk_rows=1_000)
    xgb = dc.XGBoostModel(dc.ZarrSource(store, name="src"), name="xgb", rounds=5)
    dc.run(dc.Workflow("mc", [dc.ZarrSink([xgb], path=tmp_path / "p.zarr", name="sink")]), client, progress=False)
    preds, _ = _open_everywhere(tmp_path / "p.zarr")
    assert preds["xgb"].dims == ("row", "class") and preds["xgb"].shape == (3_000, 3)


def test_model_names_that_clash_with_row_arrays_are_refused(tmp_path):
    src = dc.ZarrSource(tmp_path / "x.zarr", name="src")
    with pytest.raises(WorkflowError, match=r"stage 'sink', field 'models': expected stages not named \['row', "
                                            r"'part'\].*got \['part'\]\. Fix: rename stage 'part'"):
        dc.Workflow("w", [dc.ZarrSink([dc.XGBoostModel(src, name="part")], path=tmp_path / "p.zarr", name="sink")])


@pytest.mark.parametrize("text, match", [
    ("not json", r"not valid JSON"),
    ('{"metrics": {}}', r"expected a JSON object with a 'workflow' name"),
    ('{"workflow": "w", "format": 2}', r"format 2, expected 1"),
    ('{"workflow": "w", "colour": "red"}', r"unknown keys \['colour'\]"),
])
def test_from_json_refuses_what_to_json_did_not_write(text, match):
    with pytest.raises(DataError, match=r"RunResult\.from_json: " + match):
        dc.RunResult.from_json(text)
