"""Hyperparameter searches with dask-ml ``GridSearchCV`` / ``RandomizedSearchCV``.

Each (candidate, fold) fit is a Dask task on the cluster; the best candidate is refitted on all
the training rows and becomes a chunk-wise predicting model.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import dask.array as da
from distributed import Client

from daskcollab._errors import WorkflowError, stage_message
from daskcollab.models._estimators import POSTFIT_ESTIMATORS, make_estimator
from daskcollab.models._fitted import Task
from daskcollab.models._postfit import PostFitFitted
from daskcollab.models._sklearn_fitted import default_client, gather_training_rows, scatter_estimator


class SearchMethod(str, Enum):
    """How candidates are chosen: every combination, or ``n_iter`` random ones."""

    GRID = "grid"
    RANDOM = "random"


#: dask-ml's incremental searches, refused with the reason: they fail on dask >= 2025.3
#: (dask/dask-ml#1016, open).
UNAVAILABLE_METHODS: dict[str, str] = dict.fromkeys(
    ("hyperband", "successive_halving", "incremental"),
    "dask-ml's incremental searches (HyperbandSearchCV, SuccessiveHalvingSearchCV, IncrementalSearchCV) fail on "
    "dask >= 2025.3 with 'asynchronous Client in a synchronous context' (dask/dask-ml#1016, open)")

DEFAULT_SCORING = {Task.CLASSIFICATION: "roc_auc", Task.REGRESSION: "neg_root_mean_squared_error"}


@dataclass
class SearchResult:
    """The best candidate of a search, as a model, with the search's summary.

    Also a :class:`~daskcollab.models.FittedModel` itself (``task``, ``predict``, ``describe``
    delegate to :attr:`model`).

    Attributes
    ----------
    model
        The best estimator, refitted on all (sampled) training rows, predicting chunk-wise.
    best_params_
        The winning candidate's parameters.
    best_score_
        Its mean cross-validated score (higher is better; errors are negated).
    scoring
        The scikit-learn scorer name.
    cv_results
        One dict per candidate, best first: ``params``, ``mean_test_score``, ``std_test_score``,
        ``rank``, ``mean_fit_time``.
    """

    model: PostFitFitted
    best_params_: dict[str, Any]
    best_score_: float
    scoring: str
    cv_results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def task(self) -> Task:
        return self.model.task

    def predict(self, X: da.Array) -> da.Array:
        return self.model.predict(X)

    def describe(self) -> dict[str, object]:
        return {**self.model.describe(), "best_params": self.best_params_, "best_score": round(self.best_score_, 6),
                "scoring": self.scoring, "candidates": self.cv_results[:5]}


def _check_method(method: SearchMethod | str, stage: str) -> SearchMethod:
    if str(method).lower() in UNAVAILABLE_METHODS:
        raise WorkflowError(stage_message(stage, "method", f"{method!r} is not available: "
                                          f"{UNAVAILABLE_METHODS[str(method).lower()]}",
                                          "method='random' with n_iter= a budget of candidates"))
    try:
        return SearchMethod(method)
    except ValueError:
        raise WorkflowError(stage_message(stage, "method", f"expected one of {[m.value for m in SearchMethod]!r}, got "
                                                           f"{method!r}", "method='grid'")) from None


def _check_scoring(scoring: str | None, task: Task, stage: str) -> str:
    if scoring is None:
        return DEFAULT_SCORING[task]
    from sklearn.metrics import get_scorer_names

    names = sorted(get_scorer_names())
    if scoring not in names:
        close = difflib.get_close_matches(str(scoring), names, n=3)
        hint = f"; did you mean {close!r}?" if close else ""
        raise WorkflowError(stage_message(stage, "scoring", f"unknown scikit-learn scorer {scoring!r}{hint}",
                                          f"scoring={DEFAULT_SCORING[task]!r} (or another name from "
                                          "sklearn.metrics.get_scorer_names())"))
    return scoring


def _check_grid(grid: Mapping[str, Sequence], stage: str) -> dict[str, list]:
    if not isinstance(grid, Mapping) or not grid or not all(
        isinstance(v, (list, tuple)) and len(v) > 0 for v in grid.values()
    ):
        raise WorkflowError(stage_message(stage, "grid", f"expected a mapping of parameter name to a non-empty list "
                                                         f"of values, got {grid!r}", "grid={'max_depth': [4, 8]}"))
    return {k: list(v) for k, v in grid.items()}


@dataclass(frozen=True)
class SearchPlan:
    """A checked search: the estimator (fixed parameters set), the grid, method and scorer."""

    estimator: Any
    grid: dict[str, list]
    method: SearchMethod
    scoring: str


def check_search(*, task: Task | str, estimator: str, grid: Mapping[str, Sequence],
                 method: SearchMethod | str = SearchMethod.GRID, n_iter: int = 10, cv: int = 3,
                 scoring: str | None = None, params: Mapping[str, Any] | None = None,
                 stage: str = "search") -> SearchPlan:
    """Check the arguments of :func:`search` (the same names and defaults) before any data is
    read; raise :class:`WorkflowError` naming the stage, the field and the fix."""
    task = Task(task)
    method = _check_method(method, stage)
    grid = _check_grid(grid, stage)
    scoring = _check_scoring(scoring, task, stage)
    for name, value, low in (("n_iter", n_iter, 1), ("cv", cv, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise WorkflowError(stage_message(stage, name, f"expected an integer >= {low}, got {value!r}",
                                              f"{name}={max(low, 3)}"))
    est = make_estimator(POSTFIT_ESTIMATORS, estimator, params or {}, task, stage, grid=grid)
    return SearchPlan(est, grid, method, scoring)


def search(
    X: da.Array,
    y: da.Array,
    *,
    task: Task | str,
    estimator: str,
    grid: Mapping[str, Sequence],
    method: SearchMethod | str = SearchMethod.GRID,
    n_iter: int = 10,
    cv: int = 3,
    scoring: str | None = None,
    params: Mapping[str, Any] | None = None,
    client: Client | None = None,
    seed: int = 0,
    stage: str = "search",
    n_classes: int = 2,
) -> SearchResult:
    """Search ``grid`` for a registered scikit-learn estimator; return the best as a model.

    The training rows are gathered once into this process (sample them down first; ``SearchModel``
    does, with ``max_train_rows``) and handed to dask-ml's search, which fits every (candidate, fold) as a Dask task
    on the cluster (``scheduler=client``) and refits the best on all the rows. Each estimator is
    single-threaded, so the workers' threads are the parallelism; keep ``cv`` x candidates
    moderate on small clusters.

    Parameters
    ----------
    estimator
        A registered name (``"random_forest"``, ``"hist_gradient_boosting"``, ``"sgd"``, ...).
    grid
        Parameter name to candidate values (names checked like ``params``).
    method
        ``"grid"`` (every combination) or ``"random"`` (``n_iter`` seeded samples).
        ``"hyperband"`` raises: dask-ml's incremental searches fail on this Dask (dask-ml#1016).
    cv
        Folds (>= 2).
    scoring
        A scikit-learn scorer name; default ROC AUC (classification; one-vs-rest ``roc_auc_ovr``
        for ``n_classes > 2``) or negative RMSE (regression).
    n_classes
        Classes of the labels (``0 .. k-1``); only picks the default scorer.
    params
        Fixed parameters for every candidate.

    Examples
    --------
    >>> res = search(X, y, task="classification", estimator="random_forest",
    ...              grid={"max_depth": [2, 8]}, cv=3)  # doctest: +SKIP
    >>> res.best_params_, res.predict(X_all)  # doctest: +SKIP
    """
    from dask_ml.model_selection import GridSearchCV, RandomizedSearchCV

    task = Task(task)
    if scoring is None and task is Task.CLASSIFICATION and n_classes > 2:
        scoring = "roc_auc_ovr"
    plan = check_search(task=task, estimator=estimator, grid=grid, method=method, n_iter=n_iter, cv=cv,
                        scoring=scoring, params=params, stage=stage)
    client = default_client(client)
    if plan.method is SearchMethod.GRID:
        searcher = GridSearchCV(plan.estimator, plan.grid, cv=cv, scoring=plan.scoring, scheduler=client, refit=True)
    else:
        n_candidates = math.prod(len(v) for v in plan.grid.values())
        searcher = RandomizedSearchCV(plan.estimator, plan.grid, n_iter=min(n_iter, n_candidates), cv=cv,
                                      scoring=plan.scoring, scheduler=client, random_state=seed, refit=True)
    X_local, y_local = gather_training_rows(client, X, y)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Dask configuration key 'fuse_ave_width'", FutureWarning)
        searcher.fit(X_local, y_local)

    res = searcher.cv_results_
    rows = [
        {"params": dict(res["params"][i]), "mean_test_score": float(res["mean_test_score"][i]),
         "std_test_score": float(res["std_test_score"][i]), "rank": int(res["rank_test_score"][i]),
         "mean_fit_time": float(res["mean_fit_time"][i])}
        for i in range(len(res["params"]))
    ]
    rows.sort(key=lambda r: (r["rank"], -r["mean_test_score"]))
    best = searcher.best_estimator_
    model = PostFitFitted(task, best, scatter_estimator(client, best),
                          {**dict(params or {}), **dict(searcher.best_params_)},
                          estimator_name=estimator, train_rows=int(len(y_local)))
    return SearchResult(model, dict(searcher.best_params_), float(searcher.best_score_), plan.scoring, rows)
