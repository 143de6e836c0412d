"""``partial_fit`` estimators trained block by block with dask-ml's ``Incremental``.

The training rows never need to be in one place: dask-ml chains one ``partial_fit`` task per
row chunk, each on the worker that holds the chunk, passing the estimator along.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from distributed import Client

from daskcollab._errors import WorkflowError, stage_message
from daskcollab.models._estimators import INCREMENTAL_ESTIMATORS, make_estimator
from daskcollab.models._fitted import Task
from daskcollab.models._sklearn_fitted import SklearnFitted, default_client, scatter_estimator


@dataclass
class IncrementalFitted(SklearnFitted):
    """A ``partial_fit`` estimator after ``passes`` epochs; predicted chunk-wise on the workers."""

    estimator_name: str = ""
    classes: tuple = (0, 1)
    passes: int = 0
    rows_seen: int = 0

    def describe(self) -> dict[str, object]:
        return {"estimator": self.estimator_name, "passes": self.passes, "rows_seen": self.rows_seen,
                **dict(self.details)}


def _check_passes(passes: int, stage: str) -> None:
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
        raise WorkflowError(stage_message(stage, "passes", f"expected a positive integer, got {passes!r}", "passes=3"))


def _run_passes(estimator: Any, X: da.Array, y: da.Array, passes: int, fit_kwargs: Mapping[str, Any],
                seed: int) -> Any:
    """``passes`` epochs of ``partial_fit`` over the row chunks (a fresh chunk order each epoch);
    continues from ``estimator``'s state, which is copied, not changed."""
    from dask_ml.wrappers import Incremental

    inc = Incremental(estimator, shuffle_blocks=True, random_state=seed)
    inc.estimator_ = copy.deepcopy(estimator)  # dask-ml continues from estimator_ (fit would clone it)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Dask configuration key 'fuse_ave_width'", FutureWarning)
        for epoch in range(passes):
            inc.random_state = seed + epoch
            inc.partial_fit(X, y, **fit_kwargs)
    return inc.estimator_


def train_incremental(
    X: da.Array,
    y: da.Array,
    *,
    task: Task | str,
    estimator: str,
    params: Mapping[str, Any] | None = None,
    passes: int,
    classes: Sequence = (0, 1),
    client: Client | None = None,
    seed: int = 0,
    stage: str = "incremental",
) -> IncrementalFitted:
    """Train a registered ``partial_fit`` estimator with dask-ml ``Incremental``.

    Parameters
    ----------
    X, y
        Row-chunked features (n, f) and labels (n,); one ``partial_fit`` per row chunk.
    task
        ``"classification"`` (labels in ``classes``) or ``"regression"``.
    estimator
        ``"sgd"`` (logistic / squared loss), ``"passive_aggressive"`` or ``"naive_bayes"``
        (classification only); see :data:`~daskcollab.models._estimators.INCREMENTAL_ESTIMATORS`.
    params
        The estimator's parameters (names checked first, with close matches in the error).
    passes
        Epochs over the row chunks, each in a different seeded chunk order.
    classes
        Every label value (``partial_fit`` must know them up front); the larger one is the
        positive class whose probability :meth:`IncrementalFitted.predict` returns.
    client
        Where to scatter the fitted estimator; default: the current client.

    Examples
    --------
    >>> sgd = train_incremental(X, y, task="classification", estimator="sgd",
    ...                         params={"alpha": 1e-4}, passes=3)  # doctest: +SKIP
    >>> sgd.predict(X_all)  # doctest: +SKIP
    """
    task = Task(task)
    _check_passes(passes, stage)
    est = make_estimator(INCREMENTAL_ESTIMATORS, estimator, params or {}, task, stage)
    classes = tuple(classes)
    kwargs = {"classes": np.asarray(classes)} if task is Task.CLASSIFICATION else {}
    fitted = _run_passes(est, X, y, passes, kwargs, seed)
    client = default_client(client)
    return IncrementalFitted(task, fitted, scatter_estimator(client, fitted), dict(params or {}),
                             estimator_name=estimator, classes=classes, passes=passes,
                             rows_seen=passes * int(sum(X.chunks[0])))


def update_incremental(
    fitted: SklearnFitted,
    X_new: da.Array,
    y_new: da.Array,
    *,
    passes: int = 1,
    client: Client | None = None,
    seed: int = 0,
    stage: str = "update",
) -> IncrementalFitted:
    """Continue training ``fitted`` with ``partial_fit`` on new rows; ``fitted`` is left unchanged.

    Works on any fitted scikit-learn adapter whose estimator has ``partial_fit`` (also one
    loaded from a file). Returns a new model, scattered to the workers.
    """
    _check_passes(passes, stage)
    if not hasattr(fitted.estimator, "partial_fit"):
        raise WorkflowError(stage_message(
            stage, "model",
            f"{type(fitted.estimator).__name__} has no partial_fit, so it cannot be updated with new rows",
            f"train with one of {sorted(INCREMENTAL_ESTIMATORS)!r}, or retrain",
        ))
    classes = tuple(getattr(fitted, "classes", None) or getattr(fitted.estimator, "classes_", (0, 1)))
    kwargs = {"classes": np.asarray(classes)} if fitted.task is Task.CLASSIFICATION else {}
    estimator = _run_passes(fitted.estimator, X_new, y_new, passes, kwargs, seed)
    client = default_client(client)
    return IncrementalFitted(
        fitted.task, estimator, scatter_estimator(client, estimator), dict(fitted.details),
        estimator_name=getattr(fitted, "estimator_name", type(estimator).__name__), classes=classes,
        passes=getattr(fitted, "passes", 0) + passes,
        rows_seen=getattr(fitted, "rows_seen", 0) + passes * int(sum(X_new.chunks[0])),
    )
