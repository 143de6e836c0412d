"""dask-ml linear models (``LogisticRegression``, ``LinearRegression``), predicted chunk-wise."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import dask.array as da
import numpy as np

from daskcollab.models._fitted import Task


@dataclass
class LinearFitted:
    """Coefficients of a fitted linear model; prediction is a tiny per-chunk dot product."""

    task: Task
    coef: np.ndarray
    intercept: float
    estimator: object

    def predict(self, X: da.Array) -> da.Array:
        return X.map_blocks(
            _linear_block,
            self.coef,
            self.intercept,
            self.task is Task.CLASSIFICATION,
            drop_axis=1,
            dtype=np.float32,
            meta=np.empty((0,), dtype=np.float32),
        )

    def describe(self) -> dict[str, object]:
        return {"coef": self.coef.round(4).tolist(), "intercept": round(self.intercept, 4)}


def train_linear(X: da.Array, y: da.Array, *, task: Task, C: float, max_iter: int) -> LinearFitted:
    """Fit dask-ml's LogisticRegression (lbfgs; admm is ~20x slower) or LinearRegression."""
    from dask_ml.linear_model import LinearRegression, LogisticRegression

    if task is Task.CLASSIFICATION:
        est = LogisticRegression(solver="lbfgs", C=C, max_iter=max_iter)
    else:
        est = LinearRegression(solver="lbfgs", C=C, max_iter=max_iter)
    with warnings.catch_warnings():
        # dask-ml 2025.1.0 reads a dask config key renamed in 2025; harmless, but noisy on every fit
        warnings.filterwarnings("ignore", "Dask configuration key 'fuse_ave_width'", FutureWarning)
        est.fit(X, y)
    coef = np.asarray(est.coef_, dtype=np.float64).ravel()
    return LinearFitted(task, coef, float(np.asarray(est.intercept_).ravel()[0]), est)


def _linear_block(block: np.ndarray, coef: np.ndarray, intercept: float, logistic: bool) -> np.ndarray:
    z = block.astype(np.float64, copy=False) @ coef + intercept
    if logistic:
        z = 1.0 / (1.0 + np.exp(-z))
    return z.astype(np.float32)
