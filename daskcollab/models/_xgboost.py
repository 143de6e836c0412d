"""Distributed xgboost (``xgboost.dask``) training and chunk-wise prediction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from distributed import Client, Future

from daskcollab.models._fitted import Task


@dataclass
class XGBoostFitted:
    """A trained booster, scattered once to every worker for prediction."""

    task: Task
    booster: Any  # xgboost.Booster
    booster_future: Future
    params: Mapping[str, Any]

    def predict(self, X: da.Array) -> da.Array:
        return X.map_blocks(
            _predict_block,
            self.booster_future,
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
    """Train with ``xgboost.dask.train`` on a ``DaskQuantileDMatrix`` of the training rows."""
    import xgboost.dask as dxgb  # import xgboost does not import xgboost.dask

    objective = "binary:logistic" if task is Task.CLASSIFICATION else "reg:squarederror"
    full_params = {"objective": objective, "tree_method": "hist", "device": device, **params}
    dtrain = dxgb.DaskQuantileDMatrix(client, X, y)
    output = dxgb.train(client, full_params, dtrain, num_boost_round=rounds)
    booster = output["booster"]
    booster.set_param({"nthread": 1})
    [future] = client.scatter([booster], broadcast=True, hash=False)
    return XGBoostFitted(task, booster, future, full_params)


def _predict_block(block: np.ndarray, booster) -> np.ndarray:
    if block.shape[0] == 0:
        return np.empty((0,), dtype=np.float32)
    return np.asarray(booster.inplace_predict(block), dtype=np.float32)


def update_xgboost(client: Client, fitted: XGBoostFitted, X: da.Array, y: da.Array, *, rounds: int) -> XGBoostFitted:
    """Continue boosting ``fitted`` for ``rounds`` more rounds on new rows (``xgb_model=``)."""
    import xgboost.dask as dxgb

    params = {k: v for k, v in fitted.params.items() if k != "nthread"}
    dtrain = dxgb.DaskQuantileDMatrix(client, X, y)
    output = dxgb.train(client, params, dtrain, num_boost_round=rounds, xgb_model=fitted.booster)
    booster = output["booster"]
    booster.set_param({"nthread": 1})
    [future] = client.scatter([booster], broadcast=True, hash=False)
    return XGBoostFitted(fitted.task, booster, future, fitted.params)
