"""Layout-free row subsampling: the same rows per round for any layout, xgboost's own gradients,
and (on the session cluster) the same booster from one rank or two, and from a resumed training."""

from __future__ import annotations

import json

import dask
import dask.array as da
import numpy as np
import pytest
import xgboost

from daskcollab.models._row_sampling import (
    LayoutFreeSubsample,
    base_score,
    keep_mask,
    label_stats,
    row_indices,
    supported,
)
from daskcollab.models._xgboost_train import RANK_COUNT_TOLERANCE, samples_randomly, train_collective


def _data(n=6_000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=n) > 0.8).astype(np.float32)
    return X, y


def test_the_rows_of_a_round_do_not_depend_on_how_they_are_split():
    rows = np.arange(50_000)
    whole = keep_mask(rows, 3, seed=7, rate=0.8)
    parts = np.concatenate([keep_mask(rows[a:b], 3, seed=7, rate=0.8) for a, b in [(0, 11), (11, 30_000), (30_000, 50_000)]])
    np.testing.assert_array_equal(whole, parts)
    assert abs(whole.mean() - 0.8) < 0.01
    assert (whole != keep_mask(rows, 4, seed=7, rate=0.8)).mean() > 0.2  # another round, other rows
    assert (whole != keep_mask(rows, 3, seed=8, rate=0.8)).mean() > 0.2  # another seed, other rows
    np.testing.assert_array_equal(row_indices([0, 100, 250], [3, 2, 1]), [0, 1, 2, 100, 101, 250])


@pytest.mark.parametrize("objective,extra,label", [
    ("binary:logistic", {}, lambda X, y: y),
    ("binary:logistic", {"scale_pos_weight": 3.0}, lambda X, y: y),
    ("reg:squarederror", {}, lambda X, y: 2 * X[:, 0] + X[:, 2]),
    ("multi:softprob", {"num_class": 3}, lambda X, y: np.digitize(X[:, 0], [-0.5, 0.5]).astype(np.float32)),
])
def test_gradients_and_intercept_are_xgboosts_own(objective, extra, label):
    """Keeping every row, the custom objective trains the booster xgboost's built-in one trains."""
    X, y = _data()
    target = label(X, y)
    dtrain = xgboost.DMatrix(X, label=target)
    params = {"objective": objective, "tree_method": "hist", "max_depth": 4, "eta": 0.3, "nthread": 1, **extra}
    builtin = xgboost.train(params, dtrain, 15)
    stats = label_stats(objective, target, extra.get("num_class", 0), extra.get("scale_pos_weight", 1.0))
    ours = xgboost.train({**params, "base_score": base_score(objective, stats)}, dtrain, 15,
                         obj=LayoutFreeSubsample({**params, "subsample": 1.0}, np.arange(len(X))))
    weighted = "scale_pos_weight" in extra  # xgboost's intercept is a Newton step there, ours the weighted mean
    np.testing.assert_allclose(ours.predict(dtrain), builtin.predict(dtrain), atol=1e-3 if weighted else 2e-6)
    theirs = json.loads(builtin.save_config())["learner"]["learner_model_param"]["base_score"]
    mine = json.loads(ours.save_config())["learner"]["learner_model_param"]["base_score"]
    np.testing.assert_allclose(np.atleast_1d(json.loads(mine)), np.atleast_1d(json.loads(theirs)),
                               atol=1e-3 if weighted else 1e-6)


def test_which_params_sample_layout_free():
    assert supported({"objective": "binary:logistic", "subsample": 0.8})
    assert not supported({"objective": "binary:logistic"})
    assert not supported({"objective": "binary:hinge", "subsample": 0.8})  # xgboost samples; layout-dependent
    assert not samples_randomly({"objective": "binary:logistic", "subsample": 0.8})  # resumes exactly
    assert samples_randomly({"objective": "binary:logistic", "subsample": 0.8, "colsample_bytree": 0.5})
    assert samples_randomly({"objective": "binary:hinge", "subsample": 0.8})


def _train(client, X, y, params, rounds, ranks, xgb_model=None):
    Xd = client.persist(da.from_array(X, chunks=(1_000, -1)))
    yd = client.persist(da.from_array(y, chunks=1_000))
    with dask.config.set({"collab.xgboost.ranks": ranks}):
        return train_collective(client, Xd, yd, params, rounds, xgb_model=xgb_model, stage="xgb")


def test_a_subsampled_booster_is_the_same_on_one_rank_or_two_and_after_a_resume(client):
    X, y = _data()
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6, "eta": 0.3, "subsample": 0.7,
              "seed": 3}
    one = _train(client, X, y, params, 20, ranks=1).predict(xgboost.DMatrix(X))
    two = _train(client, X, y, params, 20, ranks=2).predict(xgboost.DMatrix(X))
    np.testing.assert_allclose(two, one, atol=RANK_COUNT_TOLERANCE)  # the documented tolerance across rank counts
    half = _train(client, X, y, params, 10, ranks=2)
    resumed = _train(client, X, y, params, 10, ranks=1, xgb_model=half).predict(xgboost.DMatrix(X))
    np.testing.assert_allclose(resumed, one, atol=RANK_COUNT_TOLERANCE)
    full = _train(client, X, y, {k: v for k, v in params.items() if k != "subsample"}, 20, ranks=1)
    assert np.abs(full.predict(xgboost.DMatrix(X)) - one).max() > 1e-3  # the rows really were subsampled


def test_xgboosts_own_subsampling_depends_on_the_layout(client):
    """Why the module exists: an objective it does not cover keeps xgboost's sampling, whose model
    changes with the number of ranks (if this starts to pass, xgboost became layout-free itself)."""
    X, y = _data()
    params = {"objective": "binary:logitraw", "tree_method": "hist", "max_depth": 6, "eta": 0.3, "subsample": 0.7,
              "seed": 3}
    one = _train(client, X, y, params, 20, ranks=1).predict(xgboost.DMatrix(X))
    two = _train(client, X, y, params, 20, ranks=2).predict(xgboost.DMatrix(X))
    assert np.abs(two - one).max() > 1e-3
