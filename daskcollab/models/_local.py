"""Single-process fits of a model stage's estimator, for many small fits in parallel.

Stacking refits every base model once per fold. When a fold's training rows are small, one
task per (model, fold) that trains the same estimator in-process on one worker (xgboost's
``hist`` booster with ``nthread=1``; the linear model's dask-ml objective solved by scikit-learn,
:func:`~daskcollab.models._linear.fit_linear_arrays`) runs the folds side by side on all workers, instead of one distributed fit
after another, each dominated by scheduling round trips.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from daskcollab._types import Device
from daskcollab.models._fitted import Task


@dataclass(frozen=True)
class LocalXGBoost:
    """xgboost ``train`` with the stage's parameters, one thread."""

    task: Task
    params: Mapping[str, Any] = field(default_factory=dict)
    rounds: int = 100
    n_classes: int = 2

    def fit_predict(self, X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
        import xgboost

        from daskcollab.models._xgboost import xgboost_params

        params = {**xgboost_params(self.task, self.params, Device.CPU, self.n_classes), "nthread": 1}
        booster = xgboost.train(params, xgboost.QuantileDMatrix(X, y), num_boost_round=self.rounds)
        return np.asarray(booster.inplace_predict(X_new), dtype=np.float32)


@dataclass(frozen=True)
class LocalLinear:
    """The objective of dask-ml's lbfgs ``LogisticRegression`` / ``LinearRegression``, solved by
    scikit-learn in-process (:func:`~daskcollab.models._linear.fit_linear_arrays`)."""

    task: Task
    C: float = 1.0
    max_iter: int = 100
    n_classes: int = 2

    def fit_predict(self, X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
        from daskcollab.models._linear import fit_linear_arrays, linear_scores

        coef, intercept = fit_linear_arrays(X, y, task=self.task, C=self.C, max_iter=self.max_iter,
                                            n_classes=self.n_classes)
        return linear_scores(X_new, coef, intercept, self.task is Task.CLASSIFICATION)


LocalModel = LocalXGBoost | LocalLinear


def fit_predict_local(model: LocalModel, X: np.ndarray, y: np.ndarray, X_new: np.ndarray) -> np.ndarray:
    """Train ``model`` on ``(X, y)`` in this process and predict ``X_new`` (one task's work)."""
    return model.fit_predict(np.asarray(X), np.asarray(y), np.asarray(X_new))
