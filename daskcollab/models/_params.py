"""Parameter names each model accepts, checked when a workflow is built (not mid-run).

A misspelt parameter would otherwise be ignored with a warning (xgboost) or fail deep inside a
worker (scikit-learn). :func:`check_params` turns it into a :class:`WorkflowError` naming the
stage, the parameter, close matches and every valid name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from daskcollab._errors import WorkflowError
from daskcollab.models._fitted import Task

#: Booster parameters from xgboost's parameter reference (general, tree booster, hist, categorical,
#: dart, gblinear, learning task), for ``xgboost.train`` / ``xgboost.dask.train``.
XGBOOST_BOOSTER_PARAMS: frozenset[str] = frozenset({
    # general
    "booster", "device", "verbosity", "validate_parameters", "nthread", "disable_default_eval_metric",
    # tree booster
    "eta", "learning_rate", "gamma", "min_split_loss", "max_depth", "min_child_weight", "max_delta_step",
    "subsample", "sampling_method", "colsample_bytree", "colsample_bylevel", "colsample_bynode",
    "lambda", "reg_lambda", "alpha", "reg_alpha", "tree_method", "scale_pos_weight", "updater",
    "refresh_leaf", "process_type", "grow_policy", "max_leaves", "max_bin", "num_parallel_tree",
    "monotone_constraints", "interaction_constraints", "multi_strategy", "max_cached_hist_node",
    "max_cat_to_onehot", "max_cat_threshold",
    # dart booster
    "sample_type", "normalize_type", "rate_drop", "one_drop", "skip_drop",
    # linear booster
    "feature_selector", "top_k",
    # learning task
    "objective", "eval_metric", "seed", "random_state", "seed_per_iteration", "base_score",
    "tweedie_variance_power", "huber_slope", "quantile_alpha", "aft_loss_distribution",
    "aft_loss_distribution_scale", "num_class",
})
#: scikit-learn wrapper arguments that are not booster parameters (``xgboost.train`` ignores them).
_XGBOOST_WRAPPER_ONLY = frozenset({
    "n_estimators", "early_stopping_rounds", "enable_categorical", "importance_type", "missing",
    "callbacks", "feature_types", "feature_weights",
})


def xgboost_param_names() -> list[str]:
    """Names ``xgboost.train`` uses: the documented booster parameters plus the scikit-learn
    wrapper's aliases that reach the booster (``n_jobs``, ``random_state``, ``reg_alpha``, ...)."""
    import xgboost

    wrapper = set(xgboost.XGBRegressor().get_params(deep=False)) - _XGBOOST_WRAPPER_ONLY
    return sorted(XGBOOST_BOOSTER_PARAMS | wrapper | {"n_jobs"})


def _registries() -> dict[str, Callable[[Task], Any]]:
    from daskcollab.models._incremental import INCREMENTAL_ESTIMATORS
    from daskcollab.models._postfit import POSTFIT_ESTIMATORS

    return {**POSTFIT_ESTIMATORS, **INCREMENTAL_ESTIMATORS}


def registered_estimators() -> list[str]:
    """Every estimator name :func:`check_params` knows (``"xgboost"`` is the booster)."""
    return sorted({"xgboost", *_registries()})


def valid_params(estimator_name: str, *, task: Task = Task.CLASSIFICATION, stage: str = "model") -> list[str]:
    """The parameter names ``estimator_name`` accepts for ``task`` (sorted).

    ``"xgboost"`` means the booster trained by ``xgboost.dask``; every other name is a registered
    scikit-learn estimator, whose names are its ``get_params(deep=False)`` keys.
    """
    if estimator_name == "xgboost":
        return xgboost_param_names()
    registry = _registries()
    if estimator_name not in registry:
        names = registered_estimators()
        close = difflib.get_close_matches(str(estimator_name), names, n=3)
        hint = f"did you mean {close!r}? " if close else ""
        raise WorkflowError(
            f"stage {stage!r}, field 'estimator': unknown estimator {estimator_name!r}; {hint}registered: "
            f"{names!r}. Fix: use one of the registered names"
        )
    try:
        est = registry[estimator_name](task)
    except ValueError as exc:
        raise WorkflowError(
            f"stage {stage!r}, field 'estimator': {exc} (task {Task(task).value!r}). "
            "Fix: choose an estimator for this task"
        ) from exc
    return sorted(est.get_params(deep=False))


def check_params(
    estimator_name: str,
    params: Mapping[str, Any],
    stage: str,
    *,
    task: Task = Task.CLASSIFICATION,
    field: str = "params",
) -> None:
    """Raise :class:`WorkflowError` if ``params`` holds a name ``estimator_name`` does not accept.

    Parameters
    ----------
    estimator_name
        ``"xgboost"`` (booster parameters) or a registered scikit-learn estimator name.
    params
        Parameter names to values (for a search grid: names to candidate lists).
    stage
        The stage name, quoted first in the message.
    task
        Classification and regression estimators can differ (``class_weight``).
    field
        The stage field that holds ``params`` (``"params"`` or ``"grid"``).

    Examples
    --------
    >>> check_params("sgd", {"alpah": 1e-4}, "sgd")  # doctest: +SKIP
    WorkflowError: stage 'sgd', field 'params.alpah': unknown parameter 'alpah' for 'sgd'; did you mean ['alpha']? ...
    """
    if not isinstance(params, Mapping):
        raise WorkflowError(
            f"stage {stage!r}, field {field!r}: expected a mapping of parameter names to values, got {params!r}. "
            f'Fix: {field}={{"name": value}}'
        )
    valid = valid_params(estimator_name, task=task, stage=stage)
    for key in params:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=3)
            hint = f"did you mean {close!r}? " if close else ""
            raise WorkflowError(
                f"stage {stage!r}, field '{field}.{key}': unknown parameter {key!r} for {estimator_name!r}; "
                f"{hint}valid: {valid!r}. Fix: use one of the valid names"
            )
