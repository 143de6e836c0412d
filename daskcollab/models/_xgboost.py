"""Distributed xgboost (``xgboost.dask``) training and chunk-wise prediction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import dask.array as da
import numpy as np
from distributed import Client, Future

from daskcollab._errors import WorkflowError
from daskcollab.models._fitted import Task


@dataclass
class XGBoostFitted:
    """A trained booster, scattered once to every worker for prediction (``booster_future`` is
    None without a cluster: the booster is then embedded in each prediction graph)."""

    task: Task
    booster: Any  # xgboost.Booster
    booster_future: Future | None
    params: Mapping[str, Any]

    def predict(self, X: da.Array) -> da.Array:
        return X.map_blocks(
            _predict_block,
            self.booster_future if self.booster_future is not None else self.booster,
            drop_axis=1,
            dtype=np.float32,
            meta=np.empty((0,), dtype=np.float32),
        )

    def describe(self) -> dict[str, object]:
        return {"rounds": self.booster.num_boosted_rounds(), **dict(self.params)}


def train_xgboost(
    client: Client,
    X: da.Array,
    y: da.Array,
    *,
    task: Task,
    params: Mapping[str, Any],
    rounds: int,
    device: str,
) -> XGBoostFitted:
    """Train with ``xgboost.dask.train`` on a ``DaskQuantileDMatrix`` of the training rows.

    ``device="cuda"`` is passed to xgboost as the booster's ``device`` (the workers need a GPU;
    request ``resources={"GPU": 1}`` on the stage); see :func:`xgboost_params`.
    """
    import xgboost.dask as dxgb  # import xgboost does not import xgboost.dask

    full_params = xgboost_params(Task(task), params, device)
    dtrain = dxgb.DaskQuantileDMatrix(client, X, y)
    output = dxgb.train(client, full_params, dtrain, num_boost_round=rounds)
    booster = output["booster"]
    booster.set_param({"nthread": 1})
    [future] = client.scatter([booster], broadcast=True, hash=False)
    return XGBoostFitted(task, booster, future, full_params)


#: Where xgboost trains: ``"cuda"`` (or ``"cuda:<ordinal>"``) needs workers with a GPU.
Device = Literal["cpu", "cuda"]


def xgboost_params(task: Task, params: Mapping[str, Any], device: str) -> dict[str, Any]:
    """The booster parameters ``train_xgboost`` hands to ``xgboost.dask.train``.

    The objective follows ``task``; ``tree_method="hist"`` unless ``params`` sets one; ``device``
    overrides any ``device`` in ``params``.

    Examples
    --------
    >>> xgboost_params(Task.REGRESSION, {"max_depth": 4}, "cuda")["device"]
    'cuda'
    """
    if not isinstance(device, str) or not (device in ("cpu", "cuda") or device.startswith("cuda:")):
        raise WorkflowError(f"train_xgboost: field 'device': expected 'cpu', 'cuda' or 'cuda:<n>', got {device!r}. "
                            "Fix: device='cpu' (or 'cuda' on GPU workers)")
    objective = "binary:logistic" if task is Task.CLASSIFICATION else "reg:squarederror"
    return {"objective": objective, "tree_method": "hist", **dict(params), "device": device}


def _predict_block(block: np.ndarray, booster) -> np.ndarray:
    if block.shape[0] == 0:
        return np.empty((0,), dtype=np.float32)
    return np.asarray(booster.inplace_predict(block), dtype=np.float32)


def update_xgboost(client: Client, fitted: XGBoostFitted, X: da.Array, y: da.Array, *, rounds: int) -> XGBoostFitted:
    """Continue boosting ``fitted`` for ``rounds`` more rounds on new rows (``xgb_model=``).

    The new booster holds the old trees plus ``rounds`` new ones; ``fitted`` is unchanged.
    """
    import xgboost.dask as dxgb

    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise WorkflowError(f"update_xgboost: field 'rounds': expected a positive integer, got {rounds!r}. "
                            "Fix: rounds=20")

    params = {k: v for k, v in fitted.params.items() if k != "nthread"}
    dtrain = dxgb.DaskQuantileDMatrix(client, X, y)
    output = dxgb.train(client, params, dtrain, num_boost_round=rounds, xgb_model=fitted.booster)
    booster = output["booster"]
    booster.set_param({"nthread": 1})
    [future] = client.scatter([booster], broadcast=True, hash=False)
    return XGBoostFitted(fitted.task, booster, future, fitted.params)
