"""A fitted scikit-learn estimator, scattered once to every worker and predicted chunk by chunk.

Every scikit-learn adapter (incremental, post-fit, search winners, loaded files) hands this to
the workflow: one ``map_blocks`` task per row chunk calls the estimator's future.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from distributed import Client, Future

from daskcollab.models._fitted import Task


@dataclass
class SklearnFitted:
    """A fitted scikit-learn estimator; ``estimator_future`` is its copy on every worker (None
    without a cluster: the estimator is then embedded in each prediction graph)."""

    task: Task
    estimator: Any
    estimator_future: Future | None
    details: Mapping[str, Any]

    def predict(self, X: da.Array) -> da.Array:
        model = self.estimator_future if self.estimator_future is not None else self.estimator
        return predict_chunks(X, model, self.task)

    def describe(self) -> dict[str, object]:
        return {"estimator": type(self.estimator).__name__, **dict(self.details)}


def predict_chunks(X: da.Array, model: Any, task: Task) -> da.Array:
    """One task per row chunk calling ``model`` (a fitted estimator, or the future of a scattered one).

    Classification returns the probability of the larger class label (``predict_proba``), or for
    estimators without it (passive-aggressive hinge loss) the logistic of ``decision_function``:
    a score in (0, 1) that ranks like a probability but is not calibrated.
    """
    return X.map_blocks(
        _predict_block, model, task is Task.CLASSIFICATION,
        drop_axis=1, dtype=np.float32, meta=np.empty((0,), dtype=np.float32),
    )


def _predict_block(block: np.ndarray, estimator: Any, classification: bool) -> np.ndarray:
    if block.shape[0] == 0:
        return np.empty((0,), dtype=np.float32)
    if not classification:
        return np.asarray(estimator.predict(block), dtype=np.float32)
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(block)[:, -1], dtype=np.float32)
    z = np.asarray(estimator.decision_function(block), dtype=np.float64)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def default_client(client: Client | None) -> Client | None:
    """``client``, else the current default client, else None (predict without scattering)."""
    if client is not None:
        return client
    from distributed import default_client as _default

    try:
        return _default()
    except ValueError:
        return None


def scatter_estimator(client: Client | None, estimator: Any) -> Future | None:
    """The future of ``estimator`` on every worker (``broadcast=True``), or None without a client."""
    if client is None:
        return None
    [future] = client.scatter([estimator], broadcast=True, hash=False)
    return future


def gather_training_rows(client: Client | None, X: da.Array, y: da.Array) -> tuple[np.ndarray, np.ndarray]:
    """Compute ``(X, y)`` into this process in one call (on ``client``'s cluster if given)."""
    if client is not None:
        X_local, y_local = client.compute([X, y], sync=True)
    else:
        import dask

        X_local, y_local = dask.compute(X, y)
    return np.asarray(X_local), np.asarray(y_local)
