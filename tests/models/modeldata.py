"""Small in-memory data for the model adapters: a few thousand rows in row chunks of 500."""

from __future__ import annotations

import dask.array as da
import numpy as np

ROWS, CHUNK, FEATURES = 3_000, 500, 6


def make_data(task: str, rows: int = ROWS, seed: int = 0, shift: float = 0.0):
    """Features (float32, standardised scale) and a target with a linear part and an interaction:
    0/1 labels for classification, a number for regression."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    signal = 1.5 * X[:, 0] - X[:, 1] + 2.0 * X[:, 2] * X[:, 3] + shift
    if task == "classification":
        y = (rng.random(rows) < 1 / (1 + np.exp(-2 * signal))).astype(np.float32)
    else:
        y = (signal + 0.2 * rng.normal(size=rows)).astype(np.float32)
    return da.from_array(X, chunks=(CHUNK, FEATURES)), da.from_array(y, chunks=CHUNK)


def score(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    """ROC AUC (classification) or R² (regression): higher is better."""
    from sklearn.metrics import r2_score, roc_auc_score

    return float(roc_auc_score(y, pred) if task == "classification" else r2_score(y, pred))


