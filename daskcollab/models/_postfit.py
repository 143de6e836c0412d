"""scikit-learn estimators fitted in one process and predicted in parallel (dask-ml ``ParallelPostFit``).

Also home of the chunk-wise prediction every scikit-learn adapter shares: the fitted estimator
is scattered once to every worker, and one ``map_blocks`` task per row chunk calls it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from distributed import Client

from daskcollab._errors import WorkflowError
from daskcollab.models._fitted import Task
from daskcollab.models._sklearn import SklearnFitted


def _random_forest(task: Task):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task is Task.CLASSIFICATION else RandomForestRegressor
    return cls(n_estimators=100, n_jobs=1, random_state=0)


def _extra_trees(task: Task):
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    cls = ExtraTreesClassifier if task is Task.CLASSIFICATION else ExtraTreesRegressor
    return cls(n_estimators=100, n_jobs=1, random_state=0)


def _hist_gradient_boosting(task: Task):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if task is Task.CLASSIFICATION else HistGradientBoostingRegressor
    return cls(random_state=0)


def _knn(task: Task):
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    return (KNeighborsClassifier if task is Task.CLASSIFICATION else KNeighborsRegressor)(n_jobs=1)


def _xgboost_sklearn(task: Task):
    from xgboost import XGBClassifier, XGBRegressor

    return (XGBClassifier if task is Task.CLASSIFICATION else XGBRegressor)(tree_method="hist", n_jobs=1)


#: Estimators fitted in one process (``ParallelPostFit``, searches), by the name YAML may use.
#: Each is single-threaded (``n_jobs=1``): the cluster's workers are the parallelism.
POSTFIT_ESTIMATORS: dict[str, Callable[[Task], Any]] = {
    "random_forest": _random_forest,
    "extra_trees": _extra_trees,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "knn": _knn,
    "xgboost_sklearn": _xgboost_sklearn,
}


def make_estimator(
    registry: Mapping[str, Callable[[Task], Any]], name: str, params: Mapping[str, Any], task: Task, stage: str
) -> Any:
    """A fresh registered estimator for ``task`` with ``params`` set (names checked first)."""
    from daskcollab.models._params import check_params

    if name not in registry:
        raise WorkflowError(
            f"stage {stage!r}, field 'estimator': {name!r} is not one of {sorted(registry)!r}. "
            f"Fix: estimator={sorted(registry)[0]!r}"
        )
    check_params(name, params, stage, task=task)
    return registry[name](task).set_params(**dict(params))


def default_client(client: Client | None) -> Client | None:
    """``client``, else the current default client, else None (predict without scattering)."""
    if client is not None:
        return client
    from distributed import default_client as _default

    try:
        return _default()
    except ValueError:
        return None


def predict_chunks(X: da.Array, model: Any, task: Task) -> da.Array:
    """One task per row chunk calling ``model`` (a fitted estimator, or the future of a scattered one).

    Classification returns the probability of the larger class label (``predict_proba``), or for
    estimators without it (passive-aggressive hinge loss) the logistic of ``decision_function``:
    a score in (0, 1) that ranks like a probability but is not calibrated.
    """
    return X.map_blocks(
        estimator_block, model, task is Task.CLASSIFICATION,
        drop_axis=1, dtype=np.float32, meta=np.empty((0,), dtype=np.float32),
    )


def estimator_block(block: np.ndarray, estimator: Any, classification: bool) -> np.ndarray:
    """Predict one row chunk (see :func:`predict_chunks`)."""
    if block.shape[0] == 0:
        return np.empty((0,), dtype=np.float32)
    if not classification:
        return np.asarray(estimator.predict(block), dtype=np.float32)
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(block)[:, -1], dtype=np.float32)
    z = np.asarray(estimator.decision_function(block), dtype=np.float64)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


@dataclass
class PostFitFitted(SklearnFitted):
    """A scikit-learn estimator fitted in one process, predicted chunk-wise on the workers."""

    estimator_name: str = ""
    train_rows: int = 0

    def predict(self, X: da.Array) -> da.Array:
        model = self.estimator_future if self.estimator_future is not None else self.estimator
        return predict_chunks(X, model, self.task)

    def describe(self) -> dict[str, object]:
        return {"estimator": self.estimator_name, "train_rows": self.train_rows, **dict(self.details)}


def scatter_estimator(client: Client | None, estimator: Any) -> Any:
    """The future of ``estimator`` on every worker (``broadcast=True``), or None without a client."""
    if client is None:
        return None
    [future] = client.scatter([estimator], broadcast=True, hash=False)
    return future


def sample_training_rows(X: da.Array, y: da.Array, max_rows: int | None, *, seed: int = 0) -> tuple[da.Array, da.Array]:
    """A seeded sample of exactly ``min(max_rows, n)`` rows of ``(X, y)``, spread over the chunks
    in proportion to their sizes (a multivariate hypergeometric draw); lazy, rows kept in order."""
    n = sum(X.chunks[0])
    if max_rows is None or n <= max_rows:
        return X, y
    sizes = np.asarray(X.chunks[0], dtype=np.int64)
    counts = np.random.default_rng(seed).multivariate_hypergeometric(sizes, int(max_rows))
    xs, ys = [], []
    for i, (size, count) in enumerate(zip(sizes, counts)):
        if count == 0:
            continue
        idx = np.sort(np.random.default_rng([seed, i]).choice(int(size), int(count), replace=False))
        xs.append(X.blocks[i][idx])
        ys.append(y.blocks[i][idx])
    return da.concatenate(xs, axis=0), da.concatenate(ys, axis=0)


def gather_training_rows(client: Client | None, X: da.Array, y: da.Array) -> tuple[np.ndarray, np.ndarray]:
    """Compute ``(X, y)`` into this process in one call (the cluster's client if given)."""
    if client is not None:
        X_local, y_local = client.compute([X, y], sync=True)
    else:
        import dask

        X_local, y_local = dask.compute(X, y)
    return np.asarray(X_local), np.asarray(y_local)


def train_postfit(
    X: da.Array,
    y: da.Array,
    *,
    task: Task | str,
    estimator: str,
    params: Mapping[str, Any] | None = None,
    max_train_rows: int | None,
    client: Client | None = None,
    seed: int = 0,
    stage: str = "post_fit",
) -> PostFitFitted:
    """Fit a registered scikit-learn estimator in this process; predict in parallel.

    The training rows — a seeded sample of at most ``max_train_rows`` of them — are **gathered
    into the calling process** and fitted there with dask-ml's ``ParallelPostFit``; the fitted
    estimator is then scattered once to every worker and :meth:`PostFitFitted.predict` runs one
    task per row chunk. Cap ``max_train_rows`` by what fits in this process's memory.

    Parameters
    ----------
    X, y
        Row-chunked training features (n, f) and labels (n,) (0/1 for classification).
    task
        ``"classification"`` or ``"regression"``.
    estimator
        A name from :data:`POSTFIT_ESTIMATORS` (or an incremental one, see ``_incremental``).
    params
        The estimator's parameters (names checked with :func:`~daskcollab.models._params.check_params`).
    max_train_rows
        Fit on a seeded sample of at most this many rows (None: all rows).
    client
        The cluster to scatter to; default: the current client (none: predict without scattering).

    Examples
    --------
    >>> rf = train_postfit(X, y, task="classification", estimator="random_forest",
    ...                    params={"n_estimators": 50}, max_train_rows=100_000)  # doctest: +SKIP
    >>> rf.predict(X_all)  # doctest: +SKIP
    """
    from dask_ml.wrappers import ParallelPostFit

    from daskcollab.models._incremental import INCREMENTAL_ESTIMATORS

    task = Task(task)
    if max_train_rows is not None and (isinstance(max_train_rows, bool) or not isinstance(max_train_rows, int)
                                       or max_train_rows < 1):
        raise WorkflowError(f"stage {stage!r}, field 'max_train_rows': expected a positive integer or None, got "
                            f"{max_train_rows!r}. Fix: max_train_rows=100_000")
    est = make_estimator({**POSTFIT_ESTIMATORS, **INCREMENTAL_ESTIMATORS}, estimator, params or {}, task, stage)
    client = default_client(client)
    X_local, y_local = gather_training_rows(client, *sample_training_rows(X, y, max_train_rows, seed=seed))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Dask configuration key 'fuse_ave_width'", FutureWarning)
        wrapper = ParallelPostFit(est).fit(X_local, y_local)
    # ParallelPostFit fits its estimator in place (its ``estimator_`` may be a forest's unfitted template)
    fitted = wrapper.estimator
    return PostFitFitted(task, fitted, scatter_estimator(client, fitted), dict(params or {}),
                         estimator_name=estimator, train_rows=int(len(y_local)))
