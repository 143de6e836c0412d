"""Single-process fits of a model stage's estimator, for many small fits in parallel.

Stacking refits every base model once per fold. When a fold's training rows are small, one
task per (model, fold) that trains the same estimator in-process on one worker (xgboost's
``hist`` booster with ``nthread=1``; scikit-learn's L2 logistic / ridge regression with the
dask-ml penalty) runs the folds side by side on all workers, instead of one distributed fit
after another, each dominated by scheduling round trips.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from daskcollab.models._fitted import Task


@dataclass(frozen=True)
class LocalXGBoost:
    """xgboost ``train`` with the stage's parameters, one thread."""

    task: Task
    params: Mapping[str, Any] = field(default_factory=dict)
    rounds: int = 100

    def fit_predict(self, X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
        import xgboost

        objective = "binary:logistic" if self.task is Task.CLASSIFICATION else "reg:squarederror"
        params = {"objective": objective, "tree_method": "hist", **self.params, "nthread": 1, "device": "cpu"}
        booster = xgboost.train(params, xgboost.QuantileDMatrix(X, y), num_boost_round=self.rounds)
        return np.asarray(booster.inplace_predict(X_new), dtype=np.float32)


@dataclass(frozen=True)
class LocalLinear:
    """The objective of dask-ml's lbfgs ``LogisticRegression`` / ``LinearRegression``
    (loss + ``||w||² / (2C)``), solved by scikit-learn in-process."""

    task: Task
    C: float = 1.0
    max_iter: int = 100

    def fit_predict(self, X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
        if self.task is Task.CLASSIFICATION:
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=self.C, max_iter=max(self.max_iter, 200)).fit(X, y)
            return model.predict_proba(X_new)[:, 1].astype(np.float32)
        from sklearn.linear_model import Ridge

        # dask-glm's normal loss is sum((y - Xb)^2) + ||b||^2 / (2C)  ->  Ridge alpha = 1 / (2C)
        return Ridge(alpha=1.0 / (2.0 * self.C)).fit(X, y).predict(X_new).astype(np.float32)


LocalModel = LocalXGBoost | LocalLinear


def fit_predict_local(model: LocalModel, X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
    """Train ``model`` on ``(X, y)`` in this process and predict ``X_new`` (one task's work)."""
    return model.fit_predict(np.asarray(X), np.asarray(y), np.asarray(X_new))
