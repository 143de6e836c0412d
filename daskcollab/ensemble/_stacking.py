"""Stacking: a meta-learner fitted on out-of-fold base-model predictions, that never loses to
its best member on the fitting rows' cross-validated loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold

from daskcollab._errors import WorkflowError
from daskcollab.ensemble._blender import TaskName, _Blender, blender_message
from daskcollab.ensemble._simplex import EPS, logit, model_probabilities, normalise_rows
from daskcollab.models import Task

#: Cross-validation of the meta-learner uses at most this many rows (a seeded sample): its
#: few coefficients are settled long before, and the guard's comparison stays honest.
CV_MAX_ROWS = 100_000
DEFAULT_CS = (0.01, 0.1, 1.0, 10.0)
#: Penalties the default regression meta-learner chooses from (leave-one-out, ``RidgeCV``).
RIDGE_ALPHAS = (1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0)


class Stacking(_Blender):
    """Learn how to combine base models with a meta-learner (the "final estimator").

    Fit it on an **out-of-fold** prediction matrix (every row predicted by base models that did
    not see it, see :func:`chunk_folds`) and predict from the base models' predictions on new
    rows, in the same column layout.

    The default meta-learner is a logistic regression on the **logits** of the base
    probabilities (classification) whose ``C`` is chosen from ``Cs`` by ``cv``-fold
    cross-validated log-loss on the fitting rows, or a ridge regression with an intercept whose
    penalty is chosen by leave-one-out error (regression, ``RidgeCV``; weights may be negative:
    a member's errors can cancel another's). **Guard** (``guard=True``): the meta-learner's cross-validated
    loss (log-loss, or squared error) is compared with the best single member's loss on the
    same rows (out-of-fold predictions are honest already); if the meta-learner loses, the
    blend falls back to that member alone (``fallback_``). So stacking does not worsen
    calibration against its best member where the fitting rows can tell.

    Parameters
    ----------
    task : {"classification", "regression"} or Task, default="classification"
    final_estimator : scikit-learn estimator, default=None
        ``None``: the default meta-learner above. Otherwise cloned and fitted as given (no
        search over ``Cs``; the guard still applies). For classification the meta-learner
        always sees the logits of the base probabilities (clipped to ``[1e-7, 1 - 1e-7]``), is
        fitted on class indices ``0 .. n_classes - 1`` and must have ``predict_proba``.
    cv : int, default=3
        Folds of the meta-learner's cross-validation (at most ``CV_MAX_ROWS`` rows are used).
    Cs : sequence of float, default=(0.01, 0.1, 1.0, 10.0)
        Candidate inverse regularisation strengths of the default logistic meta-learner.
    guard : bool, default=True
        Fall back to the best member when the meta-learner's cross-validated loss is worse.
    random_state : int, default=0
        Seeds the cross-validation folds and the row sample.

    Attributes
    ----------
    final_estimator_ : estimator or None
        The fitted meta-learner; None when the blend fell back to a member.
    fallback_ : int or None
        Index of the member used alone (the guard fired), else None.
    C_ : float or None
        The chosen ``C`` (default classification meta-learner only).
    cv_loss_ : float or None
        The meta-learner's cross-validated loss (None when the rows were too few to cross-validate).
    member_losses_ : ndarray of shape (n_models,)
        Each member's loss on the fitting rows (log-loss, or mean squared error).
    n_models_ : int
    classes_ : ndarray of shape (n_classes,)
        Classification only.
    n_features_in_ : int

    Notes
    -----
    ``fit`` gathers dask inputs (n_rows x n_columns floats); prediction stays lazy and
    chunk-wise on dask input (the fitted meta-learner travels inside the graph).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> P = np.column_stack([np.where(y == 1, 0.7, 0.3), rng.uniform(size=200)])
    >>> Stacking().fit(P, y).predict(P[:4]).tolist() == y[:4].tolist()
    True
    """

    def __init__(self, task: Task | TaskName = "classification", final_estimator: Any = None, cv: int = 3,
                 Cs: Sequence[float] = DEFAULT_CS, guard: bool = True, random_state: int = 0) -> None:
        self.task = task
        self.final_estimator = final_estimator
        self.cv = cv
        self.Cs = Cs
        self.guard = guard
        self.random_state = random_state

    def _check_params(self) -> None:
        est = self.final_estimator
        if est is not None and not (hasattr(est, "fit") and hasattr(est, "get_params")):
            raise WorkflowError(blender_message(
                self, "fit", f"expected final_estimator to be None or a scikit-learn estimator, got {est!r}",
                "final_estimator=LogisticRegression() (or leave it None for the default)"))
        if isinstance(self.cv, bool) or not isinstance(self.cv, (int, np.integer)) or self.cv < 2:
            raise WorkflowError(blender_message(self, "fit", f"expected an integer cv >= 2, got {self.cv!r}", "cv=3"))
        Cs = np.asarray(self.Cs, dtype=np.float64).ravel() if self.Cs is not None else np.empty(0)
        if Cs.size == 0 or not np.isfinite(Cs).all() or (Cs <= 0).any():
            raise WorkflowError(blender_message(self, "fit", f"expected Cs to be positive numbers, got {self.Cs!r}",
                                                "Cs=(0.01, 0.1, 1.0, 10.0)"))

    def _classification(self) -> bool:
        return self._task() is Task.CLASSIFICATION

    def _features(self, X: np.ndarray) -> np.ndarray:
        return logit(X) if self._classification() else X

    # ---- fit -----------------------------------------------------------------------------
    def _fit_matrix(self, X: np.ndarray, y: np.ndarray) -> None:
        F = self._features(X)
        self.member_losses_ = self._member_losses(X, y)
        self.C_, self.cv_loss_, self.fallback_ = None, None, None
        est = self._candidate()
        folds = self._folds(y)
        if folds is not None:
            rows = self._cv_rows(len(y))
            if self.final_estimator is None and self._classification():
                self.C_, self.cv_loss_ = self._choose_C(F[rows], y[rows], folds)
                est.set_params(C=self.C_)
            else:
                self.cv_loss_ = self._cv_loss(est, F[rows], y[rows], folds)
            members = self._member_losses(X[rows], y[rows])
            if self.guard and self.cv_loss_ > members.min():
                self.fallback_, self.final_estimator_ = int(np.argmin(members)), None
                return
        elif self.final_estimator is None and self._classification():
            self.C_ = 1.0
            est.set_params(C=1.0)
        self.final_estimator_ = est.fit(F, y)

    def _candidate(self) -> Any:
        if self.final_estimator is not None:
            est = clone(self.final_estimator)
        elif self._classification():
            est = LogisticRegression(max_iter=1000)
        else:
            est = RidgeCV(alphas=RIDGE_ALPHAS)
        if self._classification() and not hasattr(est, "predict_proba"):
            raise WorkflowError(blender_message(
                self, "fit", f"expected a final_estimator with predict_proba for classification, got {est!r}",
                "use a probabilistic classifier, e.g. LogisticRegression()"))
        return est

    def _folds(self, y: np.ndarray) -> int | None:
        """Folds for cross-validation, or None when the rows are too few (every fold needs every class)."""
        smallest = np.bincount(y.astype(np.intp)).min() if self._classification() else len(y)
        k = int(min(self.cv, smallest, len(y) // 2))
        return k if k >= 2 else None

    def _splitter(self, k: int):
        if self._classification():
            return StratifiedKFold(k, shuffle=True, random_state=self.random_state)
        return KFold(k, shuffle=True, random_state=self.random_state)

    def _cv_rows(self, n: int) -> np.ndarray:
        if n <= CV_MAX_ROWS:
            return np.arange(n)
        return np.sort(np.random.default_rng(self.random_state).choice(n, CV_MAX_ROWS, replace=False))

    def _choose_C(self, F: np.ndarray, y: np.ndarray, k: int) -> tuple[float, float]:
        """The ``C`` of lowest mean cross-validated log-loss (ties: the smaller C), and that loss."""
        Cs = sorted(float(c) for c in np.ravel(self.Cs))
        losses = np.zeros(len(Cs))
        for train, test in self._splitter(k).split(F, y):
            model = LogisticRegression(max_iter=1000, warm_start=True)
            for i, C in enumerate(Cs):  # warm start along the path: each fit starts from the last
                model.set_params(C=C).fit(F[train], y[train])
                losses[i] += _log_loss(model.predict_proba(F[test]), y[test]) * len(test)
        losses /= len(y)
        i = int(np.argmin(losses))
        return Cs[i], float(losses[i])

    def _cv_loss(self, est: Any, F: np.ndarray, y: np.ndarray, k: int) -> float:
        total = 0.0
        for train, test in self._splitter(k).split(F, y):
            model = clone(est).fit(F[train], y[train])
            if self._classification():
                total += _log_loss(model.predict_proba(F[test]), y[test]) * len(test)
            else:
                total += float(((model.predict(F[test]) - y[test]) ** 2).sum())
        return total / len(y)

    def _member_losses(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each base model's own loss on these rows: log-loss, or mean squared error."""
        if not self._classification():
            return ((X - y[:, None]) ** 2).mean(axis=0)
        P = model_probabilities(X, len(self.classes_))  # (n, m, k)
        return np.array([_log_loss(normalise_rows(P[:, j, :]), y) for j in range(P.shape[1])])

    # ---- predict -------------------------------------------------------------------------
    def _member_block(self, block: np.ndarray) -> np.ndarray:
        j = self.fallback_
        if not self._classification():
            return block[:, j]
        return normalise_rows(model_probabilities(block, len(self.classes_))[:, j, :])

    def _proba_block(self, block: np.ndarray) -> np.ndarray:
        if self.fallback_ is not None:
            return self._member_block(block)
        return self.final_estimator_.predict_proba(self._features(block))

    def _value_block(self, block: np.ndarray) -> np.ndarray:
        if self.fallback_ is not None:
            return self._member_block(block)
        return self.final_estimator_.predict(self._features(block))


def _log_loss(P: np.ndarray, y: np.ndarray) -> float:
    """Mean log-loss of class probabilities ``P`` (n, k) for class indices ``y``."""
    p = P[np.arange(len(y)), np.asarray(y, dtype=np.intp)]
    return float(-np.log(np.clip(p, EPS, None)).mean())
