"""A fitted scikit-learn estimator, shared with the workers once and predicted chunk by chunk.

Every scikit-learn adapter (incremental, post-fit, search winners, loaded files) hands this to
the workflow: one ``map_blocks`` task per row chunk calls the estimator's future.

**Why not ``client.scatter(model, broadcast=True)``**: scattered data has no lineage, and Dask's
Active Memory Manager trims the broadcast copies to one within seconds, so losing the worker that
holds it broke every later stage needing the model (``FutureCancelledError ... lost
dependencies``; Dask's ``retries`` cannot help). :func:`share_model` instead submits a *task* that
rebuilds the model from bytes the client made (an xgboost booster's UBJSON, else a pickle made in
this process): the scheduler keeps that task, so when the worker holding the model dies, Dask
recomputes it on another one, like any other lost result.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from distributed import Client, Future

from daskcollab.models._fitted import Task


@dataclass
class SklearnFitted:
    """A fitted scikit-learn estimator; ``estimator_future`` is its shared copy on the cluster
    (:func:`share_model`: recomputable when a worker dies; None without a cluster: the estimator
    is then embedded in each prediction graph)."""

    task: Task
    estimator: Any
    estimator_future: Future | None
    details: Mapping[str, Any]

    @property
    def n_classes(self) -> int:
        """Classes the estimator was fitted on (``classes_``); 2 for regression."""
        classes = getattr(self.estimator, "classes_", None)
        return len(classes) if self.task is Task.CLASSIFICATION and classes is not None else 2

    def predict(self, X: da.Array) -> da.Array:
        model = self.estimator_future if self.estimator_future is not None else self.estimator
        return predict_chunks(X, model, self.task, self.n_classes)

    def describe(self) -> dict[str, object]:
        return {"estimator": type(self.estimator).__name__, **dict(self.details)}


def predict_chunks(X: da.Array, model: Any, task: Task, n_classes: int = 2) -> da.Array:
    """One task per row chunk calling ``model`` (a fitted estimator, or its :func:`share_model` future).

    Binary classification returns the probability of the larger class label (``predict_proba``),
    ``n_classes > 2`` all class probabilities (n, k). Estimators without ``predict_proba``
    (passive-aggressive hinge loss) give the logistic of ``decision_function`` (normalised over
    the classes when k > 2): a score that ranks like a probability but is not calibrated.
    """
    if task is Task.CLASSIFICATION and n_classes > 2:
        return X.map_blocks(_predict_block, model, True, n_classes, chunks=(X.chunks[0], (n_classes,)),
                            dtype=np.float32, meta=np.empty((0, 0), dtype=np.float32))
    return X.map_blocks(
        _predict_block, model, task is Task.CLASSIFICATION, None,
        drop_axis=1, dtype=np.float32, meta=np.empty((0,), dtype=np.float32),
    )


def _predict_block(block: np.ndarray, estimator: Any, classification: bool, n_classes: int | None) -> np.ndarray:
    if block.shape[0] == 0:
        return np.empty((0,) if n_classes is None else (0, n_classes), dtype=np.float32)
    if not classification:
        return np.asarray(estimator.predict(block), dtype=np.float32)
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(block)
        return np.asarray(proba if n_classes is not None else proba[:, -1], dtype=np.float32)
    z = np.asarray(estimator.decision_function(block), dtype=np.float64)
    p = 1.0 / (1.0 + np.exp(-z))
    if n_classes is not None:
        p = p / p.sum(axis=1, keepdims=True)
    return p.astype(np.float32)


def default_client(client: Client | None) -> Client | None:
    """``client``, else the current default client, else None (predict without scattering)."""
    if client is not None:
        return client
    from distributed import default_client as _default

    try:
        return _default()
    except ValueError:
        return None


def share_model(client: Client | None, model: Any) -> Future | None:
    """The future of ``model`` on ``client``'s cluster, recomputable when a worker dies; None without a client.

    One task rebuilds the model from bytes held in the task itself (see the module docstring), so
    the model has lineage: Dask keeps one copy (the Active Memory Manager may drop extra replicas)
    and recomputes it wherever it is needed after the worker holding it is lost. Prediction tasks
    fetch it from peers once per worker.
    """
    if client is None:
        return None
    payload, rebuild = model_payload(model)
    return client.submit(rebuild, payload, pure=False, key=f"daskcollab-model-{type(model).__name__}-{uuid.uuid4().hex}")


#: The name the adapters and model files use (models are shared by lineage, no longer scattered).
scatter_estimator = share_model


def model_payload(model: Any) -> tuple[bytes, Callable[[bytes], Any]]:
    """``(bytes, rebuild)``: an xgboost booster as its UBJSON model, anything else as a pickle made here."""
    if type(model).__module__.startswith("xgboost") and type(model).__name__ == "Booster":
        return bytes(model.save_raw("ubj")), booster_from_bytes
    import cloudpickle

    return cloudpickle.dumps(model), _unpickle


def booster_from_bytes(raw: bytes) -> Any:
    """An xgboost booster from its UBJSON bytes, predicting with one thread (inside ``map_blocks``)."""
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    booster.set_param({"nthread": 1})
    return booster


def _unpickle(raw: bytes) -> Any:
    import pickle

    return pickle.loads(raw)  # bytes this client pickled itself (not a file), like any task it submits


def gather_training_rows(client: Client | None, X: da.Array, y: da.Array) -> tuple[np.ndarray, np.ndarray]:
    """Compute ``(X, y)`` into this process in one call (on ``client``'s cluster if given)."""
    if client is not None:
        X_local, y_local = client.compute([X, y], sync=True)
    else:
        import dask

        X_local, y_local = dask.compute(X, y)
    return np.asarray(X_local), np.asarray(y_local)
