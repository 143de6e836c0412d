"""Greedy ensemble selection and the stacking guard: pure maths, no cluster."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from daskcollab import DataError, WorkflowError
from daskcollab.ensemble import EnsembleSelection, Stacking, ensemble_selection_weights


def _loss(Q, w):
    return -np.log(np.clip(Q @ w, 1e-7, None)).mean()


def test_selection_adds_with_replacement_from_the_best_single_model():
    rng = np.random.default_rng(0)
    n = 2_000
    strong = np.clip(rng.beta(8, 2, n), 0, 1)  # probability of the observed class, mostly high
    weak = np.clip(rng.beta(3, 2, n), 0, 1)
    noisy = np.where(rng.random(n) < 0.5, strong, weak)
    Q = np.column_stack([weak, strong, noisy])
    w = ensemble_selection_weights(Q, None, "log_loss", size=25)
    assert np.isclose(w.sum(), 1.0) and (w >= 0).all()
    counts = w * 25
    assert np.allclose(counts, np.round(counts)) or np.allclose(w * (w > 0).sum(), np.round(w * (w > 0).sum()))
    single = [_loss(Q, np.eye(3)[j]) for j in range(3)]
    assert _loss(Q, w) <= min(single) + 1e-12  # starts at the best single model, never gets worse
    assert w[1] == w.max()


def test_selection_keeps_the_best_prefix_and_breaks_ties_by_index():
    Q = np.array([[0.9, 0.9, 0.1], [0.9, 0.9, 0.1]])
    # models 0 and 1 are identical and best; adding model 2 only hurts: the ensemble stays {model 0}
    np.testing.assert_array_equal(ensemble_selection_weights(Q, None, "log_loss", size=10), [1.0, 0.0, 0.0])
    # complementary models: the average beats both, so both are chosen
    Q = np.array([[0.9, 0.5], [0.5, 0.9]])
    np.testing.assert_allclose(ensemble_selection_weights(Q, None, "log_loss", size=4), [0.5, 0.5])


def test_sorted_initialisation_and_bagging():
    rng = np.random.default_rng(1)
    Q = rng.uniform(0.3, 1.0, size=(500, 6))
    w_init = ensemble_selection_weights(Q, None, "log_loss", size=3, init_size=3)
    best3 = np.argsort([_loss(Q, np.eye(6)[j]) for j in range(6)])[:3]
    assert set(np.flatnonzero(w_init)) <= set(best3) and np.isclose(w_init.sum(), 1.0)
    bagged = ensemble_selection_weights(Q, None, "log_loss", size=10, n_bags=8, seed=3)
    again = ensemble_selection_weights(Q, None, "log_loss", size=10, n_bags=8, seed=3)
    np.testing.assert_array_equal(bagged, again)  # seeded
    assert np.isclose(bagged.sum(), 1.0) and (bagged > 0).sum() >= 2


def test_squared_error_selection_for_regression():
    rng = np.random.default_rng(2)
    y = rng.normal(size=1_000)
    P = np.column_stack([y + rng.normal(0, 1, 1_000), y + rng.normal(0, 1, 1_000), y + 50 + rng.normal(0, 1, 1_000)])
    w = ensemble_selection_weights(P, y, "squared_error", size=20)
    assert w[2] == 0 and abs(w[0] - 0.5) <= 0.15
    mse = ((P @ w - y) ** 2).mean()
    assert mse < min(((P[:, j] - y) ** 2).mean() for j in range(3))


def test_selection_errors():
    with pytest.raises(DataError, match=r"ensemble_selection_weights: expected P of shape \(n_samples, n_models\)"):
        ensemble_selection_weights(np.empty((0, 2)), None, "log_loss")
    with pytest.raises(WorkflowError, match=r"expected an integer size >= 1, got 0\. Fix: size=1"):
        ensemble_selection_weights(np.ones((3, 2)), None, "log_loss", size=0)
    with pytest.raises(WorkflowError, match=r"ensemble_selection_weights: expected loss in"):
        ensemble_selection_weights(np.ones((3, 2)), None, "auc")
    with pytest.raises(WorkflowError, match=r"EnsembleSelection\.fit: expected an integer ensemble_size >= 1, got 0"):
        EnsembleSelection(ensemble_size=0).fit(np.full((4, 2), 0.5), [0, 1, 0, 1])


def test_ensemble_selection_blender_binary_and_multiclass():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 600)
    good = np.clip(0.7 * y + 0.15 + 0.1 * rng.normal(size=600), 0.01, 0.99)
    P = np.column_stack([good, rng.uniform(size=600)])
    es = EnsembleSelection().fit(P, y)
    assert es.weights_.tolist() == [1.0, 0.0]
    np.testing.assert_allclose(es.predict_positive(P), good)
    k = 3
    y3 = rng.integers(0, k, 600)
    blocks = []
    for strength in (2.0, 0.5):
        p = rng.dirichlet(np.ones(k), 600)
        p[np.arange(600), y3] += strength
        blocks.append(p / p.sum(axis=1, keepdims=True))
    es3 = EnsembleSelection(ensemble_size=10).fit(np.hstack(blocks), y3)
    proba = es3.predict_proba(np.hstack(blocks))
    assert proba.shape == (600, 3) and es3.weights_[0] >= es3.weights_[1]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def _noise_library(n, n_noise, seed):
    """One calibrated model plus ``n_noise`` models of pure noise, as probabilities."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    p_true = 1 / (1 + np.exp(-1.5 * z))
    y = (rng.random(n) < p_true).astype(int)
    good = 1 / (1 + np.exp(-(1.5 * z + 0.3 * rng.normal(size=n))))
    noise = rng.uniform(0.02, 0.98, size=(n, n_noise))
    return np.column_stack([good, noise]), y


def test_stacking_guard_keeps_log_loss_where_naive_stacking_loses():
    P_fit, y_fit = _noise_library(80, 20, seed=0)  # few out-of-fold rows, many useless models
    P_test, y_test = _noise_library(20_000, 20, seed=1)
    best_member = log_loss(y_test, P_test[:, 0])
    naive = Stacking(final_estimator=LogisticRegression(C=1e4, max_iter=5_000), guard=False).fit(P_fit, y_fit)
    assert log_loss(y_test, naive.predict_positive(P_test)) > best_member + 0.05  # naive stacking overfits
    guarded = Stacking().fit(P_fit, y_fit)
    assert guarded.fallback_ == 0 and guarded.final_estimator_ is None
    assert log_loss(y_test, guarded.predict_positive(P_test)) <= best_member + 1e-12
    # complementary members (each sees half the signal): the meta-learner wins and is kept, C chosen by CV
    rng = np.random.default_rng(2)
    z = rng.normal(size=(5_000, 2))
    y_many = (rng.random(5_000) < 1 / (1 + np.exp(-z.sum(axis=1)))).astype(int)
    kept = Stacking().fit(1 / (1 + np.exp(-z)), y_many)
    assert kept.fallback_ is None and kept.C_ in (0.01, 0.1, 1.0, 10.0)
    assert kept.cv_loss_ <= kept.member_losses_.min()


def test_stacking_guard_for_regression():
    rng = np.random.default_rng(5)
    y = rng.normal(size=40)
    P = np.column_stack([y + 0.1 * rng.normal(size=40), rng.normal(size=(40, 15))])
    guarded = Stacking(task="regression").fit(P, y)
    y_new = rng.normal(size=5_000)
    P_new = np.column_stack([y_new + 0.1 * rng.normal(size=5_000), rng.normal(size=(5_000, 15))])
    best = ((P_new[:, 0] - y_new) ** 2).mean()
    got = ((guarded.predict(P_new) - y_new) ** 2).mean()
    assert got <= best * 1.05  # guarded: the member alone, or a meta-learner that is no worse
    with pytest.raises(WorkflowError, match=r"Stacking\.fit: expected an integer cv >= 2, got 1\. Fix: cv=3"):
        Stacking(cv=1).fit(P, y)
