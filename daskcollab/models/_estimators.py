"""The scikit-learn estimators a workflow may name, and how one is made with checked parameters.

YAML and Python name estimators from this registry (no import paths). Each factory returns a
fresh estimator for the task; its parameter names are checked against its own ``get_params()``
when the workflow is built. Every estimator is single-threaded (``n_jobs=1``): the cluster's
workers are the parallelism.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from daskcollab._errors import WorkflowError, stage_message
from daskcollab.models._fitted import Task
from daskcollab.models._params import check_param_names


def _sgd(task: Task):
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    if task is Task.CLASSIFICATION:
        return SGDClassifier(loss="log_loss", random_state=0)
    return SGDRegressor(random_state=0)


def _passive_aggressive(task: Task):
    # scikit-learn 1.8 deprecated PassiveAggressive*; these SGD settings are its documented equivalents
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    if task is Task.CLASSIFICATION:
        return SGDClassifier(loss="hinge", penalty=None, learning_rate="pa1", eta0=1.0, random_state=0)
    return SGDRegressor(loss="epsilon_insensitive", penalty=None, learning_rate="pa1", eta0=1.0, random_state=0)


def _naive_bayes(task: Task):
    from sklearn.naive_bayes import GaussianNB

    if task is not Task.CLASSIFICATION:
        raise ValueError("'naive_bayes' (GaussianNB) is a classifier")
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

    return (KNeighborsClassifier if task is Task.CLASSIFICATION else KNeighborsRegressor)(n_jobs=1)


def _xgboost_sklearn(task: Task):
    from xgboost import XGBClassifier, XGBRegressor

    return (XGBClassifier if task is Task.CLASSIFICATION else XGBRegressor)(tree_method="hist", n_jobs=1)


#: ``partial_fit`` estimators (``IncrementalModel``). ``"passive_aggressive"`` classification has
#: no ``predict_proba``: it predicts the logistic of its decision function (not calibrated).
INCREMENTAL_ESTIMATORS: dict[str, Callable[[Task], Any]] = {
    "sgd": _sgd,
    "passive_aggressive": _passive_aggressive,
    "naive_bayes": _naive_bayes,
}
#: Estimators fitted in one process and predicted in parallel (``PostFitModel``, ``SearchModel``);
#: ``"xgboost"`` here is xgboost's scikit-learn estimator, fitted in one process.
POSTFIT_ESTIMATORS: dict[str, Callable[[Task], Any]] = {
    "random_forest": _random_forest,
    "extra_trees": _extra_trees,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "knn": _knn,
    "xgboost": _xgboost_sklearn,
    **INCREMENTAL_ESTIMATORS,
}


def make_estimator(
    registry: Mapping[str, Callable[[Task], Any]],
    name: str,
    params: Mapping[str, Any],
    task: Task | str,
    stage: str,
    *,
    grid: Mapping[str, Any] | None = None,
) -> Any:
    """A fresh registered estimator for ``task`` with ``params`` set, every parameter name checked.

    ``grid`` (a search's candidate lists) has its names checked too, but is not set.

    Raises
    ------
    WorkflowError
        Unknown estimator (with close matches), an estimator that does not fit the task, or an
        unknown parameter name (with close matches and the valid names).

    Examples
    --------
    >>> make_estimator(INCREMENTAL_ESTIMATORS, "sgd", {"alpha": 1e-4}, "classification", "sgd")  # doctest: +SKIP
    SGDClassifier(alpha=0.0001, loss='log_loss', random_state=0)
    """
    task = Task(task)
    if name not in registry:
        names = sorted(registry)
        close = difflib.get_close_matches(str(name), names, n=3)
        hint = f"did you mean {close!r}? " if close else ""
        problem = f"unknown estimator {name!r}; {hint}registered: {names!r}"
        raise WorkflowError(stage_message(stage, "estimator", problem, f"estimator={names[0]!r}"))
    try:
        est = registry[name](task)
    except ValueError as exc:
        raise WorkflowError(stage_message(stage, "estimator", f"{exc} (task {task.value!r})",
                                          "choose an estimator for this task")) from exc
    valid = est.get_params(deep=False)
    owner = f"{name!r} ({type(est).__name__})"
    check_param_names(params, valid, owner=owner, stage=stage, field="params")
    if grid is not None:
        check_param_names(grid, valid, owner=owner, stage=stage, field="grid")
    return est.set_params(**dict(params))
