"""Incremental (dask-ml ``Incremental``) and post-fit (``ParallelPostFit``) adapters on the cluster."""

from __future__ import annotations

import numpy as np
import pytest
from modeldata import CHUNK, make_data, score

from daskcollab._errors import WorkflowError
from daskcollab.models._incremental import train_incremental, update_incremental
from daskcollab.models._postfit import train_postfit


def _expected(est, task, X):
    if task == "regression":
        return est.predict(X)
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)[:, 1]
    return 1 / (1 + np.exp(-est.decision_function(X)))


@pytest.mark.parametrize("estimator", ["sgd", "passive_aggressive", "naive_bayes"])
def test_incremental_predicts_like_its_estimator(client, task, estimator):
    if estimator == "naive_bayes" and task == "regression":
        with pytest.raises(WorkflowError, match=r"stage 'incremental', field 'estimator': 'naive_bayes' \(GaussianNB\) "
                                                r"is a classifier \(task 'regression'\)"):
            train_incremental(*make_data(task), task=task, estimator=estimator, passes=1)
        return
    X, y = make_data(task)
    params = {"eta0": 0.05} if estimator == "passive_aggressive" else {}  # PA's C=1 is jumpy on noisy targets
    fitted = train_incremental(X, y, task=task, estimator=estimator, params=params, passes=3)
    pred = fitted.predict(X)
    assert pred.chunks[0] == X.chunks[0] and pred.dtype == np.float32
    X_np, y_np = X.compute(), y.compute()
    np.testing.assert_allclose(pred.compute(), _expected(fitted.estimator, task, X_np), rtol=1e-5, atol=1e-6)
    assert score(task, y_np, pred.compute()) > (0.6 if task == "classification" else 0.3)  # linear: R² <= 0.45 here
    assert fitted.describe()["rows_seen"] == 3 * len(y_np)
    assert fitted.estimator_future is not None  # scattered once, not pickled into every task


def test_update_incremental_continues_training_and_improves(client, task):
    X_small, y_small = make_data(task, rows=CHUNK, seed=1)
    X_new, y_new = make_data(task, rows=2_000, seed=2)
    X_test, y_test = make_data(task, rows=2_000, seed=3)
    y_test = y_test.compute()
    first = train_incremental(X_small, y_small, task=task, estimator="sgd", params={"alpha": 1e-3}, passes=1)
    coef = first.estimator.coef_.copy()
    updated = update_incremental(first, X_new, y_new, passes=2)
    before = score(task, y_test, first.predict(X_test).compute())
    after = score(task, y_test, updated.predict(X_test).compute())
    print(f"{task} sgd update: metric before {before:.4f} after {after:.4f}")
    np.testing.assert_array_equal(first.estimator.coef_, coef)  # the original is left as it was
    assert not np.allclose(updated.estimator.coef_, coef)
    assert after >= before - 0.01
    assert updated.passes == 3 and updated.rows_seen == CHUNK + 2 * 2_000


def test_update_refuses_an_estimator_without_partial_fit(client):
    X, y = make_data("classification")
    rf = train_postfit(X, y, task="classification", estimator="random_forest", params={"n_estimators": 5})
    with pytest.raises(WorkflowError, match=r"stage 'update', field 'model': RandomForestClassifier has no "
                                            r"partial_fit"):
        update_incremental(rf, X, y)


@pytest.mark.parametrize("estimator,params", [
    ("random_forest", {"n_estimators": 20, "max_depth": 6}),
    ("extra_trees", {"n_estimators": 20}),
    ("hist_gradient_boosting", {"max_iter": 30}),
    ("knn", {"n_neighbors": 15}),
])
def test_postfit_predicts_like_its_estimator(client, task, estimator, params):
    X, y = make_data(task)
    fitted = train_postfit(X, y, task=task, estimator=estimator, params=params)
    assert fitted.train_rows == len(y)
    pred = fitted.predict(X)
    assert pred.chunks[0] == X.chunks[0] and pred.dtype == np.float32
    np.testing.assert_allclose(pred.compute(), _expected(fitted.estimator, task, X.compute()), rtol=1e-5, atol=1e-6)
    assert score(task, y.compute(), pred.compute()) > 0.5


def test_bad_passes_and_unknown_estimators_name_the_field():
    X, y = make_data("classification")
    with pytest.raises(WorkflowError, match=r"stage 'incremental', field 'passes': expected a positive integer, got 0"):
        train_incremental(X, y, task="classification", estimator="sgd", passes=0)
    with pytest.raises(WorkflowError, match=r"stage 'post_fit', field 'estimator': unknown estimator 'random_forrest'; "
                                            r"did you mean \['random_forest'\]\? registered: \["):
        train_postfit(X, y, task="classification", estimator="random_forrest")
    with pytest.raises(WorkflowError, match=r"stage 'incremental', field 'estimator': unknown estimator 'knn'"):
        train_incremental(X, y, task="classification", estimator="knn", passes=1)  # knn has no partial_fit
