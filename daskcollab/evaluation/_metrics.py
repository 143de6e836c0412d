"""Evaluation metrics over in-memory test predictions (pure)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics

from daskcollab.models import Task

CLASSIFICATION_METRICS = ("auc", "accuracy", "log_loss")
REGRESSION_METRICS = ("rmse", "r2")
#: Probabilities are clipped to ``[EPS, 1 - EPS]`` before log-loss.
EPS = 1e-7


def score(task: Task, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """AUC / accuracy / log-loss of probabilities, or RMSE / R² of values.

    Classification: ``y_pred`` of shape (n,) is the positive-class probability (labels 0/1,
    accuracy at 0.5); of shape (n, k) the class probabilities (labels ``0 .. k-1``): AUC is
    one-vs-rest, macro-averaged (``roc_auc_score(multi_class="ovr")``), accuracy is of the most
    probable class, log-loss over all ``k`` classes (rows renormalised after clipping).

    Examples
    --------
    >>> score(Task.REGRESSION, np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    {'rmse': 0.0, 'r2': 1.0}
    >>> P = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    >>> score(Task.CLASSIFICATION, np.array([0, 1, 2]), P)["accuracy"]
    1.0
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if task is Task.CLASSIFICATION and y_pred.ndim == 2:
        k = y_pred.shape[1]
        P = np.clip(y_pred, EPS, 1 - EPS)
        P = P / P.sum(axis=1, keepdims=True)
        labels = np.arange(k)
        return {
            "auc": float(metrics.roc_auc_score(y_true, P, multi_class="ovr", labels=labels)),
            "accuracy": float(metrics.accuracy_score(y_true, np.argmax(P, axis=1))),
            "log_loss": float(metrics.log_loss(y_true, P, labels=labels)),
        }
    if task is Task.CLASSIFICATION:
        p = np.clip(y_pred, EPS, 1 - EPS)
        return {
            "auc": float(metrics.roc_auc_score(y_true, p)),
            "accuracy": float(metrics.accuracy_score(y_true, p >= 0.5)),
            "log_loss": float(metrics.log_loss(y_true, p, labels=[0, 1])),
        }
    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, y_pred))),
        "r2": float(metrics.r2_score(y_true, y_pred)),
    }
