"""Hard and soft voting over base-model class probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import numpy as np

from daskcollab._errors import WorkflowError
from daskcollab.ensemble._blender import _Blender, blender_message
from daskcollab.ensemble._simplex import blend_probabilities, hard_votes, model_probabilities
from daskcollab.models import Task


class VotingMode(str, Enum):
    """``hard``: each model votes for its most probable class; ``soft``: average probabilities."""

    HARD = "hard"
    SOFT = "soft"


class Voting(_Blender):
    """Classify by majority vote (``hard``) or by the average probability (``soft``).

    Nothing is learnt from the data but the labels (``classes_``) and the column layout.

    Parameters
    ----------
    voting : {"hard", "soft"} or VotingMode, default="soft"
        ``hard``: ``predict_proba`` returns the (weighted) share of models voting for each class,
        ties go to the class listed first in ``classes_`` (binary: a model votes positive only
        when its probability is above 0.5). ``soft``: weighted average of the probabilities.
    weights : sequence of float, default=None
        One non-negative weight per model (normalised to sum to one); ``None``: equal weights.

    Attributes
    ----------
    weights_ : ndarray of shape (n_models,)
    n_models_ : int
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int

    Notes
    -----
    ``fit`` gathers dask inputs to the client; prediction stays lazy and chunk-wise.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.9, 0.6, 0.2], [0.1, 0.45, 0.3]])
    >>> Voting(voting="hard").fit(P, ["no", "yes"]).predict(P).tolist()
    ['yes', 'no']
    """

    def __init__(self, voting: VotingMode | str = "soft", weights: Sequence[float] | None = None) -> None:
        self.voting = voting
        self.weights = weights

    def _task(self) -> Task:
        return Task.CLASSIFICATION

    def _mode(self) -> VotingMode:
        try:
            return VotingMode(self.voting)
        except ValueError:
            raise WorkflowError(
                blender_message(
                    self,
                    "fit",
                    f"expected voting in {[m.value for m in VotingMode]!r}, got {self.voting!r}",
                    'voting="hard" or voting="soft"',
                )
            ) from None

    def _check_params(self) -> None:
        self._mode()

    def _fit_matrix(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.weights is None:
            self.weights_ = np.full(self.n_models_, 1.0 / self.n_models_)
            return
        w = np.asarray(self.weights, dtype=np.float64).ravel()
        if w.shape != (self.n_models_,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise WorkflowError(
                blender_message(
                    self,
                    "fit",
                    f"expected {self.n_models_} finite non-negative weights (one per model, not all zero), "
                    f"got weights={self.weights!r}",
                    f"weights=None or a list of {self.n_models_} numbers >= 0",
                )
            )
        self.weights_ = w / w.sum()

    def _proba_block(self, block: np.ndarray) -> np.ndarray:
        P = model_probabilities(block, len(self.classes_))
        if self._mode() is VotingMode.HARD:
            return hard_votes(P, self.weights_)
        return blend_probabilities(P, self.weights_)
