"""The model family on a real cluster: incremental, post-fit, search, update, save and load."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

import daskcollab as dc
from daskcollab.workflow import StageContext


def run_stage(client, stage, *inputs):
    return stage.run(StageContext(client, "t", stage.name, False), *inputs)


@pytest.fixture
def clf(client, clf_store):
    src = dc.ZarrSource(clf_store, name="src", split=dc.RowSplit(validation=0.2, test=0.2, seed=0))
    scaled = dc.Standardize(src, name="scaled")
    data = run_stage(client, src)
    return src, scaled, run_stage(client, scaled, data)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_incremental_and_post_fit_predict_like_their_estimators(client, clf_store, reg_store, task):
    store = clf_store if task == "classification" else reg_store
    src = dc.ZarrSource(store, name="src")
    scaled = dc.Standardize(src, name="scaled")
    data = run_stage(client, scaled, run_stage(client, src))
    X = data.X.compute()
    for stage in (dc.IncrementalModel(scaled, name="sgd", task=task, estimator="sgd", passes=2),
                  dc.PostFitModel(scaled, name="rf", task=task, estimator="random_forest",
                                  params={"n_estimators": 20, "max_depth": 6})):
        dc.Workflow("w", [stage])  # validates
        out = run_stage(client, stage, data)
        assert out.predictions.chunks[0] == data.X.chunks[0]
        est = out.fitted.estimator
        expected = est.predict_proba(X)[:, 1] if task == "classification" else est.predict(X)
        np.testing.assert_allclose(out.predictions.compute(), expected, rtol=1e-5, atol=1e-5)


def test_search_picks_the_better_candidate(client, clf):
    _, scaled, data = clf
    stage = dc.SearchModel(scaled, name="search", estimator="random_forest",
                           grid={"max_depth": [1, 8], "n_estimators": [30]}, cv=3, max_train_rows=3_000)
    out = run_stage(client, stage, data)
    assert out.details["best_params"] == {"max_depth": 8, "n_estimators": 30}  # stumps cannot fit the interactions
    assert out.details["scoring"] == "roc_auc" and 0.5 < out.details["best_score"] <= 1
    assert len(out.details["candidates"]) == 2


def test_unknown_estimator_and_parameter_names_are_caught_when_built(clf_store):
    src = dc.ZarrSource(clf_store)
    with pytest.raises(dc.WorkflowError, match=r"stage 'incremental', field 'params.alpah': unknown parameter 'alpah' "
                                               r"for SGDClassifier; did you mean \['alpha'\]\?"):
        dc.Workflow("w", [dc.IncrementalModel(src, params={"alpah": 1e-3})])
    with pytest.raises(dc.WorkflowError, match=r"field 'estimator': unknown estimator 'svm'; registered: \["):
        dc.Workflow("w", [dc.PostFitModel(src, estimator="svm")])
    with pytest.raises(dc.WorkflowError, match=r"field 'method': expected 'grid' or 'random' \(dask-ml's HyperbandSearchCV"):
        dc.Workflow("w", [dc.SearchModel(src, grid={"max_depth": [2]}, method="hyperband")])


def test_update_continues_training_and_reports_before_and_after(client, tmp_path):
    from testdata import make_classification_store

    old = dc.ZarrSource(make_classification_store(tmp_path / "old.zarr", seed=1), name="old")
    new = dc.ZarrSource(make_classification_store(tmp_path / "new.zarr", seed=2), name="new")
    xgb = dc.XGBoostModel(old, name="xgb", rounds=5)
    sgd = dc.IncrementalModel(dc.Standardize(old, name="scaled_old"), name="sgd", passes=1)
    updates = [dc.UpdateModel(xgb, new, name="xgb_updated", rounds=7),
               dc.UpdateModel(sgd, dc.Standardize(new, name="scaled_new"), name="sgd_updated", passes=2)]
    result = dc.run(dc.Workflow("u", [dc.Evaluate([*updates], name="ev")]), client, progress=False)
    for name in ("xgb_updated", "sgd_updated"):
        details = result.models[name]
        assert set(details["before"]) == set(details["after"]) == {"auc", "accuracy", "log_loss"}
        assert details["after"]["auc"] != details["before"]["auc"]
    assert result.models["xgb_updated"]["rounds"] == 12  # 5 + 7 boosting rounds
    with pytest.raises(dc.WorkflowError, match=r"stage 'bad', field 'model': 'lin' holds a LinearFitted, which cannot continue"):
        lin = dc.LinearModel(old, name="lin")
        dc.run(dc.Workflow("u", [dc.UpdateModel(lin, new, name="bad")]), client, progress=False)


def test_models_round_trip_through_safe_files(client, clf, tmp_path):
    src, scaled, data = clf
    models = [dc.XGBoostModel(src, name="xgb", rounds=5), dc.LinearModel(scaled, name="lin"),
              dc.PostFitModel(scaled, name="rf", params={"n_estimators": 10})]
    first = dc.run(dc.Workflow("save", [dc.ModelSink(models, path=tmp_path / "models"),
                                        dc.ZarrSink(models, path=tmp_path / "p.zarr")]), client, progress=False)
    assert first.outputs["model_sink"] == str(tmp_path / "models")
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["lin", "rf", "xgb"]
    assert (tmp_path / "models" / "xgb" / "booster.ubj").exists()
    assert (tmp_path / "models" / "rf" / "estimator.skops").exists()
    written = zarr.open_group(tmp_path / "p.zarr")
    for m in models:
        loaded = dc.SavedModel(src if m.name == "xgb" else scaled, name=f"{m.name}_loaded",
                               path=tmp_path / "models" / m.name)
        out = run_stage(client, loaded, data if m.name != "xgb" else run_stage(client, src))
        np.testing.assert_allclose(out.predictions.compute(), written[m.name][:], rtol=1e-6)
