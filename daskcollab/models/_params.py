"""Parameter names each model accepts, checked when a workflow is built (not mid-run).

A misspelt parameter would otherwise be ignored with a warning (xgboost) or fail deep inside a
worker (scikit-learn). :func:`check_param_names` turns it into a :class:`WorkflowError` naming
the stage, the field, close matches and every valid name. The names of registered scikit-learn
estimators come from their own ``get_params()`` (see ``_estimators``); the xgboost booster's from
:func:`xgboost_param_names`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from daskcollab._errors import WorkflowError, stage_message

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


def check_param_names(params: Any, valid: Iterable[str], *, owner: str, stage: str, field: str = "params") -> None:
    """Raise :class:`WorkflowError` if ``params`` is not a mapping or holds a name not in ``valid``.

    Parameters
    ----------
    params
        Parameter names to values (for a search grid: names to candidate lists).
    valid
        The names the model accepts.
    owner
        The model, as the message names it (``"'sgd' (SGDClassifier)"``).
    stage
        The stage name, quoted first in the message.
    field
        The stage field that holds ``params`` (``"params"`` or ``"grid"``).

    Examples
    --------
    >>> check_param_names({"alpah": 1e-4}, ["alpha"], owner="'sgd'", stage="sgd")  # doctest: +SKIP
    WorkflowError: stage 'sgd', field 'params.alpah': unknown parameter 'alpah' for 'sgd'; did you mean ['alpha']? ...
    """
    if not isinstance(params, Mapping):
        raise WorkflowError(stage_message(stage, field, f"expected a mapping of parameter names to values, got "
                                                        f"{params!r}", f'{field}={{"name": value}}'))
    valid = sorted(valid)
    for key in params:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=3)
            hint = f"did you mean {close!r}? " if close else ""
            raise WorkflowError(stage_message(
                stage, f"{field}.{key}", f"unknown parameter {key!r} for {owner}; {hint}valid: {valid!r}",
                "use one of the valid names",
            ))


def check_xgboost_params(params: Any, stage: str, *, field: str = "params") -> None:
    """Raise :class:`WorkflowError` if ``params`` holds a name the xgboost booster does not know.

    Examples
    --------
    >>> check_xgboost_params({"max_dpeth": 6}, "xgb")  # doctest: +SKIP
    WorkflowError: stage 'xgb', field 'params.max_dpeth': unknown parameter 'max_dpeth' for the xgboost booster; ...
    """
    check_param_names(params, xgboost_param_names(), owner="the xgboost booster", stage=stage, field=field)
