"""Imputation and standardisation fitted on the training rows, applied chunk by chunk.

Statistics come from dask-ml (``SimpleImputer`` for the mean, ``StandardScaler``) or, for the
median that dask-ml cannot compute on dask arrays, from an exact per-column ``nanmedian``. Fitting
computes only the per-feature statistics (f values each); :meth:`Preprocessor.transform` is
one lazy ``map_blocks`` task per row chunk.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np

from daskcollab._errors import DataError, WorkflowError, stage_message
from daskcollab._types import Impute


@dataclass(frozen=True, eq=False)
class Preprocessor:
    """Fitted preprocessing: fill missing values, then standardise.

    Attributes
    ----------
    fill
        Per-feature fill value for NaN (None: NaN passes through).
    mean, scale
        Per-feature centre and scale (None: no scaling); ``scale`` is 1 for constant features.
    impute
        An :class:`Impute` mode (``"mean"``, ``"median"``, ``"constant"``) or None, as fitted.
    """

    fill: np.ndarray | None
    mean: np.ndarray | None
    scale: np.ndarray | None
    impute: Impute | None = None

    def transform(self, X: da.Array) -> da.Array:
        """Apply to a row-chunked (n, f) array: float32, the same chunks, one task per chunk."""
        ref = self.fill if self.fill is not None else self.mean
        if ref is not None and (X.ndim != 2 or X.shape[1] != ref.shape[0]):
            raise DataError(f"preprocess: expected an array of shape (n, {ref.shape[0]}) like the training rows, got "
                            f"shape {X.shape!r}. Fix: transform the same features the preprocessor was fitted on")
        return X.map_blocks(
            _transform_block, self.fill, self.mean, self.scale,
            dtype=np.float32, meta=np.empty((0, 0), dtype=np.float32),
        )

    def describe(self) -> dict[str, object]:
        return {"impute": _plain(self.impute), "scale": self.mean is not None}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready statistics (for model files)."""
        as_list = lambda a: None if a is None else np.asarray(a, dtype=np.float64).tolist()  # noqa: E731
        return {"fill": as_list(self.fill), "mean": as_list(self.mean), "scale": as_list(self.scale),
                "impute": _plain(self.impute)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        as_array = lambda v: None if v is None else np.asarray(v, dtype=np.float64)  # noqa: E731
        impute = d.get("impute")
        return cls(as_array(d["fill"]), as_array(d["mean"]), as_array(d["scale"]),
                   None if impute is None else Impute(impute))


def _plain(impute: Impute | str | None) -> str | None:
    """The mode as its plain string (what describe() and model files hold), or None."""
    return impute.value if isinstance(impute, Impute) else impute


def _transform_block(block: np.ndarray, fill: np.ndarray | None, mean: np.ndarray | None,
                     scale: np.ndarray | None) -> np.ndarray:
    out = np.asarray(block, dtype=np.float64)
    if fill is not None:
        out = np.where(np.isnan(out), fill, out)
    if mean is not None:
        out = (out - mean) / scale
    return out.astype(np.float32)


def fit_preprocess(X_train: da.Array, *, scale: bool = True, impute: Impute | str | None = None,
                   fill_value: float = 0.0, stage: str = "preprocess") -> Preprocessor:
    """Fit imputation and/or standardisation on the training rows.

    Parameters
    ----------
    X_train
        Row-chunked training features (n, f).
    scale
        Standardise with dask-ml ``StandardScaler`` (fitted after imputation).
    impute
        An :class:`Impute` mode or its string: ``"mean"`` (dask-ml ``SimpleImputer``), ``"median"``
        (exact per-column median: each feature's training values are brought into one task, so
        n x 8 bytes per task), ``"constant"`` (``fill_value``) or None.
    fill_value
        The value ``impute="constant"`` fills in.

    Raises
    ------
    WorkflowError
        Unknown ``impute`` mode.
    DataError
        A feature with no value at all in the training rows (nothing to impute from).

    Examples
    --------
    >>> prep = fit_preprocess(X_train, scale=True, impute="median")  # doctest: +SKIP
    >>> X_ready = prep.transform(X_all)  # doctest: +SKIP
    """
    if impute is not None and impute not in list(Impute):
        modes = tuple(m.value for m in Impute)
        raise WorkflowError(stage_message(stage, "impute", f"expected one of {modes!r} or None, got {impute!r}",
                                          f"impute={Impute.MEAN.value!r}"))
    impute = None if impute is None else Impute(impute)
    fill = None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        if impute is Impute.MEAN:
            from dask_ml.impute import SimpleImputer

            fill = np.asarray(SimpleImputer(strategy="mean").fit(X_train).statistics_, dtype=np.float64)
        elif impute is Impute.MEDIAN:
            by_column = X_train.rechunk({0: -1, 1: 1})
            (fill,) = dask.compute(da.nanmedian(by_column, axis=0))
            fill = np.asarray(fill, dtype=np.float64)
        elif impute is Impute.CONSTANT:
            fill = np.full(X_train.shape[1], float(fill_value))
    if fill is not None and np.isnan(fill).any():
        empty = np.flatnonzero(np.isnan(fill)).tolist()
        raise DataError(stage_message(stage, "impute", f"feature column(s) {empty!r} have no value in the training "
                                                       f"rows, so there is no {_plain(impute)} to fill with",
                                      "drop those features or use more rows"))
    mean = std = None
    if scale:
        from dask_ml.preprocessing import StandardScaler

        X_fit = X_train if fill is None else X_train.map_blocks(
            _transform_block, fill, None, None, dtype=np.float32, meta=np.empty((0, 0), dtype=np.float32))
        scaler = StandardScaler().fit(X_fit)
        mean = np.asarray(scaler.mean_, dtype=np.float64)
        std = np.asarray(scaler.scale_, dtype=np.float64)
    return Preprocessor(fill, mean, std, impute)
