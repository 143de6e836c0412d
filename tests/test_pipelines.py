"""Saved models are whole prediction pipelines: raw features in, the same predictions out; data
that does not match is refused, and so is a folder changed after it was saved."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import xgboost
import zarr

import daskcollab as dc
from daskcollab import DataError
from daskcollab._context import StageContext
from testdata import make_classification_store


@pytest.fixture
def saved(client, tmp_path):
    """A run that trains behind Standardize, saves the models and writes their predictions."""
    store = make_classification_store(tmp_path / "train.zarr", rows=4_000)
    src = dc.ZarrSource(store, name="src", split=dc.RowSplit(validation=0.2, test=0.2, seed=1))
    scaled = dc.Standardize(src, name="scaled", impute="median")
    models = [dc.LinearModel(scaled, name="logreg"), dc.XGBoostModel(scaled, name="xgb", rounds=8),
              dc.IncrementalModel(scaled, name="sgd", estimator="sgd")]
    dc.run(dc.Workflow("save", [dc.ModelSink(models, path=tmp_path / "models"),
                                dc.ZarrSink(models, path=tmp_path / "first.zarr")]), client, progress=False)
    return store, tmp_path


def test_reloaded_pipelines_predict_exactly_what_the_run_wrote(client, saved):
    store, tmp_path = saved
    src = dc.ZarrSource(store, name="src")
    reloaded = [dc.SavedModel(src, name=name, path=tmp_path / "models" / name) for name in ("logreg", "xgb", "sgd")]
    result = dc.run(dc.Workflow("reload", [dc.ZarrSink(reloaded, path=tmp_path / "again.zarr")]), client,
                    progress=False)
    first, again = zarr.open_group(tmp_path / "first.zarr"), zarr.open_group(tmp_path / "again.zarr")
    for name in ("logreg", "xgb", "sgd"):
        np.testing.assert_array_equal(again[name][:], first[name][:], err_msg=name)
        assert result.models[name]["preprocess"] == [{"impute": "median", "scale": True}]
    meta = json.loads((tmp_path / "models" / "logreg" / "model.json").read_text())
    assert meta["inputs"]["n_features"] == 28 and meta["inputs"]["dtype"] == "float32"
    assert meta["inputs"]["feature_names"][:2] == ["f0", "f1"] and len(meta["preprocess"]) == 1
    assert meta["digest"].startswith("sha256:")
    booster = xgboost.Booster()
    booster.load_model(str(tmp_path / "models" / "xgb" / "booster.ubj"))
    assert booster.feature_names == meta["inputs"]["feature_names"]  # the booster names its features too

    # the Python API: load_pipeline is the same path; load_model alone warns that it is not
    pipeline = dc.load_pipeline(tmp_path / "models" / "logreg", client)
    data = dc.ZarrSource(store, name="src").run(StageContext(client, "t", "src", False))
    np.testing.assert_array_equal(pipeline.predict(data.X).compute(), first["logreg"][:])


def test_load_model_alone_warns_that_it_expects_preprocessed_features(client, saved, caplog):
    _, tmp_path = saved
    with caplog.at_level(logging.WARNING, logger="daskcollab"):
        dc.load_model(tmp_path / "models" / "logreg", client)
    assert "saved behind 1 preprocessing step(s)" in caplog.text and "load_pipeline" in caplog.text


def _store(path, X, names=None):
    return dc.write_zarr_dataset(path, X, (X[:, 0] > 0).astype("float32"), chunk_rows=1_000, feature_names=names)


def test_data_that_does_not_match_the_saved_inputs_is_refused(client, saved):
    store, tmp_path = saved
    X = zarr.open_group(store)["X"][:]
    names = [f"f{i}" for i in range(28)]
    swapped = names[:]
    swapped[3], swapped[4] = swapped[4], swapped[3]
    cases = {
        "fewer": (_store(tmp_path / "fewer.zarr", X[:, :27]), r"the data has 27 features, the model expects 28"),
        "renamed": (_store(tmp_path / "renamed.zarr", X, [*names[:-1], "temperature"]),
                    r"feature names differ from the model's \(missing \['f27'\], unexpected \['temperature'\]; "
                    r"first difference at column 27: 'temperature', expected 'f27'\)"),
        "reordered": (_store(tmp_path / "reordered.zarr", X, swapped),
                      r"feature names differ from the model's \(the same names in another order; first difference at "
                      r"column 3: 'f4', expected 'f3'\)"),
    }
    wide = zarr.open_group(tmp_path / "float64.zarr", mode="w")
    wide.create_array("X", data=X.astype("float64"), chunks=(1_000, 28), dimension_names=("row", "feature"))
    wide.create_array("y", data=np.zeros(len(X), "float32"), chunks=(1_000,), dimension_names=("row",))
    cases["float64"] = (tmp_path / "float64.zarr", r"the features are stored as float64, the model was trained on "
                                                   r"float32")
    for name, (path, match) in cases.items():
        stage = dc.SavedModel(dc.ZarrSource(path, name="src"), name="loaded", path=tmp_path / "models" / "xgb")
        with pytest.raises(DataError, match=r"stage 'loaded', field 'data': " + match + r"\. Fix: predict on data "
                                             r"with the features the model was trained on \(28: \['f0', "):
            dc.run(dc.Workflow(name, [dc.ZarrSink([stage], path=tmp_path / f"{name}-out.zarr")]), client,
                   progress=False)
        assert not (tmp_path / f"{name}-out.zarr").exists()  # nothing half-written


def test_a_folder_changed_after_it_was_saved_is_refused(client, saved):
    _, tmp_path = saved
    folder = tmp_path / "models" / "logreg"
    meta = json.loads((folder / "model.json").read_text())
    meta["preprocess"][0]["mean"][0] += 1.0  # a "small" edit of the statistics
    (folder / "model.json").write_text(json.dumps(meta))
    xgb = tmp_path / "models" / "xgb" / "booster.ubj"
    raw = bytearray(xgb.read_bytes())
    raw[-20] ^= 0x01  # one flipped bit in the booster
    xgb.write_bytes(bytes(raw))
    for name in ("logreg", "xgb"):
        with pytest.raises(DataError, match=rf"load_model: '.*models/{name}' was changed after it was saved \(its "
                                            r"digest does not match model.json and the payload files\); nothing was "
                                            r"loaded"):
            dc.load_pipeline(tmp_path / "models" / name, client)
    (tmp_path / "models" / "sgd" / "estimator.skops").unlink()
    with pytest.raises(DataError, match=r"was changed after it was saved"):
        dc.load_pipeline(tmp_path / "models" / "sgd", client)


def test_inconsistent_pipeline_entries_are_refused_even_with_a_matching_digest(client, saved):
    from daskcollab.models._files import _digest

    _, tmp_path = saved
    folder = tmp_path / "models" / "logreg"
    meta = json.loads((folder / "model.json").read_text())
    meta["preprocess"][0]["mean"] = meta["preprocess"][0]["mean"][:5]
    meta["digest"] = _digest(folder, meta)
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"field 'preprocess\[0\]': not fitted preprocessing statistics \(statistics "
                                        r"of different lengths \[5, 28\]\)"):
        dc.load_pipeline(folder, client)


def test_the_shipped_train_save_and_score_workflows_round_trip(client, tmp_path, monkeypatch):
    """workflows/sensor-fusion-train-save.yaml then -score.yaml (smaller stores; paths relative to the cwd)."""
    import pathlib

    workflows = pathlib.Path(__file__).parents[1] / "workflows"
    monkeypatch.chdir(tmp_path)
    for name in ("sensor-fusion-train-save", "sensor-fusion-score"):
        text = (workflows / f"{name}.yaml").read_text().replace("rows: 200000", "rows: 20000").replace(
            "rows: 100000", "rows: 10000").replace("chunk_rows: 50000", "chunk_rows: 5000").replace(
            "chunk_rows: 25000", "chunk_rows: 2500").replace("rounds: 100", "rounds: 10")
        (tmp_path / f"{name}.yaml").write_text(text)
    trained = dc.run(dc.load_workflow(tmp_path / "sensor-fusion-train-save.yaml"), client, progress=False)
    scored = dc.run(dc.load_workflow(tmp_path / "sensor-fusion-score.yaml"), client, progress=False)
    assert sorted(p.name for p in (tmp_path / "out" / "sensor-fusion-models").iterdir()) == ["logreg", "xgb"]
    for model in ("xgb", "logreg"):
        assert scored.metrics[model]["auc"] > 0.6  # the saved pipelines still rank new cycles
        assert abs(scored.metrics[model]["auc"] - trained.metrics[model]["auc"]) < 0.05
    # scoring the training store with the saved pipelines reproduces the training run's predictions
    src = dc.ZarrSource(tmp_path / "data" / "sensor-fusion-train.zarr", name="src")
    again = [dc.SavedModel(src, name=m, path=tmp_path / "out" / "sensor-fusion-models" / m) for m in ("xgb", "logreg")]
    dc.run(dc.Workflow("again", [dc.ZarrSink(again, path=tmp_path / "again.zarr")]), client, progress=False)
    first = zarr.open_group(tmp_path / "out" / "sensor-fusion-train-predictions.zarr")
    for model in ("xgb", "logreg"):
        np.testing.assert_array_equal(zarr.open_group(tmp_path / "again.zarr")[model][:], first[model][:])
