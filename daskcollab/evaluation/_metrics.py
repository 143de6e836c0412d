"""Evaluation metrics over in-memory test predictions (pure)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics

from daskcollab.models._fitted import Task

CLASSIFICATION_METRICS = ("auc", "accuracy", "log_loss")
REGRESSION_METRICS = ("rmse", "r2")


def score(task: Task, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """AUC / accuracy / log-loss of positive-class probabilities, or RMSE / R² of values.

    Examples
    --------
    >>> score(Task.REGRESSION, np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    {'rmse': 0.0, 'r2': 1.0}
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if task is Task.CLASSIFICATION:
        p = np.clip(y_pred, 1e-7, 1 - 1e-7)
        return {
            "auc": float(metrics.roc_auc_score(y_true, p)),
            "accuracy": float(metrics.accuracy_score(y_true, p >= 0.5)),
            "log_loss": float(metrics.log_loss(y_true, p, labels=[0, 1])),
        }
    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, y_pred))),
        "r2": float(metrics.r2_score(y_true, y_pred)),
    }
