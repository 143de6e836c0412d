"""Stacking: a meta-learner fitted on out-of-fold base-model predictions."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression

from daskcollab._errors import WorkflowError
from daskcollab.ensemble._blender import TaskName, _Blender, blender_message
from daskcollab.ensemble._simplex import logit
from daskcollab.models._fitted import Task


class Stacking(_Blender):
    """Learn how to combine base models with a meta-learner (the "final estimator").

    Fit it on an **out-of-fold** prediction matrix (every row predicted by base models that did
    not see it, see :func:`chunk_folds`) and predict from the base models' predictions on new
    rows, in the same column layout.

    Parameters
    ----------
    task : {"classification", "regression"} or Task, default="classification"
    final_estimator : scikit-learn estimator, default=None
        Cloned and fitted on the base predictions. ``None``: ``LogisticRegression`` for
        classification, ``LinearRegression(positive=True)`` (non-negative least squares with an
        intercept) for regression. For classification the meta-learner always sees the
        **logits** of the base probabilities (clipped to ``[1e-7, 1 - 1e-7]``), is fitted on
        class indices ``0 .. n_classes - 1`` and must have ``predict_proba``.

    Attributes
    ----------
    final_estimator_ : estimator
        The fitted meta-learner.
    n_models_ : int
    classes_ : ndarray of shape (n_classes,)
        Classification only.
    n_features_in_ : int

    Notes
    -----
    ``fit`` gathers dask inputs to the client (n_rows × n_columns floats); prediction stays lazy
    and chunk-wise on dask input (the fitted meta-learner travels inside the graph).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> P = np.column_stack([np.where(y == 1, 0.7, 0.3), rng.uniform(size=200)])
    >>> Stacking().fit(P, y).predict(P[:4]).tolist() == y[:4].tolist()
    True
    """

    def __init__(self, task: Task | TaskName = "classification", final_estimator: Any = None) -> None:
        self.task = task
        self.final_estimator = final_estimator

    def _check_params(self) -> None:
        est = self.final_estimator
        if est is not None and not (hasattr(est, "fit") and hasattr(est, "get_params")):
            raise WorkflowError(
                blender_message(
                    self,
                    "fit",
                    f"expected final_estimator to be None or a scikit-learn estimator, got {est!r}",
                    "final_estimator=LogisticRegression() (or leave it None for the default)",
                )
            )

    def _default_estimator(self) -> Any:
        if self._task() is Task.CLASSIFICATION:
            return LogisticRegression(max_iter=1000)
        return LinearRegression(positive=True)

    def _features(self, X: np.ndarray) -> np.ndarray:
        return logit(X) if self._task() is Task.CLASSIFICATION else X

    def _fit_matrix(self, X: np.ndarray, y: np.ndarray) -> None:
        est = clone(self.final_estimator) if self.final_estimator is not None else self._default_estimator()
        if self._task() is Task.CLASSIFICATION and not hasattr(est, "predict_proba"):
            raise WorkflowError(
                blender_message(
                    self,
                    "fit",
                    f"expected a final_estimator with predict_proba for classification, got {est!r}",
                    "use a probabilistic classifier, e.g. LogisticRegression()",
                )
            )
        self.final_estimator_ = est.fit(self._features(X), y)

    def _proba_block(self, block: np.ndarray) -> np.ndarray:
        return self.final_estimator_.predict_proba(self._features(block))

    def _value_block(self, block: np.ndarray) -> np.ndarray:
        return self.final_estimator_.predict(self._features(block))
