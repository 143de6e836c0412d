"""Weighted average of base-model predictions with simplex weights fitted on a validation split."""

from __future__ import annotations

import numpy as np

from daskcollab.ensemble._blender import TaskName, _Blender
from daskcollab.ensemble._simplex import Loss, blend_probabilities, fit_simplex_weights, model_probabilities
from daskcollab.models import Task


class WeightedAverage(_Blender):
    """Blend base models with non-negative weights that sum to one.

    The weights minimise log-loss (classification) or squared error (regression) of the blend
    on the rows passed to :meth:`fit` (a validation split), with :func:`fit_simplex_weights`.

    Parameters
    ----------
    task : {"classification", "regression"} or Task, default="classification"
        Classification blends probabilities (inputs are clipped to [0, 1]); regression blends values.

    Attributes
    ----------
    weights_ : ndarray of shape (n_models,)
        Non-negative, summing to one.
    n_models_ : int
    classes_ : ndarray of shape (n_classes,)
        Classification only; labels in ``predict_proba`` column order.
    n_features_in_ : int

    Notes
    -----
    ``fit`` gathers dask inputs to the client (n_val × n_columns floats); ``predict``,
    ``predict_proba`` and ``predict_positive`` stay lazy and chunk-wise on dask input.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 1, 0, 1, 1, 0])
    >>> P = np.column_stack([np.where(y == 1, 0.8, 0.2), np.full(6, 0.5)])
    >>> WeightedAverage().fit(P, y).weights_.round(3).tolist()
    [1.0, 0.0]
    """

    def __init__(self, task: Task | TaskName = "classification") -> None:
        self.task = task

    def _fit_matrix(self, X: np.ndarray, y: np.ndarray) -> None:
        if self._task() is Task.REGRESSION:
            self.weights_ = fit_simplex_weights(X, y, Loss.SQUARED_ERROR)
            return
        P = model_probabilities(X, len(self.classes_))
        if len(self.classes_) == 2:
            P = P[:, :, 1]
        self.weights_ = fit_simplex_weights(P, y, Loss.LOG_LOSS)

    def _positive_block(self, block: np.ndarray) -> np.ndarray:
        if len(self.classes_) == 2:  # binary: the positive column of the normalised average, directly
            return np.clip(block, 0.0, 1.0) @ self.weights_
        return super()._positive_block(block)

    def _proba_block(self, block: np.ndarray) -> np.ndarray:
        return blend_probabilities(model_probabilities(block, len(self.classes_)), self.weights_)

    def _value_block(self, block: np.ndarray) -> np.ndarray:
        return block @ self.weights_
