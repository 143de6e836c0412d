"""Gain of a blend over its best member (pure), and the run table that shows it."""

from __future__ import annotations

import numpy as np
import pytest

import daskcollab as dc
from daskcollab.evaluation import blend_gains, score
from daskcollab.models import Task


def test_gain_sign_reads_the_same_for_every_metric():
    metrics = {"xgb": {"auc": 0.80, "log_loss": 0.45}, "lin": {"auc": 0.70, "log_loss": 0.40},
               "blend": {"auc": 0.79, "log_loss": 0.41}, "reg_a": {"rmse": 2.0}, "reg_b": {"rmse": 3.0},
               "reg_blend": {"rmse": 1.5}}
    gains = blend_gains(metrics, ["xgb", "lin"], "blend")
    assert gains["auc"].gain == pytest.approx(-0.01) and gains["auc"].best_member == "xgb"
    # the best member is chosen per metric: lin has the best log-loss
    assert gains["log_loss"].gain == pytest.approx(-0.01) and gains["log_loss"].best_member == "lin"
    reg = blend_gains(metrics, ["reg_a", "reg_b"], "reg_blend")
    assert list(reg) == ["rmse"] and reg["rmse"].gain == pytest.approx(0.5) and reg["rmse"].best_value == 2.0
    assert blend_gains(metrics, ["xgb"], "not-evaluated") == {}


def test_run_table_shows_each_blends_gain():
    result = dc.RunResult(
        "w", metrics={"xgb": {"auc": 0.8, "log_loss": 0.45}, "lin": {"auc": 0.7, "log_loss": 0.5},
                      "stack": {"auc": 0.81, "log_loss": 0.44}},
        weights={"stack": {"xgb": 1.1, "lin": 0.2}},
        blends={"stack": {"method": "stacking", "models": ["xgb", "lin"]}})
    table = result.table()
    assert "gain over the best member (positive = better):" in table
    assert "stack                auc +0.0100 (vs xgb 0.8000), log_loss +0.0100 (vs xgb 0.4500)" in table


def test_multiclass_scores_are_one_vs_rest():
    from sklearn.metrics import log_loss, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 500)
    P = rng.dirichlet(np.ones(4), 500)
    P[np.arange(500), y] += 0.5
    P /= P.sum(axis=1, keepdims=True)
    got = score(Task.CLASSIFICATION, y, P)
    assert got["auc"] == pytest.approx(roc_auc_score(y, P, multi_class="ovr"))
    assert got["log_loss"] == pytest.approx(log_loss(y, P))
    assert got["accuracy"] == pytest.approx((P.argmax(axis=1) == y).mean())
