"""scikit-learn estimators fitted in one process and predicted in parallel (dask-ml ``ParallelPostFit``)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dask.array as da
from distributed import Client

from daskcollab.models._estimators import POSTFIT_ESTIMATORS, make_estimator
from daskcollab.models._fitted import Task
from daskcollab.models._sklearn_fitted import SklearnFitted, default_client, gather_training_rows, scatter_estimator


@dataclass
class PostFitFitted(SklearnFitted):
    """A scikit-learn estimator fitted in one process, predicted chunk-wise on the workers."""

    estimator_name: str = ""
    train_rows: int = 0

    def describe(self) -> dict[str, object]:
        return {"estimator": self.estimator_name, "train_rows": self.train_rows, **dict(self.details)}


def train_postfit(
    X: da.Array,
    y: da.Array,
    *,
    task: Task | str,
    estimator: str,
    params: Mapping[str, Any] | None = None,
    client: Client | None = None,
    stage: str = "post_fit",
) -> PostFitFitted:
    """Fit a registered scikit-learn estimator in this process; predict in parallel.

    The training rows are **gathered into the calling process** and fitted there with dask-ml's
    ``ParallelPostFit``; the fitted estimator is then scattered once to every worker and
    :meth:`PostFitFitted.predict` runs one task per row chunk. Sample the rows down first
    (``PostFitModel`` does, with ``max_train_rows``) to what fits in this process's memory.

    Parameters
    ----------
    X, y
        Row-chunked training features (n, f) and labels (n,) (0/1 for classification).
    task
        ``"classification"`` or ``"regression"``.
    estimator
        A name from :data:`~daskcollab.models._estimators.POSTFIT_ESTIMATORS`.
    params
        The estimator's parameters (names checked first, with close matches in the error).
    client
        The cluster to scatter to; default: the current client (none: predict without scattering).

    Examples
    --------
    >>> rf = train_postfit(X, y, task="classification", estimator="random_forest",
    ...                    params={"n_estimators": 50})  # doctest: +SKIP
    >>> rf.predict(X_all)  # doctest: +SKIP
    """
    from dask_ml.wrappers import ParallelPostFit

    task = Task(task)
    est = make_estimator(POSTFIT_ESTIMATORS, estimator, params or {}, task, stage)
    client = default_client(client)
    X_local, y_local = gather_training_rows(client, X, y)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Dask configuration key 'fuse_ave_width'", FutureWarning)
        wrapper = ParallelPostFit(est).fit(X_local, y_local)
    # ParallelPostFit fits its estimator in place (its ``estimator_`` may be a forest's unfitted template)
    fitted = wrapper.estimator
    return PostFitFitted(task, fitted, scatter_estimator(client, fitted), dict(params or {}),
                         estimator_name=estimator, train_rows=int(len(y_local)))
