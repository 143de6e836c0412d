"""The estimator registry, parameter-name checks and the preprocessing adapter."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from modeldata import CHUNK, make_data

from daskcollab._errors import DataError, WorkflowError
from daskcollab.models import Impute
from daskcollab.models._estimators import INCREMENTAL_ESTIMATORS, POSTFIT_ESTIMATORS, make_estimator
from daskcollab.models._fitted import Task
from daskcollab.models._params import check_xgboost_params, xgboost_param_names
from daskcollab.models._preprocess import Preprocessor, fit_preprocess


def test_unknown_sklearn_parameter_names_stage_close_matches_and_valid_names():
    with pytest.raises(WorkflowError, match=r"^stage 'sgd_stage', field 'params.alpah': unknown parameter 'alpah' for "
                                            r"'sgd' \(SGDClassifier\); did you mean \['alpha'\]\? valid: \[.*'alpha'.*\]\. "
                                            r"Fix: use one"):
        make_estimator(POSTFIT_ESTIMATORS, "sgd", {"alpha": 1e-4, "alpah": 1e-3}, Task.CLASSIFICATION, "sgd_stage")
    rf = make_estimator(POSTFIT_ESTIMATORS, "random_forest", {"class_weight": "balanced"}, Task.CLASSIFICATION, "rf")
    assert rf.class_weight == "balanced" and rf.n_jobs == 1
    with pytest.raises(WorkflowError, match=r"'class_weight' for 'random_forest' \(RandomForestRegressor\)"):
        make_estimator(POSTFIT_ESTIMATORS, "random_forest", {"class_weight": "balanced"}, Task.REGRESSION, "rf")
    with pytest.raises(WorkflowError, match=r"stage 'm', field 'estimator': unknown estimator 'random_forrest'; "
                                            r"did you mean \['random_forest'\]\? registered: \["):
        make_estimator(POSTFIT_ESTIMATORS, "random_forrest", {}, Task.CLASSIFICATION, "m")
    with pytest.raises(WorkflowError, match=r"stage 's', field 'grid.max_dept': unknown parameter 'max_dept'"):
        make_estimator(POSTFIT_ESTIMATORS, "random_forest", {}, Task.CLASSIFICATION, "s", grid={"max_dept": [2]})
    with pytest.raises(WorkflowError, match=r"stage 'p', field 'params': expected a mapping of parameter names"):
        make_estimator(POSTFIT_ESTIMATORS, "knn", [1], Task.CLASSIFICATION, "p")


def test_passive_aggressive_is_the_sgd_equivalent_not_the_deprecated_class():
    # scikit-learn 1.8 deprecated PassiveAggressive*; the registry builds their SGD equivalents
    for task in Task:
        est = make_estimator(INCREMENTAL_ESTIMATORS, "passive_aggressive", {}, task, "pa")
        assert type(est).__name__.startswith("SGD") and est.learning_rate == "pa1" and est.penalty is None


def test_unknown_xgboost_parameter_names_booster_parameters():
    check_xgboost_params({"eta": 0.1, "lambda": 1.0, "learning_rate": 0.1, "max_leaves": 31, "seed": 1,
                          "n_jobs": 1, "max_cat_to_onehot": 4}, "xgb")
    with pytest.raises(WorkflowError, match=r"stage 'xgb', field 'params.max_dpeth': unknown parameter 'max_dpeth' "
                                            r"for the xgboost booster; did you mean \['max_depth'.*valid: \["):
        check_xgboost_params({"max_dpeth": 6}, "xgb")
    # scikit-learn wrapper arguments that xgboost.train would silently ignore are not booster parameters
    assert "n_estimators" not in xgboost_param_names() and "eta" in xgboost_param_names()
    with pytest.raises(WorkflowError, match=r"field 'params.early_stopping_rounds': unknown parameter"):
        check_xgboost_params({"early_stopping_rounds": 5}, "xgb")


def test_xgboost_checks_values_and_booster_specific_names_itself():
    """xgboost's own validation (a configured booster, nothing trained), not a hand-kept list."""
    with pytest.raises(WorkflowError, match=r"^stage 'xgb', field 'params.max_depth': xgboost refuses the value -1: "
                                            r"value -1 for Parameter max_depth should be greater equal to 0\. Fix: "):
        check_xgboost_params({"eta": 0.1, "max_depth": -1}, "xgb")
    with pytest.raises(WorkflowError, match=r"field 'params.tree_method': xgboost refuses the value 'exakt': Invalid "
                                            r"Input: 'exakt', valid values are: \{.*'exact'"):
        check_xgboost_params({"tree_method": "exakt"}, "xgb")
    with pytest.raises(WorkflowError, match=r"field 'params.rate_drop': parameter 'rate_drop' is not used by the "
                                            r"xgboost booster 'gbtree'.*Fix: remove it, or set params.booster"):
        check_xgboost_params({"rate_drop": 0.1}, "xgb")
    check_xgboost_params({"booster": "dart", "rate_drop": 0.1}, "xgb")  # dart uses it
    check_xgboost_params({"max_bin": 64, "grow_policy": "lossguide", "monotone_constraints": "(1,0,-1)"}, "xgb")
    with pytest.raises(WorkflowError, match=r"field 'params.huber_slope'"):  # a parameter of another objective
        check_xgboost_params({"huber_slope": 1.0}, "xgb", task=Task.REGRESSION)
    assert {"rate_drop", "feature_selector", "eta", "learning_rate"} <= set(xgboost_param_names())
    assert "rate_drop" not in xgboost_param_names("gbtree")


@pytest.mark.parametrize("impute", ["mean", "median", "constant"])
def test_preprocess_imputes_then_scales_chunk_wise(client, impute):
    X, _ = make_data("regression", rows=2_000)
    X_np = X.compute()
    X_np[::7, 1] = np.nan
    X_np[::11, 4] = np.nan
    X = da.from_array(X_np, chunks=(CHUNK, X.shape[1]))
    prep = fit_preprocess(X, scale=True, impute=impute, fill_value=-1.0)
    assert prep.impute is Impute(impute) and prep.describe()["impute"] == impute
    assert type(prep.to_dict()["impute"]) is str and Preprocessor.from_dict(prep.to_dict()).impute is Impute(impute)
    fills = {"mean": np.nanmean(X_np, axis=0), "median": np.nanmedian(X_np, axis=0),
             "constant": np.full(X_np.shape[1], -1.0)}
    expected_fill = fills[impute]
    np.testing.assert_allclose(prep.fill, expected_fill, rtol=1e-5, atol=1e-6)
    out = prep.transform(X)
    assert out.chunks == X.chunks and out.dtype == np.float32
    filled = np.where(np.isnan(X_np), expected_fill, X_np)
    from sklearn.preprocessing import StandardScaler

    np.testing.assert_allclose(out.compute(), StandardScaler().fit_transform(filled), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(Preprocessor.from_dict(prep.to_dict()).transform(X).compute(), out.compute())


def test_preprocess_scale_only_and_errors(client):
    X, _ = make_data("classification", rows=1_000)
    X_np = X.compute()
    prep = fit_preprocess(X, scale=True, impute=None)
    from dask_ml.preprocessing import StandardScaler

    np.testing.assert_allclose(prep.transform(X).compute(), StandardScaler().fit(X).transform(X).compute(),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(WorkflowError, match=r"stage 'preprocess', field 'impute': expected one of \('mean', 'median', "
                                            r"'constant'\) or None, got 'mode'"):
        fit_preprocess(X, impute="mode")
    X_np[:, 2] = np.nan
    with pytest.raises(DataError, match=r"field 'impute': feature column\(s\) \[2\] have no value in the "
                                        r"training rows, so there is no median to fill with"):
        fit_preprocess(da.from_array(X_np, chunks=(CHUNK, X.shape[1])), impute="median")
    with pytest.raises(DataError, match=r"preprocess: expected an array of shape \(n, 6\)"):
        prep.transform(X[:, :3])
