"""Blenders on NumPy input: behaviour on hand-made cases and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeCV
from sklearn.metrics import log_loss
from sklearn.tree import DecisionTreeClassifier

from daskcollab import DaskCollabError, DataError, WorkflowError
from daskcollab.ensemble import Stacking, Voting, WeightedAverage, stack_predictions


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---- WeightedAverage --------------------------------------------------------------------------
def test_weighted_average_weights_and_string_labels():
    rng = np.random.default_rng(0)
    n = 1_000
    y = rng.integers(0, 2, n)
    good = _sigmoid(2.5 * (2 * y - 1) + rng.normal(size=n))
    P = np.column_stack([good, rng.uniform(size=n)])
    labels = np.array(["cancelled", "on_time"])[y]
    wa = WeightedAverage().fit(P, labels)
    assert wa.weights_[0] >= 0.8 and wa.weights_.sum() == pytest.approx(1.0)
    assert wa.n_models_ == 2 and wa.classes_.tolist() == ["cancelled", "on_time"]
    proba = wa.predict_proba(P)
    np.testing.assert_allclose(proba[:, 1], wa.predict_positive(P))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(wa.predict(P)) <= {"cancelled", "on_time"}
    assert log_loss(y, proba[:, 1]) <= min(log_loss(y, P[:, 0]), log_loss(y, P[:, 1]))


def test_weighted_average_multiclass_is_model_major():
    y = np.array([0, 1, 2, 0, 1, 2])
    good = np.eye(3)[y] * 0.7 + 0.1  # rows sum to 1, 0.8 on the true class
    flat = np.full((6, 3), 1 / 3)
    wa = WeightedAverage().fit(np.hstack([flat, good]), y)  # model 0 = flat, model 1 = good
    assert wa.n_models_ == 2 and wa.weights_[1] > 0.99
    assert wa.predict(np.hstack([flat, good])).tolist() == y.tolist()
    assert wa.predict_proba(np.hstack([flat, good])).shape == (6, 3)
    assert not hasattr(wa, "predict_positive")  # binary only


def test_weighted_average_regression():
    rng = np.random.default_rng(1)
    P = rng.normal(size=(300, 2))
    y = 0.25 * P[:, 0] + 0.75 * P[:, 1]
    wa = WeightedAverage(task="regression").fit(P, y)
    np.testing.assert_allclose(wa.weights_, [0.25, 0.75], atol=1e-6)
    np.testing.assert_allclose(wa.predict(P), y, atol=1e-6)
    assert not hasattr(wa, "predict_proba") and not hasattr(wa, "classes_")


# ---- Voting -----------------------------------------------------------------------------------
def test_voting_hard_and_soft_on_a_hand_made_example():
    # Three models, binary. Row 0: two weak "yes" beat one confident "no" only in hard voting.
    P = np.array(
        [
            [0.55, 0.60, 0.01],  # hard: yes (2 of 3); soft: mean 0.387 -> no
            [0.90, 0.20, 0.30],  # hard: no (1 of 3);  soft: mean 0.467 -> no
            [0.40, 0.45, 0.99],  # hard: no (1 of 3);  soft: mean 0.613 -> yes
            [0.50, 0.50, 0.90],  # 0.5 is not a "yes" vote: hard no; soft yes
        ]
    )
    y = ["no", "yes", "no", "yes"]
    hard = Voting(voting="hard").fit(P, y)
    soft = Voting(voting="soft").fit(P, y)
    assert hard.predict(P).tolist() == ["yes", "no", "no", "no"]
    assert soft.predict(P).tolist() == ["no", "no", "yes", "yes"]
    np.testing.assert_allclose(hard.predict_proba(P)[:, 1], [2 / 3, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(soft.predict_positive(P), P.mean(axis=1))


def test_voting_weights_and_multiclass_ties():
    P = np.array([[0.9, 0.2, 0.3]])
    w = Voting(voting="hard", weights=[3, 1, 1]).fit(np.vstack([P, 1 - P]), [0, 1])
    np.testing.assert_allclose(w.weights_, [0.6, 0.2, 0.2])
    assert w.predict(P).tolist() == [1]  # the heavy model outvotes two light ones
    # Multiclass, two models disagree with equal weight: the tie goes to the first class.
    M = np.array([[0.1, 0.8, 0.1, 0.1, 0.1, 0.8]])
    mc = Voting(voting="hard").fit(np.vstack([M, M, M]), ["a", "b", "c"])
    assert mc.predict(M).tolist() == ["b"]
    np.testing.assert_allclose(mc.predict_proba(M), [[0.0, 0.5, 0.5]])


# ---- Stacking ---------------------------------------------------------------------------------
def _complementary(n, seed):
    """Each model sees one of two independent halves of the signal: they are complementary.

    Model 0 is over-confident and model 1 under-confident, so equal averaging mis-weighs them.
    """
    rng = np.random.default_rng(seed)
    z1, z2 = rng.normal(size=n), rng.normal(size=n)
    y = (z1 + z2 + 0.3 * rng.normal(size=n) > 0).astype(int)
    return np.column_stack([_sigmoid(4.0 * z1), _sigmoid(0.5 * z2)]), y


def test_stacking_beats_equal_averaging_on_complementary_models():
    P_oof, y_oof = _complementary(4_000, seed=0)  # stands in for the out-of-fold matrix
    P_test, y_test = _complementary(4_000, seed=1)
    stack = Stacking().fit(P_oof, y_oof)
    assert isinstance(stack.final_estimator_, LogisticRegression)
    stacked = log_loss(y_test, stack.predict_positive(P_test))
    averaged = log_loss(y_test, P_test.mean(axis=1))
    assert stacked < averaged - 0.05
    stacked_acc = (stack.predict(P_test) == y_test).mean()
    averaged_acc = ((P_test.mean(axis=1) > 0.5) == y_test).mean()
    assert stacked_acc > averaged_acc + 0.02


def test_stacking_custom_final_estimator_and_regression():
    P, y = _complementary(500, seed=2)
    tree = Stacking(final_estimator=DecisionTreeClassifier(max_depth=3, random_state=0)).fit(P, y)
    assert isinstance(tree.final_estimator_, DecisionTreeClassifier)
    assert tree.final_estimator is not tree.final_estimator_  # cloned, params untouched
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 2))
    reg = Stacking(task="regression").fit(X, 1.0 + 2.0 * X[:, 0])
    assert isinstance(reg.final_estimator_, RidgeCV) and reg.fallback_ is None
    assert reg.final_estimator_.alpha_ == 1e-3  # exact data: the least penalty wins
    np.testing.assert_allclose(reg.final_estimator_.coef_, [2.0, 0.0], atol=1e-4)


# ---- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("blender", [WeightedAverage(), Voting(), Stacking()], ids=lambda b: type(b).__name__)
def test_one_class_and_nan_labels_are_data_errors(blender):
    P = np.full((4, 2), 0.3)
    name = type(blender).__name__
    with pytest.raises(DataError, match=rf"{name}.fit: expected labels of at least two classes, got only one "
                       r"class 1 in 4 rows\. Fix: fit on a validation split that contains every class"):
        blender.fit(P, [1, 1, 1, 1])
    with pytest.raises(DataError, match=rf"{name}.fit: expected labels without NaN, got 1 NaN label\(s\) in 4 rows"
                       r"\. Fix: drop unlabelled rows"):
        blender.fit(P, [0.0, 1.0, np.nan, 1.0])


def test_column_layout_and_shape_errors():
    y = np.array([0, 1, 2, 0])
    with pytest.raises(DataError, match=r"WeightedAverage.fit: expected n_models \* 3 columns .*got 4 columns"):
        WeightedAverage().fit(np.full((4, 4), 0.25), y)
    wa = WeightedAverage().fit(np.full((4, 6), 1 / 3), y)
    with pytest.raises(DataError, match=r"WeightedAverage.predict: X has 3 features, but WeightedAverage is "
                       r"expecting 6 features as input.*Fix:"):
        wa.predict(np.full((2, 3), 0.5))
    with pytest.raises(DataError, match=r"Found input variables with inconsistent numbers of samples: \[4, 3\]"):
        WeightedAverage().fit(np.full((4, 2), 0.5), [0, 1, 0])
    with pytest.raises(DataError, match=r"Unknown label type.*Fix: classify discrete labels, or use task="):
        WeightedAverage().fit(np.full((4, 2), 0.5), [0.1, 0.2, 0.3, 0.4])


def test_bad_parameters_are_workflow_value_errors():
    P, y = np.full((4, 2), 0.5), [0, 1, 0, 1]
    for blender, pattern in [
        (WeightedAverage(task="ranking"), r"WeightedAverage.fit: expected task in \['classification', "
         r"'regression'\], got 'ranking'\. Fix: task="),
        (Voting(voting="majority"), r"expected voting in \['hard', 'soft'\], got 'majority'"),
        (Voting(weights=[1.0]), r"expected 2 finite non-negative weights .*got weights=\[1.0\]"),
        (Voting(weights=[-1.0, 1.0]), r"got weights=\[-1.0, 1.0\]. Fix: weights=None or a list of 2"),
        (Stacking(final_estimator="lr"), r"expected final_estimator to be None or a scikit-learn estimator, got 'lr'"),
        (Stacking(final_estimator=LinearRegression()), r"expected a final_estimator with predict_proba"),
    ]:
        with pytest.raises(WorkflowError, match=pattern) as info:
            blender.fit(P, y)
        assert isinstance(info.value, DaskCollabError) and isinstance(info.value, ValueError)


def test_stack_predictions_rejects_mismatched_models():
    a, b = np.zeros(10), np.zeros(9)
    with pytest.raises(DataError, match=r"WeightedAverage: base models predict different row counts: model 0 "
                       r"has 10 rows, model 1 has 9\. Fix: predict every base model on the same rows"):
        stack_predictions([a, b], WeightedAverage())
    with pytest.raises(DataError, match=r"expected every model's predictions with the shape of model 0 \(10,\)"):
        stack_predictions([a, np.zeros((10, 3))])
    np.testing.assert_array_equal(stack_predictions([a, a + 1]), np.column_stack([a, a + 1]))
