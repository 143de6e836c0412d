"""Model stages around scikit-learn estimators: incremental, post-fit parallel, and searches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from daskcollab.models._fitted import Task
from daskcollab.models._sklearn import (
    IN_MEMORY,
    INCREMENTAL,
    make_estimator,
    search,
    train_incremental,
    train_post_fit,
)
from daskcollab.workflow._model_stages import _ModelStage


@dataclass(eq=False)
class IncrementalModel(_ModelStage):
    """A ``partial_fit`` estimator trained block by block with dask-ml's ``Incremental``.

    Never needs the training rows in one place. ``estimator``: ``"sgd"`` (logistic / squared
    loss), ``"passive_aggressive"``, ``"naive_bayes"`` (classification). Scale features first
    (``Standardize``) for the linear ones.

    Examples
    --------
    >>> sgd = IncrementalModel(scaled, estimator="sgd", params={"alpha": 1e-4}, passes=3)  # doctest: +SKIP
    """

    estimator: str = "sgd"
    params: Mapping[str, Any] = field(default_factory=dict)
    passes: int = 3

    type_name: ClassVar[str] = "incremental"
    memory_factor: ClassVar[float] = 0.5  # one block at a time

    def validate(self) -> None:
        super().validate()
        make_estimator(INCREMENTAL, self.estimator, self.params, Task(self.task), self.name)
        if not isinstance(self.passes, int) or isinstance(self.passes, bool) or self.passes < 1:
            self._fail("passes", "a positive integer", self.passes, "passes=3")

    def _train(self, ctx, X, y, task):
        est = make_estimator(INCREMENTAL, self.estimator, self.params, task, self.name)
        return train_incremental(ctx.client, X, y, task=task, estimator=est, passes=self.passes)


@dataclass(eq=False)
class PostFitModel(_ModelStage):
    """Any registered scikit-learn estimator, fitted in one process, predicted in parallel
    (dask-ml ``ParallelPostFit``).

    The training rows are gathered to the client, so cap them with ``max_train_rows``
    (default 200,000, a seeded sample). ``estimator``: ``"random_forest"``, ``"extra_trees"``,
    ``"hist_gradient_boosting"``, ``"knn"``, ``"xgboost"`` (single-process), or an incremental one.
    """

    estimator: str = "random_forest"
    params: Mapping[str, Any] = field(default_factory=dict)
    max_train_rows: int | None = 200_000

    type_name: ClassVar[str] = "post_fit"

    def validate(self) -> None:
        super().validate()
        make_estimator(IN_MEMORY, self.estimator, self.params, Task(self.task), self.name)

    def _train(self, ctx, X, y, task):
        est = make_estimator(IN_MEMORY, self.estimator, self.params, task, self.name)
        return train_post_fit(ctx.client, X, y, task=task, estimator=est)


@dataclass(eq=False)
class SearchModel(_ModelStage):
    """Hyperparameter search with dask-ml ``GridSearchCV`` / ``RandomizedSearchCV``; the best
    estimator (refitted on all sampled training rows) is this stage's model.

    ``grid`` maps parameter names to candidate lists. Candidates are fitted as Dask tasks on
    the (sampled, ``max_train_rows``, default 100,000) training rows. dask-ml's incremental
    searches (Hyperband, SuccessiveHalving) fail on this Dask version (dask-ml#1016) and are
    not offered. Scoring: ROC AUC (classification) or negative RMSE (regression).
    """

    estimator: str = "random_forest"
    grid: Mapping[str, list] = field(default_factory=dict)
    method: str = "grid"
    n_iter: int = 10
    cv: int = 3
    max_train_rows: int | None = 100_000

    type_name: ClassVar[str] = "search"

    def validate(self) -> None:
        super().validate()
        if not isinstance(self.grid, Mapping) or not self.grid or not all(
            isinstance(v, (list, tuple)) and v for v in self.grid.values()
        ):
            self._fail("grid", "a mapping of parameter name to a non-empty list of values", self.grid,
                       'grid={"max_depth": [4, 8]}')
        make_estimator(IN_MEMORY, self.estimator, {k: v[0] for k, v in self.grid.items()}, Task(self.task), self.name)
        if self.method not in ("grid", "random"):
            hint = " (dask-ml's HyperbandSearchCV fails on dask >= 2025.3, dask-ml#1016)" if self.method == "hyperband" else ""
            self._fail("method", "'grid' or 'random'" + hint, self.method, 'method="random"')
        for name, low in (("n_iter", 1), ("cv", 2)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                self._fail(name, f"an integer >= {low}", value, f"{name}={max(low, 3)}")

    def _train(self, ctx, X, y, task):
        est = make_estimator(IN_MEMORY, self.estimator, {}, task, self.name)
        return search(ctx.client, X, y, task=task, estimator=est, grid=self.grid, method=self.method,
                      n_iter=self.n_iter, cv=self.cv)
