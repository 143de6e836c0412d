"""scikit-learn estimators on Dask: dask-ml ``Incremental``, ``ParallelPostFit`` and searches.

YAML and Python name estimators from a small registry (no import paths); their parameters are
checked against the estimator's own ``get_params()`` when the workflow is built.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from distributed import Client, Future

from daskcollab._errors import WorkflowError
from daskcollab.models._fitted import Task


def _sgd(task: Task):
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    return SGDClassifier(loss="log_loss", random_state=0) if task is Task.CLASSIFICATION else SGDRegressor(random_state=0)


def _passive_aggressive(task: Task):
    from sklearn.linear_model import PassiveAggressiveRegressor, SGDClassifier

    # PassiveAggressiveClassifier has no predict_proba; its probabilistic twin is SGD with modified_huber
    if task is Task.CLASSIFICATION:
        return SGDClassifier(loss="modified_huber", random_state=0)
    return PassiveAggressiveRegressor(random_state=0)


def _naive_bayes(task: Task):
    from sklearn.naive_bayes import GaussianNB

    if task is not Task.CLASSIFICATION:
        raise ValueError("naive_bayes is a classifier")
    return GaussianNB()


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

    return (KNeighborsClassifier if task is Task.CLASSIFICATION else KNeighborsRegressor)()


def _xgboost_sklearn(task: Task):
    from xgboost import XGBClassifier, XGBRegressor

    return (XGBClassifier if task is Task.CLASSIFICATION else XGBRegressor)(tree_method="hist", n_jobs=1)


#: Estimators that learn with ``partial_fit`` (for :class:`IncrementalModel`).
INCREMENTAL: dict[str, Callable[[Task], Any]] = {
    "sgd": _sgd,
    "passive_aggressive": _passive_aggressive,
    "naive_bayes": _naive_bayes,
}
#: Estimators trained in one process and predicted in parallel (``ParallelPostFit``, searches).
IN_MEMORY: dict[str, Callable[[Task], Any]] = {
    "random_forest": _random_forest,
    "extra_trees": _extra_trees,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "knn": _knn,
    "xgboost": _xgboost_sklearn,
    **INCREMENTAL,
}


def make_estimator(registry: Mapping[str, Callable[[Task], Any]], name: str, params: Mapping[str, Any],
                   task: Task, stage: str) -> Any:
    """Instantiate a registered estimator with ``params``, checking every parameter name.

    Raises
    ------
    WorkflowError
        Unknown estimator, an estimator that does not fit the task, or an unknown parameter
        (with close matches and the valid names).
    """
    if name not in registry:
        raise WorkflowError(
            f"stage {stage!r}, field 'estimator': unknown estimator {name!r}; registered: {sorted(registry)!r}. "
            f"Fix: estimator={sorted(registry)[0]!r}"
        )
    try:
        est = registry[name](task)
    except ValueError as exc:
        raise WorkflowError(f"stage {stage!r}, field 'estimator': {exc} (task {task.value!r}). "
                            "Fix: choose an estimator for this task") from exc
    valid = sorted(est.get_params(deep=False))
    for key in params:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=3)
            hint = f"did you mean {close!r}? " if close else ""
            raise WorkflowError(
                f"stage {stage!r}, field 'params.{key}': unknown parameter {key!r} for {type(est).__name__}; "
                f"{hint}valid: {valid!r}. Fix: use one of the valid names"
            )
    return est.set_params(**dict(params))


@dataclass
class SklearnFitted:
    """A fitted scikit-learn estimator, scattered once to every worker for chunk-wise prediction."""

    task: Task
    estimator: Any
    estimator_future: Future | None
    details: Mapping[str, Any]

    def predict(self, X: da.Array) -> da.Array:
        model = self.estimator_future if self.estimator_future is not None else self.estimator
        return X.map_blocks(
            _predict_block, model, self.task is Task.CLASSIFICATION,
            drop_axis=1, dtype=np.float32, meta=np.empty((0,), dtype=np.float32),
        )

    def describe(self) -> dict[str, object]:
        return {"estimator": type(self.estimator).__name__, **dict(self.details)}


def _predict_block(block: np.ndarray, estimator: Any, classification: bool) -> np.ndarray:
    if block.shape[0] == 0:
        return np.empty((0,), dtype=np.float32)
    if classification:
        return np.asarray(estimator.predict_proba(block)[:, 1], dtype=np.float32)
    return np.asarray(estimator.predict(block), dtype=np.float32)


def scatter_fitted(client: Client, task: Task, estimator: Any, details: Mapping[str, Any]) -> SklearnFitted:
    [future] = client.scatter([estimator], broadcast=True, hash=False)
    return SklearnFitted(task, estimator, future, details)


def train_incremental(client: Client, X: da.Array, y: da.Array, *, task: Task, estimator: Any,
                      passes: int) -> SklearnFitted:
    """dask-ml ``Incremental``: ``partial_fit`` block by block, ``passes`` times over the rows."""
    from dask_ml.wrappers import Incremental

    inc = Incremental(estimator, shuffle_blocks=True, random_state=0)
    kwargs = {"classes": np.array([0.0, 1.0])} if task is Task.CLASSIFICATION else {}
    for _ in range(passes):
        inc.partial_fit(X, y, **kwargs)
    return scatter_fitted(client, task, inc.estimator_, {"passes": passes})


def update_incremental(client: Client, fitted: SklearnFitted, X: da.Array, y: da.Array, *, passes: int) -> SklearnFitted:
    """Continue training an incremental estimator on new rows (``partial_fit``)."""
    import copy

    from dask_ml.wrappers import Incremental

    inc = Incremental(fitted.estimator, shuffle_blocks=True, random_state=0)
    inc.estimator_ = copy.deepcopy(fitted.estimator)  # continue from the fitted state (fit would clone)
    kwargs = {"classes": np.array([0.0, 1.0])} if fitted.task is Task.CLASSIFICATION else {}
    for _ in range(passes):
        inc.partial_fit(X, y, **kwargs)
    return scatter_fitted(client, fitted.task, inc.estimator_, {**fitted.details, "update_passes": passes})


def train_post_fit(client: Client, X: da.Array, y: da.Array, *, task: Task, estimator: Any) -> SklearnFitted:
    """dask-ml ``ParallelPostFit``: fit in this process on the (sampled) training rows, gathered;
    predict in parallel, chunk by chunk, with the fitted estimator scattered to every worker."""
    from dask_ml.wrappers import ParallelPostFit

    X_local, y_local = client.compute([X, y], sync=True)
    wrapper = ParallelPostFit(estimator).fit(X_local, y_local)
    return scatter_fitted(client, task, wrapper.estimator, {"train_rows": int(len(y_local))})


def search(client: Client, X: da.Array, y: da.Array, *, task: Task, estimator: Any, grid: Mapping[str, list],
           method: str, n_iter: int, cv: int) -> SklearnFitted:
    """dask-ml ``GridSearchCV`` / ``RandomizedSearchCV``; candidates are fitted as Dask tasks.

    The (sampled) training rows are gathered once and scattered with the search.
    """
    from dask_ml.model_selection import GridSearchCV, RandomizedSearchCV

    scoring = "roc_auc" if task is Task.CLASSIFICATION else "neg_root_mean_squared_error"
    if method == "grid":
        searcher = GridSearchCV(estimator, dict(grid), cv=cv, scoring=scoring, scheduler=client, refit=True)
    else:
        searcher = RandomizedSearchCV(estimator, dict(grid), n_iter=n_iter, cv=cv, scoring=scoring,
                                      scheduler=client, random_state=0, refit=True)
    X_local, y_local = client.compute([X, y], sync=True)
    searcher.fit(X_local, y_local)
    results = searcher.cv_results_
    ranked = sorted(zip(results["rank_test_score"], results["params"], results["mean_test_score"]), key=lambda r: r[0])
    details = {
        "best_params": dict(searcher.best_params_),
        "best_score": float(searcher.best_score_),
        "scoring": scoring,
        "candidates": [{"params": dict(p), "mean_test_score": float(s)} for _, p, s in ranked[:5]],
    }
    return scatter_fitted(client, task, searcher.best_estimator_, details)
