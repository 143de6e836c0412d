"""Safe model files: every adapter round-trips with identical predictions; only trusted types load."""

from __future__ import annotations

import json

import numpy as np
import pytest
from modeldata import make_data

from daskcollab._errors import DataError
from daskcollab.models._fitted import Task
from daskcollab.models._incremental import IncrementalFitted, train_incremental, update_incremental
from daskcollab.models._linear import train_linear
from daskcollab.models._files import load_model, save_model
from daskcollab.models._postfit import PostFitFitted, train_postfit
from daskcollab.models._preprocess import Preprocessor, fit_preprocess
from daskcollab.models._search import search
from daskcollab.models._sklearn_fitted import SklearnFitted
from daskcollab.models._xgboost import train_xgboost


def _models(client, task, X, y):
    yield "xgboost", train_xgboost(client, X, y, task=Task(task), params={"max_depth": 3}, rounds=5, device="cpu")
    yield "linear", train_linear(X, y, task=Task(task), C=1.0, max_iter=50)
    yield "sgd", train_incremental(X, y, task=task, estimator="sgd", passes=1)
    yield "hist_gradient_boosting", train_postfit(X, y, task=task, estimator="hist_gradient_boosting",
                                                  params={"max_iter": 10})
    yield "knn", train_postfit(X[:500], y[:500], task=task, estimator="knn")
    yield "search", search(X, y, task=task, estimator="extra_trees", grid={"max_depth": [2, 4]},
                           params={"n_estimators": 5}, cv=2)
    other = "naive_bayes" if task == "classification" else "passive_aggressive"
    yield other, train_incremental(X, y, task=task, estimator=other, passes=1)


def test_every_adapter_round_trips(client, task, tmp_path):
    X, y = make_data(task, rows=1_500)
    for name, fitted in _models(client, task, X, y):
        path = save_model(fitted, tmp_path / name)
        loaded = load_model(path)
        assert loaded.task is Task(task)
        a, b = fitted.predict(X), loaded.predict(X)
        assert b.chunks[0] == X.chunks[0]
        np.testing.assert_array_equal(a.compute(), b.compute(), err_msg=name)
        meta = json.loads((tmp_path / name / "model.json").read_text())
        assert meta["task"] == task and meta["kind"] in ("xgboost", "linear", "sklearn")
        if name == "xgboost":
            assert (tmp_path / name / "booster.ubj").exists() and meta["params"]["max_depth"] == 3
        if name == "sgd":
            assert isinstance(loaded, IncrementalFitted) and loaded.passes == 1
            update_incremental(loaded, X, y)  # a loaded incremental model keeps learning
        if name == "knn":
            assert isinstance(loaded, PostFitFitted) and loaded.train_rows == 500


def test_preprocessor_round_trips_and_bad_folder(client, tmp_path):
    X, _ = make_data("regression", rows=1_000)
    prep = fit_preprocess(X, scale=True, impute="median")
    loaded = load_model(save_model(prep, tmp_path / "prep"))
    assert isinstance(loaded, Preprocessor)
    np.testing.assert_array_equal(loaded.transform(X).compute(), prep.transform(X).compute())
    with pytest.raises(DataError, match=r"load_model: '.*nothing' is not a saved model \(no model.json\)"):
        load_model(tmp_path / "nothing")


def test_foreign_types_are_refused_at_load(client, tmp_path):
    X, y = make_data("classification", rows=1_000)
    fitted = train_postfit(X, y, task="classification", estimator="xgboost", params={"n_estimators": 3})
    save_model(fitted, tmp_path / "xs")
    with pytest.raises(DataError, match=r"contains types daskcollab never writes: \[.*.xgboost\.core\.Booster."):
        load_model(tmp_path / "xs")


def test_files_without_adapter_fields_load_as_plain_sklearn_models(client, tmp_path):
    # model_sink folders written before the adapters recorded their fields: a plain SklearnFitted
    X, y = make_data("classification", rows=1_000)
    fitted = train_incremental(X, y, task="classification", estimator="sgd", passes=1)
    save_model(fitted, tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    assert meta["adapter"] == {"type": "incremental", "estimator_name": "sgd", "classes": [0, 1], "passes": 1,
                               "rows_seen": 1_000}
    del meta["adapter"], meta["digest"]  # neither was recorded then
    (tmp_path / "old" / "model.json").write_text(json.dumps(meta))
    loaded = load_model(tmp_path / "old", client)
    assert type(loaded) is SklearnFitted and loaded.describe()["estimator"] == "SGDClassifier"
    np.testing.assert_array_equal(loaded.predict(X).compute(), fitted.predict(X).compute())
    assert update_incremental(loaded, X, y).passes == 1  # still has partial_fit


def test_save_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(DataError, match=r"save_model: cannot save a dict\. Fix: save xgboost, linear or scikit-learn"):
        save_model({"not": "a model"}, tmp_path / "x")
    assert not list(tmp_path.iterdir())  # nothing half-written
