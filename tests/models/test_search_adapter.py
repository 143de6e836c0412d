"""dask-ml GridSearchCV / RandomizedSearchCV adapter on the cluster."""

from __future__ import annotations

import numpy as np
import pytest
from modeldata import make_data

from daskcollab._errors import WorkflowError
from daskcollab.models._search import SearchResult, search


def test_grid_search_picks_the_deeper_trees(client, task):
    # the target has an x2*x3 interaction: stumps (max_depth=1) cannot fit it
    X, y = make_data(task, rows=2_000)
    res = search(X[:1_500], y[:1_500], task=task, estimator="random_forest", grid={"max_depth": [1, 8]},
                 params={"n_estimators": 20}, cv=3)
    assert isinstance(res, SearchResult)
    assert res.best_params_ == {"max_depth": 8}
    assert res.scoring == ("roc_auc" if task == "classification" else "neg_root_mean_squared_error")
    assert [r["params"] for r in res.cv_results] == [{"max_depth": 8}, {"max_depth": 1}]  # best first
    assert res.cv_results[0]["mean_test_score"] == pytest.approx(res.best_score_)
    assert res.model.train_rows == 1_500 and res.model.estimator.max_depth == 8
    assert res.model.estimator.n_estimators == 20  # fixed params reach every candidate
    pred = res.predict(X)  # the search result is a FittedModel too
    assert pred.chunks[0] == X.chunks[0]
    est, X_np = res.model.estimator, X.compute()
    expected = est.predict_proba(X_np)[:, 1] if task == "classification" else est.predict(X_np)
    np.testing.assert_allclose(pred.compute(), expected, rtol=1e-5, atol=1e-6)
    assert res.describe()["best_params"] == {"max_depth": 8}


def test_random_search_samples_at_most_the_grid(client):
    X, y = make_data("classification", rows=1_500)
    res = search(X, y, task="classification", estimator="sgd", grid={"alpha": [1e-4, 1e-3, 1e-2]},
                 method="random", n_iter=10, cv=2, scoring="neg_log_loss")
    assert len(res.cv_results) == 3 and res.scoring == "neg_log_loss"
    assert res.best_params_["alpha"] in (1e-4, 1e-3, 1e-2)


def test_search_errors_name_the_field_and_the_fix():
    X, y = make_data("classification", rows=500)
    with pytest.raises(WorkflowError, match=r"stage 'search', field 'method': 'hyperband' is not available.*"
                                            r"dask/dask-ml#1016.*Fix: method='random'"):
        search(X, y, task="classification", estimator="sgd", grid={"alpha": [1e-4]}, method="hyperband")
    with pytest.raises(WorkflowError, match=r"field 'method': expected one of \['grid', 'random'\], got 'bayes'"):
        search(X, y, task="classification", estimator="sgd", grid={"alpha": [1e-4]}, method="bayes")
    with pytest.raises(WorkflowError, match=r"field 'grid.max_dept': unknown parameter 'max_dept' for 'random_forest' "
                                            r"\(RandomForestClassifier\); did you mean \['max_depth'"):
        search(X, y, task="classification", estimator="random_forest", grid={"max_dept": [2]})
    with pytest.raises(WorkflowError, match=r"field 'scoring': unknown scikit-learn scorer 'auc'; did you mean"):
        search(X, y, task="classification", estimator="sgd", grid={"alpha": [1e-4]}, scoring="auc")
    with pytest.raises(WorkflowError, match=r"field 'grid': expected a mapping of parameter name to a non-empty list"):
        search(X, y, task="classification", estimator="sgd", grid={"alpha": []})
    with pytest.raises(WorkflowError, match=r"field 'cv': expected an integer >= 2, got 1"):
        search(X, y, task="classification", estimator="sgd", grid={"alpha": [1e-4]}, cv=1)
