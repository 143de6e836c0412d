"""Parameter names each model accepts, checked when a workflow is built (not mid-run).

A misspelt parameter would otherwise be ignored with a warning (xgboost) or fail deep inside a
worker (scikit-learn). :func:`check_param_names` turns it into a :class:`WorkflowError` naming
the stage, the field, close matches and every valid name. The names of registered scikit-learn
estimators come from their own ``get_params()`` (see ``_estimators``); xgboost checks its booster's
parameters itself (:func:`check_xgboost_params`: names, types, ranges and choices, as configured).
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from daskcollab._errors import WorkflowError, stage_message
from daskcollab._types import Device
from daskcollab.models._fitted import Task


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


def check_xgboost_params(params: Any, stage: str, *, field: str = "params",
                         task: Task = Task.CLASSIFICATION) -> None:
    """Have xgboost itself check ``params`` as the stage would train with them; raise
    :class:`WorkflowError` naming the stage, the parameter and the fix.

    A booster is configured with the stage's full parameters (:func:`xgboost_params`: objective for
    ``task``, ``tree_method``; on the CPU) on a two-row matrix, nothing trained. xgboost then
    refuses bad values (types, ranges, choices: ``max_depth=-1``, ``tree_method="foo"``) and,
    with ``validate_parameters``, names every parameter the configured booster does not use: a
    misspelt name, a scikit-learn-wrapper argument (``n_estimators``), or one of another booster
    (``rate_drop`` without ``booster="dart"``) or objective (``huber_slope``).

    Examples
    --------
    >>> check_xgboost_params({"max_dpeth": 6}, "xgb")  # doctest: +SKIP
    WorkflowError: stage 'xgb', field 'params.max_dpeth': unknown parameter 'max_dpeth' for the xgboost booster; ...
    """
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise WorkflowError(stage_message(stage, field, f"expected a mapping of parameter names to values, got "
                                                        f"{params!r}", f'{field}={{"max_depth": 6}}'))
    error, unused = _configure(params, task)
    if error is not None:
        culprit = next((k for k in params if _configure({k: params[k]}, task)[0] is not None), None)
        where = f"{field}.{culprit}" if culprit is not None else field
        value = f" {params[culprit]!r}" if culprit is not None else ""
        raise WorkflowError(stage_message(stage, where, f"xgboost refuses the value{value}: {error}",
                                          "use a value xgboost's parameter reference allows"))
    for key in (k for k in params if k in unused):
        booster = str(params.get("booster", "gbtree"))
        known = xgboost_param_names()
        if key in known:
            raise WorkflowError(stage_message(
                stage, f"{field}.{key}", f"parameter {key!r} is not used by the xgboost booster {booster!r} with "
                                         f"the objective of a {Task(task).value} stage (xgboost validate_parameters)",
                "remove it, or set params.booster to the booster it belongs to ('dart' or 'gblinear')"))
        valid = xgboost_param_names(booster)
        close = difflib.get_close_matches(key, valid, n=3)
        hint = f"did you mean {close!r}? " if close else ""
        raise WorkflowError(stage_message(stage, f"{field}.{key}", f"unknown parameter {key!r} for the xgboost "
                                                                   f"booster; {hint}valid: {valid!r}",
                                          "use one of the valid names"))


_NOT_USED = re.compile(r"Parameters:\s*\{(?P<names>[^}]*)\}\s*(?:are|is) not used")
_LOG_PREFIX = re.compile(r"^\[[\d:]+\]\s+\S+:\d+:\s*")


def _configure(params: Mapping[str, Any], task: Task) -> tuple[str | None, set[str]]:
    """Configure a booster with ``params`` (nothing is trained); ``(xgboost's error or None, the
    names xgboost reports unused)``."""
    import xgboost

    from daskcollab.models._xgboost import xgboost_params

    full = {**xgboost_params(Task(task), dict(params), Device.CPU), "nthread": 1, "verbosity": 1,
            "validate_parameters": True}
    matrix = xgboost.DMatrix(np.zeros((2, 1), dtype=np.float32), label=np.array([0.0, 1.0]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            xgboost.Booster(full, cache=[matrix]).save_config()
        except xgboost.core.XGBoostError as exc:
            first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            return _LOG_PREFIX.sub("", first.strip()), set()
    unused: set[str] = set()
    for warning in caught:
        match = _NOT_USED.search(str(warning.message))
        if match:
            unused |= set(re.findall(r'"([^"]+)"', match.group("names")))
    return None, unused


@functools.cache
def xgboost_param_names(booster: str | None = None) -> list[str]:
    """The parameter names (aliases included) xgboost's configuration holds for ``booster``
    (``"gbtree"``, ``"dart"``, ``"gblinear"``), or for any of them when None; read from a
    configured booster's ``save_config()``, so they are xgboost's own list."""
    import xgboost

    matrix = xgboost.DMatrix(np.zeros((2, 1), dtype=np.float32), label=np.array([0.0, 1.0]))
    names: set[str] = set()
    for kind in ([booster] if booster is not None else ["gbtree", "dart", "gblinear"]):
        try:
            config = json.loads(xgboost.Booster({"booster": kind, "nthread": 1}, cache=[matrix]).save_config())
        except xgboost.core.XGBoostError:
            continue
        names |= _config_keys(config)
    return sorted(names - {"name"})


def _config_keys(node: Any) -> set[str]:
    """Keys of a booster configuration whose values are parameter values (strings)."""
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            out |= {key} if isinstance(value, str) else _config_keys(value)
    elif isinstance(node, list):
        for value in node:
            out |= _config_keys(value)
    return out
