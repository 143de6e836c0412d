"""Model stages around scikit-learn estimators: incremental, post-fit parallel, and searches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from daskcollab.models import (
    INCREMENTAL_ESTIMATORS,
    POSTFIT_ESTIMATORS,
    UNAVAILABLE_METHODS,
    SearchMethod,
    check_search,
    make_estimator,
    search,
    train_incremental,
    train_postfit,
)
from daskcollab.workflow._constraints import Choice, Integer, Items, Table, param
from daskcollab.workflow._model_stages import ModelStage


@dataclass(eq=False)
class IncrementalModel(ModelStage):
    """A ``partial_fit`` estimator trained block by block with dask-ml's ``Incremental``.

    Never needs the training rows in one place. Classification ``partial_fit`` sees every class
    ``0 .. k-1`` up front; with k > 2 classes it predicts (n, k) probabilities. ``estimator``: ``"sgd"`` (logistic / squared
    loss), ``"passive_aggressive"`` (scikit-learn's SGD equivalent; classification predicts the
    logistic of its decision function, an uncalibrated score), ``"naive_bayes"`` (classification).
    Scale features first (``Standardize``) for the linear ones.

    Examples
    --------
    >>> sgd = IncrementalModel(scaled, estimator="sgd", params={"alpha": 1e-4}, passes=3)  # doctest: +SKIP
    """

    estimator: str = param(Choice(lambda: INCREMENTAL_ESTIMATORS), "sgd")
    params: Mapping[str, Any] = param(Table(), {}, example={"alpha": 1e-4})
    passes: int = param(Integer(min=1), 3)

    type_name: ClassVar[str] = "incremental"
    memory_factor: ClassVar[float] = 0.5  # one block at a time

    def validate(self) -> None:
        super().validate()
        make_estimator(INCREMENTAL_ESTIMATORS, self.estimator, self.params, self.task, self.name)

    def _train(self, ctx, X, y, task, n_classes):
        classes = tuple(range(max(n_classes, 2)))
        return train_incremental(X, y, task=task, estimator=self.estimator, params=self.params, passes=self.passes,
                                 classes=classes, client=ctx.client, stage=self.name)


@dataclass(eq=False)
class PostFitModel(ModelStage):
    """Any registered scikit-learn estimator, fitted in one process, predicted in parallel
    (dask-ml ``ParallelPostFit``).

    The training rows are gathered to the client, so cap them with ``max_train_rows``
    (default 200,000, a seeded sample). ``estimator``: ``"random_forest"``, ``"extra_trees"``,
    ``"hist_gradient_boosting"``, ``"knn"``, ``"xgboost"`` (xgboost's scikit-learn estimator,
    single-process), or an incremental one.
    """

    estimator: str = param(Choice(lambda: POSTFIT_ESTIMATORS), "random_forest")
    params: Mapping[str, Any] = param(Table(), {}, example={"n_estimators": 100})
    max_train_rows: int | None = param(Integer(min=1, what="a positive integer or None"), 200_000)

    type_name: ClassVar[str] = "post_fit"

    def validate(self) -> None:
        super().validate()
        make_estimator(POSTFIT_ESTIMATORS, self.estimator, self.params, self.task, self.name)

    def _train(self, ctx, X, y, task, n_classes):
        return train_postfit(X, y, task=task, estimator=self.estimator, params=self.params, client=ctx.client,
                             stage=self.name)


@dataclass(eq=False)
class SearchModel(ModelStage):
    """Hyperparameter search with dask-ml ``GridSearchCV`` / ``RandomizedSearchCV``; the best
    estimator (refitted on all sampled training rows) is this stage's model.

    ``grid`` maps parameter names to candidate lists. Candidates are fitted as Dask tasks on
    the (sampled, ``max_train_rows``, default 100,000) training rows. dask-ml's incremental
    searches (Hyperband, SuccessiveHalving) fail on this Dask version (dask-ml#1016) and are
    not offered. Scoring: ROC AUC (classification; one-vs-rest ``roc_auc_ovr`` for k > 2
    classes) or negative RMSE (regression). Parameter names in ``grid`` are checked when the
    workflow is built.
    """

    estimator: str = param(Choice(lambda: POSTFIT_ESTIMATORS), "random_forest")
    grid: Mapping[str, list] = param(
        Table(Items(min_items=1), min_items=1, what="a mapping of parameter name to a non-empty list of values"),
        {}, example={"max_depth": [4, 8]}, yaml_required=True)
    method: str = param(Choice(SearchMethod, unavailable=UNAVAILABLE_METHODS,
                               unavailable_fix="method='random' with n_iter= a budget of candidates"), "grid")
    n_iter: int = param(Integer(min=1), 10)
    cv: int = param(Integer(min=2), 3)
    max_train_rows: int | None = param(Integer(min=1, what="a positive integer or None"), 100_000)

    type_name: ClassVar[str] = "search"

    def validate(self) -> None:
        super().validate()
        check_search(task=self.task, estimator=self.estimator, grid=self.grid, method=self.method, n_iter=self.n_iter,
                     cv=self.cv, stage=self.name)

    def _train(self, ctx, X, y, task, n_classes):
        return search(X, y, task=task, estimator=self.estimator, grid=self.grid, method=self.method,
                      n_iter=self.n_iter, cv=self.cv, client=ctx.client, stage=self.name, n_classes=n_classes)
