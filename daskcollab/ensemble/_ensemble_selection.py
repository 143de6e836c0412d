"""Caruana-style greedy ensemble selection as a blender (AutoGluon's default ensemble)."""

from __future__ import annotations

import numpy as np

from daskcollab._errors import WorkflowError
from daskcollab.ensemble._blender import TaskName, blender_message
from daskcollab.ensemble._selection import ensemble_selection_weights
from daskcollab.ensemble._simplex import Loss, model_probabilities, true_class_probability
from daskcollab.ensemble._weighted_average import WeightedAverage
from daskcollab.models import Task


class EnsembleSelection(WeightedAverage):
    """Average of a greedily selected multiset of base models (Caruana et al. 2004).

    :meth:`fit` starts from the ``init_size`` best models and adds, ``ensemble_size`` times in
    all, the model (with replacement) that most lowers the log-loss (classification) or squared
    error (regression) of the average on the rows passed to it, keeping the best ensemble seen;
    see :func:`~daskcollab.ensemble._selection.ensemble_selection_weights`. A model chosen ``c``
    times gets weight ``c / size``. Fit it on out-of-fold predictions (or a validation split).
    Prediction is the weighted average, as :class:`WeightedAverage`.

    Parameters
    ----------
    task : {"classification", "regression"} or Task, default="classification"
    ensemble_size : int, default=25
        Members (with repetition); AutoGluon's default.
    init_size : int, default=1
        Sorted initialisation: the best ``init_size`` single models start the ensemble.
    n_bags : int, default=0
        Bagged ensemble selection: 0 or 1 means none; otherwise the selection runs on
        ``n_bags`` random halves of the models and the weights are averaged.
    random_state : int, default=0
        Seeds the bags.

    Attributes
    ----------
    weights_ : ndarray of shape (n_models,)
        Non-negative, summing to one (multiples of ``1 / ensemble_size`` without bagging).
    n_models_, classes_, n_features_in_
        As :class:`WeightedAverage` (which also describes fitting and prediction on dask input).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 1, 0, 1, 1, 0])
    >>> P = np.column_stack([np.where(y == 1, 0.8, 0.2), np.full(6, 0.5)])
    >>> EnsembleSelection(ensemble_size=5).fit(P, y).weights_.tolist()
    [1.0, 0.0]
    """

    def __init__(self, task: Task | TaskName = "classification", ensemble_size: int = 25, init_size: int = 1,
                 n_bags: int = 0, random_state: int = 0) -> None:
        self.task = task
        self.ensemble_size = ensemble_size
        self.init_size = init_size
        self.n_bags = n_bags
        self.random_state = random_state

    def _check_params(self) -> None:
        for name, low in (("ensemble_size", 1), ("init_size", 1), ("n_bags", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise WorkflowError(blender_message(self, "fit", f"expected an integer {name} >= {low}, got {value!r}",
                                                    f"{name}={max(low, 1 if name != 'ensemble_size' else 25)}"))

    def _fit_matrix(self, X: np.ndarray, y: np.ndarray) -> None:
        options = dict(size=self.ensemble_size, init_size=self.init_size, n_bags=self.n_bags,
                       seed=self.random_state)
        if self._task() is Task.REGRESSION:
            self.weights_ = ensemble_selection_weights(X, y, Loss.SQUARED_ERROR, **options)
            return
        P = model_probabilities(X, len(self.classes_))
        Q = true_class_probability(P[:, :, 1] if len(self.classes_) == 2 else P, y)
        self.weights_ = ensemble_selection_weights(Q, None, Loss.LOG_LOSS, **options)
