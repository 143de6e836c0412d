"""The model family on a real cluster: incremental, post-fit, search, update, save and load."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import zarr

import daskcollab as dc
from daskcollab.models._preprocess import fit_preprocess
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
                                               r"for 'sgd' \(SGDClassifier\); did you mean \['alpha'\]\?"):
        dc.Workflow("w", [dc.IncrementalModel(src, params={"alpah": 1e-3})])
    with pytest.raises(dc.WorkflowError, match=r"field 'estimator': expected one of \[.*'random_forest'.*\], got 'svm'\. "
                                               r"Fix: estimator='random_forest'"):
        dc.Workflow("w", [dc.PostFitModel(src, estimator="svm")])
    with pytest.raises(dc.WorkflowError, match=r"got 'random_forrest' \(did you mean \['random_forest'\]\?\)"):
        dc.Workflow("w", [dc.SearchModel(src, estimator="random_forrest", grid={"max_depth": [2]})])
    with pytest.raises(dc.WorkflowError, match=r"stage 'search', field 'method': 'hyperband' is not available: "
                                               r"dask-ml's incremental searches .*dask/dask-ml#1016.*Fix: method='random'"):
        dc.Workflow("w", [dc.SearchModel(src, grid={"max_depth": [2]}, method="hyperband")])
    with pytest.raises(dc.WorkflowError, match=r"stage 'search', field 'grid.max_dept': unknown parameter 'max_dept' "
                                               r"for 'random_forest' \(RandomForestClassifier\); did you mean \['max_depth'"):
        dc.Workflow("w", [dc.SearchModel(src, grid={"max_dept": [2, 4]})])
    with pytest.raises(dc.WorkflowError, match=r"stage 'xgb', field 'params.max_dpeth': unknown parameter 'max_dpeth' "
                                               r"for the xgboost booster; did you mean \['max_depth'.*Fix: use one of the valid"):
        dc.Workflow("w", [dc.XGBoostModel(src, name="xgb", params={"max_dpeth": 6})])
    with pytest.raises(dc.WorkflowError, match=r"stage 'nb', field 'estimator': 'naive_bayes' \(GaussianNB\) is a "
                                               r"classifier \(task 'regression'\)\. Fix: choose an estimator"):
        dc.Workflow("w", [dc.IncrementalModel(src, name="nb", task="regression", estimator="naive_bayes")])
    dc.Workflow("w", [dc.XGBoostModel(src, params={"eta": 0.1, "lambda": 1.0, "subsample": 0.8}),  # booster names
                      dc.PostFitModel(src, estimator="xgboost", params={"n_estimators": 10})])  # sklearn wrapper's


def test_unknown_xgboost_parameter_in_yaml_names_the_stage_field_and_fix(tmp_path):
    text = """
        name: typo
        stages:
          - {name: src, type: zarr_source, path: data/tiny.zarr}
          - {name: xgb, type: xgboost, data: src, rounds: 5, params: {max_depth: 3, colsample_by_tree: 0.8}}
    """
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(dc.WorkflowFileError, match=r"wf\.yaml: stages\[1\]\.params\.colsample_by_tree \(line 5\): "
                                                   r"stage 'xgb', field 'params.colsample_by_tree': unknown "
                                                   r"parameter 'colsample_by_tree' for the xgboost booster; did you "
                                                   r"mean \['colsample_bytree'.*Fix: use one of the valid names"):
        dc.load_workflow(path)
    path.write_text(textwrap.dedent(text).replace("colsample_by_tree", "colsample_bytree"))
    assert dc.load_workflow(path)["xgb"].params == {"max_depth": 3, "colsample_bytree": 0.8}


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
    raw = run_stage(client, src)
    for m in models:  # each folder is the whole pipeline: raw features in, the same predictions out
        loaded = dc.SavedModel(src, name=f"{m.name}_loaded", path=tmp_path / "models" / m.name)
        out = run_stage(client, loaded, raw)
        np.testing.assert_array_equal(out.predictions.compute(), written[m.name][:])
    with pytest.raises(dc.DataError, match=r"stage 'lin_loaded', field 'data': 'scaled' is preprocessed already"):
        run_stage(client, dc.SavedModel(scaled, name="lin_loaded", path=tmp_path / "models" / "lin"), data)


def test_passive_aggressive_search_winner_update_and_sampled_post_fit(client, clf, tmp_path):
    src, scaled, data = clf
    X = data.X.compute()
    pa = run_stage(client, dc.IncrementalModel(scaled, name="pa", estimator="passive_aggressive", passes=2), data)
    est = pa.fitted.estimator  # scikit-learn's SGD equivalent of the deprecated PassiveAggressiveClassifier
    assert type(est).__name__ == "SGDClassifier" and not hasattr(est, "predict_proba")
    np.testing.assert_allclose(pa.predictions.compute(), 1 / (1 + np.exp(-est.decision_function(X))), rtol=1e-5)

    search = dc.SearchModel(scaled, name="tuned", estimator="sgd", grid={"alpha": [1e-4, 1e-2]}, method="random",
                            n_iter=5, cv=2)  # n_iter above the 2 candidates: both are tried, no warning
    out = run_stage(client, search, data)
    assert len(out.details["candidates"]) == 2 and out.details["best_params"]["alpha"] in (1e-4, 1e-2)
    update = dc.UpdateModel(search, scaled, name="tuned_more", passes=1)
    updated = run_stage(client, update, out, data)  # the search's best estimator keeps learning
    assert updated.details["passes"] == 1 and set(updated.details["after"]) == {"auc", "accuracy", "log_loss"}

    sampled = [run_stage(client, dc.PostFitModel(scaled, name="knn", estimator="knn", max_train_rows=1_000), data)
               for _ in range(2)]
    rows = sampled[0].details["train_rows"]
    assert 800 < rows < 1_000 * 1.2 and sampled[1].details["train_rows"] == rows  # a seeded sample of the rows
    np.testing.assert_array_equal(sampled[0].predictions.compute(), sampled[1].predictions.compute())

    prep_path = dc.save_model(fit_preprocess(data.X, impute="median"), tmp_path / "prep")
    with pytest.raises(dc.DataError, match=r"stage 'loaded', field 'path': '.*prep' holds fitted preprocessing, not a "
                                           r"model\. Fix: point at a folder a model_sink wrote"):
        run_stage(client, dc.SavedModel(scaled, name="loaded", path=prep_path), data)
def test_standardize_median_imputes_with_exact_training_medians(client, tmp_path):
    import textwrap

    import numpy as np

    import daskcollab as dc
    from daskcollab.workflow import StageContext

    rng = np.random.default_rng(0)
    X = rng.lognormal(size=(3_000, 4)).astype(np.float32)  # skewed: median != mean
    X[::5, 1] = np.nan
    y = (X[:, 0] > 1).astype(np.float32)
    store = dc.write_zarr_dataset(tmp_path / "m.zarr", X, y, chunk_rows=500)
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(f"""
        name: med
        stages:
          - {{name: src, type: zarr_source, path: {store}, split: {{chunks: {{train: [0, 4], validation: [4, 5], test: [5, null]}}}}}}
          - {{name: scaled, type: standardize, data: src, impute: median}}
    """))
    wf = dc.load_workflow(path)
    src, scaled = wf["src"], wf["scaled"]
    data = src.run(StageContext(client, "t", "src", False))
    out = scaled.run(StageContext(client, "t", "scaled", False), data).X.compute()
    train = X[:2_000]
    median = np.nanmedian(train[:, 1])
    filled = np.where(np.isnan(train[:, 1]), median, train[:, 1])
    expected = (median - filled.mean()) / filled.std()
    np.testing.assert_allclose(out[::5, 1], expected, rtol=1e-4)  # every missing cell: the training median, scaled
