"""What every blender shares: the scikit-learn contract, input checks, NumPy/Dask dispatch.

A blender's ``X`` is the base-model prediction matrix: (n_samples, n_models) positive-class
probabilities (binary), predicted values (regression), or (n_samples, n_models * n_classes)
class probabilities, model-major (multiclass), each model's columns in sorted label order
(``classes_``, as scikit-learn's ``predict_proba`` returns them). Subclasses implement ``_fit_matrix`` and the
pure per-block functions ``_proba_block`` (classification) or ``_value_block`` (regression);
this module runs them on NumPy arrays directly and on Dask arrays with ``map_blocks``, one
output chunk per input row chunk.
"""

from __future__ import annotations

from typing import Any, Literal

import dask
import dask.array as da
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import ClassifierTags, RegressorTags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from daskcollab._errors import DataError, WorkflowError
from daskcollab.models import Task

TaskName = Literal["classification", "regression"]

_FIX_X = "pass X as the (n_samples, n_models) matrix of finite base-model predictions, one label in y per row"


def blender_message(blender: object, method: str, problem: str, fix: str) -> str:
    """House error message for a blender: ``Name.method: problem. Fix: fix``."""
    return f"{type(blender).__name__}.{method}: {problem}. Fix: {fix}"


def _is_classifier(est: _Blender) -> bool:
    return est._task_or_default() is Task.CLASSIFICATION


def _is_binary(est: _Blender) -> bool:
    return _is_classifier(est) and (not hasattr(est, "classes_") or len(est.classes_) == 2)


class _Blender(BaseEstimator):
    """Base class of the blenders (private; see the public subclasses)."""

    task: Task | TaskName

    # ---- task and tags -------------------------------------------------------------------
    def _task(self) -> Task:
        """The validated task (raises a WorkflowError, which is a ValueError, in ``fit``)."""
        try:
            return Task(self.task)
        except ValueError:
            raise WorkflowError(
                blender_message(
                    self,
                    "fit",
                    f"expected task in {[t.value for t in Task]!r}, got {self.task!r}",
                    'task="classification" or task="regression"',
                )
            ) from None

    def _task_or_default(self) -> Task:
        try:
            return self._task()
        except WorkflowError:
            return Task.CLASSIFICATION

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        # poor_score: the generic check data are not probabilities, so no accuracy is promised.
        if _is_classifier(self):
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(poor_score=True)
        else:
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags(poor_score=True)
        return tags

    # ---- fit -----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> _Blender:
        """Fit the blender on base-model predictions ``X`` and targets ``y``.

        Dask inputs are gathered to the client first (``n_samples × n_columns`` floats, the
        validation rows only); prediction stays chunk-wise.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_columns)
            Base-model predictions (see the module docstring for the column layout).
        y : array-like or dask array of shape (n_samples,)
            Class labels (classification, any values) or numbers (regression).

        Returns
        -------
        self
        """
        task = self._task()
        self._check_params()
        if isinstance(X, da.Array) or isinstance(y, da.Array):
            X, y = dask.compute(X, y)
        if y is not None:
            _check_no_nan_labels(self, y)
        try:
            X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=task is Task.REGRESSION)
        except ValueError as exc:
            raise DataError(blender_message(self, "fit", str(exc), _FIX_X)) from None
        if task is Task.CLASSIFICATION:
            try:
                check_classification_targets(y)
            except ValueError as exc:
                raise DataError(
                    blender_message(self, "fit", str(exc), 'classify discrete labels, or use task="regression"')
                ) from None
            self.classes_, y_codes = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                only = self.classes_[:1].tolist()[0]  # a plain Python value, so the message reads 1, not np.int64(1)
                raise DataError(
                    blender_message(
                        self,
                        "fit",
                        f"expected labels of at least two classes, got only one class {only!r} in {len(y)} rows",
                        "fit on a validation split that contains every class (stratify the split)",
                    )
                )
            n_classes = len(self.classes_)
            width = 1 if n_classes == 2 else n_classes
            if X.shape[1] % width:
                raise DataError(
                    blender_message(
                        self,
                        "fit",
                        f"expected n_models * {n_classes} columns (each model's {n_classes} class probabilities, "
                        f"model-major) for {n_classes} classes, got {X.shape[1]} columns",
                        "stack every model's full predict_proba output side by side",
                    )
                )
            self.n_models_ = X.shape[1] // width
            self._fit_matrix(X, y_codes)
        else:
            self.__dict__.pop("classes_", None)  # a refit as a regressor forgets earlier labels
            self.n_models_ = X.shape[1]
            self._fit_matrix(X, np.asarray(y, dtype=np.float64))
        return self

    def _check_params(self) -> None:
        """Validate constructor parameters other than ``task`` (subclasses extend)."""

    def _fit_matrix(self, X: np.ndarray, y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- predict -------------------------------------------------------------------------
    @available_if(_is_classifier)
    def predict_proba(self, X: Any) -> Any:
        """Blended class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order.

        A dask array in gives a lazy dask array out with the same row chunks.
        """
        X = self._predict_input(X, "predict_proba")
        return _rows(X, self._proba_block, len(self.classes_), _float_dtype(X), f"{self._token}-proba")

    @available_if(_is_binary)
    def predict_positive(self, X: Any) -> Any:
        """Binary only: blended probability of ``classes_[1]``, shape (n_samples,).

        NumPy in gives NumPy out; a dask array in gives a lazy dask array with the same row chunks.
        """
        X = self._predict_input(X, "predict_positive")
        return _rows(X, self._positive_block, None, _float_dtype(X), f"{self._token}-positive")

    def predict(self, X: Any) -> Any:
        """Blended labels (classification, values from ``classes_``) or values (regression)."""
        X = self._predict_input(X, "predict")
        if self._task() is Task.CLASSIFICATION:
            return _rows(X, self._label_block, None, self.classes_.dtype, f"{self._token}-predict")
        return _rows(X, self._value_block, None, _float_dtype(X), f"{self._token}-predict")

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy (classification) or R² (regression) on NumPy inputs (dask inputs are gathered)."""
        pred = self.predict(X)
        pred, y = dask.compute(pred, y)
        if self._task() is Task.CLASSIFICATION:
            return float(accuracy_score(y, pred, sample_weight=sample_weight))
        return float(r2_score(y, pred, sample_weight=sample_weight))

    @property
    def _token(self) -> str:
        return type(self).__name__.lower()

    def _proba_block(self, block: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _value_block(self, block: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _positive_block(self, block: np.ndarray) -> np.ndarray:
        return self._proba_block(block)[:, 1]

    def _label_block(self, block: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self._proba_block(block), axis=1)]

    def _predict_input(self, X: Any, method: str) -> Any:
        check_is_fitted(self)
        if not isinstance(X, da.Array):
            try:
                return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
            except ValueError as exc:
                raise DataError(blender_message(self, method, str(exc), _FIX_X)) from None
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise DataError(
                blender_message(
                    self,
                    method,
                    f"X has shape {X.shape!r} but {type(self).__name__} is expecting {self.n_features_in_} "
                    "features as input (2-D, one column per model and class)",
                    "pass the base predictions in the same column layout as in fit",
                )
            )
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise DataError(
                blender_message(self, method, f"expected a numeric dask array, got dtype {X.dtype!r}", _FIX_X)
            )
        return X


def _check_no_nan_labels(blender: _Blender, y: Any) -> None:
    arr = np.asarray(y)
    if arr.dtype.kind in "fc":
        bad = int(np.isnan(arr).sum())
    elif arr.dtype.kind == "O":
        bad = sum(v is None or (isinstance(v, float) and v != v) for v in arr.ravel())
    else:
        return
    if bad:
        raise DataError(
            blender_message(
                blender,
                "fit",
                f"expected labels without NaN, got {bad} NaN label(s) in {arr.shape[0]} rows",
                "drop unlabelled rows (or impute y) before fitting the blender",
            )
        )


def _float_dtype(X: Any) -> np.dtype:
    """float32 stays float32, everything else becomes float64 (the same rule for NumPy and Dask)."""
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


def _rows(X: Any, fn, n_out: int | None, dtype: np.dtype, token: str) -> Any:
    """Apply the pure block function ``fn`` to every row chunk: NumPy in -> NumPy out, Dask -> Dask."""

    def block(b: np.ndarray) -> np.ndarray:
        if b.shape[0] == 0:  # an empty row chunk: meta-learners refuse zero rows
            return np.empty((0,) if n_out is None else (0, n_out), dtype=dtype)
        return np.asarray(fn(np.asarray(b, dtype=np.float64))).astype(dtype, copy=False)

    if not isinstance(X, da.Array):
        return block(X)
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})  # columns only: row chunks are unchanged
    if n_out is None:
        return X.map_blocks(block, drop_axis=1, dtype=dtype, meta=np.empty((0,), dtype=dtype), token=token)
    return X.map_blocks(
        block, chunks=(X.chunks[0], (n_out,)), dtype=dtype, meta=np.empty((0, 0), dtype=dtype), token=token
    )
