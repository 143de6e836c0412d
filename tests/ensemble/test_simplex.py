"""Pure maths: simplex weights, fold assignment, probability helpers (no cluster)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from daskcollab import DataError, WorkflowError
from daskcollab.ensemble import Loss, chunk_folds, fit_simplex_weights
from daskcollab.ensemble._simplex import hard_votes, logit, model_probabilities


def _good_and_noisy(n=2_000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = 2.0 * (2 * y - 1) + rng.normal(size=n)
    good = 1 / (1 + np.exp(-score))
    noisy = rng.uniform(0.05, 0.95, n)
    return np.column_stack([good, noisy]), y


def test_weights_recover_the_good_model():
    P, y = _good_and_noisy()
    w = fit_simplex_weights(P, y, "log_loss")
    assert w[0] >= 0.8
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-12)


def test_blend_is_no_worse_than_the_best_single_model():
    rng = np.random.default_rng(1)
    n = 3_000
    y = rng.integers(0, 2, n)
    # Three differently noisy views of the same signal: the blend should beat each of them.
    cols = [1 / (1 + np.exp(-(s * (2 * y - 1) + rng.normal(size=n)))) for s in (1.0, 1.2, 0.8)]
    P = np.column_stack(cols)
    w = fit_simplex_weights(P, y, Loss.LOG_LOSS)
    blended = log_loss(y, P @ w)
    best_single = min(log_loss(y, P[:, j]) for j in range(P.shape[1]))
    assert blended <= best_single + 1e-12
    assert blended < best_single - 1e-3  # independent noise: averaging genuinely helps


def test_squared_error_recovers_an_exact_mixture():
    rng = np.random.default_rng(2)
    P = rng.normal(size=(500, 3)) * 1_000.0  # large units: the solver rescales internally
    y = P @ np.array([0.6, 0.0, 0.4])
    np.testing.assert_allclose(fit_simplex_weights(P, y, "squared_error"), [0.6, 0.0, 0.4], atol=1e-6)


def test_multiclass_weights_prefer_the_informative_model():
    rng = np.random.default_rng(3)
    n, k = 1_500, 3
    y = rng.integers(0, k, n)
    good = np.full((n, k), 0.1)
    good[np.arange(n), y] = 0.8
    noise = rng.dirichlet(np.ones(k), n)
    P = np.stack([good, noise], axis=1)  # (n, models, classes)
    w = fit_simplex_weights(P, y, "log_loss")
    assert w[0] >= 0.8


def test_fitting_is_deterministic_and_single_model_is_trivial():
    P, y = _good_and_noisy(seed=4)
    np.testing.assert_array_equal(fit_simplex_weights(P, y, "log_loss"), fit_simplex_weights(P, y, "log_loss"))
    np.testing.assert_array_equal(fit_simplex_weights(P[:, :1], y, "log_loss"), [1.0])


def test_bad_loss_and_shapes_raise():
    P, y = _good_and_noisy(n=10)
    with pytest.raises(WorkflowError, match=r"expected loss in .*got 'hinge'.*Fix: loss="):
        fit_simplex_weights(P, y, "hinge")
    with pytest.raises(DataError, match=r"n_samples = len\(y\).*P.shape=\(10, 2\).*y.shape=\(9,\)"):
        fit_simplex_weights(P, y[:9], "log_loss")


def test_chunk_folds_assign_whole_chunks_once():
    sizes = (100, 100, 100, 100, 100, 37)
    folds = chunk_folds(sizes, 3)
    assert len(folds) == 3
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests.tolist()) == list(range(len(sizes)))  # every chunk tested exactly once
    for train, test in folds:
        assert not set(train) & set(test)
        assert sorted([*train, *test]) == list(range(len(sizes)))
    rows = [sum(sizes[i] for i in te) for _, te in folds]
    assert max(rows) - min(rows) <= max(sizes)  # balanced in rows
    assert [te.tolist() for _, te in chunk_folds(4, 2)] == [[0, 2], [1, 3]]


def test_chunk_folds_errors():
    with pytest.raises(WorkflowError, match=r"k >= 2, got k=1"):
        chunk_folds((10, 10), 1)
    with pytest.raises(DataError, match=r"5 folds need at least 5 row chunks, got 3. Fix: use k <= 3"):
        chunk_folds((10, 10, 10), 5)
    with pytest.raises(DataError, match=r"known, non-negative chunk sizes.*compute_chunk_sizes"):
        chunk_folds((10, float("nan")), 2)


def test_probability_helpers():
    P = model_probabilities(np.array([[0.9, 1.5, 0.5]]), 2)
    np.testing.assert_allclose(P[0], [[0.1, 0.9], [0.0, 1.0], [0.5, 0.5]])  # clipped to [0, 1]
    votes = hard_votes(P, np.full(3, 1 / 3))  # 0.5 is a tie: the vote goes to the first class
    np.testing.assert_allclose(votes, [[1 / 3, 2 / 3]])
    assert np.isfinite(logit(np.array([0.0, 1.0]))).all()
