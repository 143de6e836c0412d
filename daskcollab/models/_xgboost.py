"""Distributed xgboost training (daskcollab's own collective, :mod:`._xgboost_train`) and chunk-wise prediction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from distributed import Client, Future

from daskcollab._contract import ANNOTATION_KEY
from daskcollab._errors import WorkflowError
from daskcollab._types import Device
from daskcollab.models._fitted import Task
from daskcollab.models._sklearn_fitted import share_model
from daskcollab.models._xgboost_train import train_collective


@dataclass
class XGBoostFitted:
    """A trained booster, shared with the workers for prediction by lineage
    (:func:`~daskcollab.models._sklearn_fitted.share_model`: recomputed when the worker holding it dies;
    ``booster_future`` is None without a cluster: the booster is then embedded in each prediction graph)."""

    task: Task
    booster: Any  # xgboost.Booster
    booster_future: Future | None
    params: Mapping[str, Any]

    @property
    def n_classes(self) -> int:
        """Classes of a ``multi:softprob`` booster (its predictions are (n, k)), else 2."""
        return int(self.params.get("num_class", 2)) if self.params.get("objective") == "multi:softprob" else 2

    def predict(self, X: da.Array) -> da.Array:
        booster = self.booster_future if self.booster_future is not None else self.booster
        k = self.n_classes
        if k > 2:
            return X.map_blocks(_predict_block, booster, k, chunks=(X.chunks[0], (k,)), dtype=np.float32,
                                meta=np.empty((0, 0), dtype=np.float32))
        return X.map_blocks(_predict_block, booster, None, drop_axis=1, dtype=np.float32,
                            meta=np.empty((0,), dtype=np.float32))

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
    device: Device | str,
    n_classes: int = 2,
) -> XGBoostFitted:
    """Train on the row chunks of ``X``, ``y`` with daskcollab's collective
    (:func:`~daskcollab.models._xgboost_train.train_collective`: survives a lost worker, continues from
    the last checkpoint, and with ``collab.xgboost.deterministic`` gives the same model whatever the
    data layout or the number of workers).

    ``device="cuda"`` is passed to xgboost as the booster's ``device`` (the workers need a GPU;
    request ``resources={"GPU": 1}`` on the stage); see :func:`xgboost_params`. ``n_classes > 2``
    trains ``multi:softprob`` on labels ``0 .. k-1``; its predictions are (n, k).
    """
    full_params = xgboost_params(Task(task), params, device, n_classes)
    booster = train_collective(client, X, y, full_params, rounds, stage=_stage_name())
    booster.set_param({"nthread": 1})
    return XGBoostFitted(task, booster, share_model(client, booster), full_params)


def xgboost_params(task: Task, params: Mapping[str, Any], device: Device | str, n_classes: int = 2) -> dict[str, Any]:
    """The booster parameters ``train_xgboost`` hands to the training collective.

    The objective follows ``task`` (``binary:logistic``; ``multi:softprob`` with ``num_class``
    for ``n_classes > 2``; ``reg:squarederror``); ``tree_method="hist"`` unless ``params`` sets one; ``device``
    (a :class:`Device`, or ``"cuda:<ordinal>"``: ``"cuda"`` needs workers with a GPU) overrides any ``device``
    in ``params``, as its plain string.

    Examples
    --------
    >>> xgboost_params(Task.REGRESSION, {"max_depth": 4}, "cuda")["device"]
    'cuda'
    """
    if not isinstance(device, str) or not (device in list(Device) or device.startswith(f"{Device.CUDA.value}:")):
        raise WorkflowError(f"train_xgboost: field 'device': expected 'cpu', 'cuda' or 'cuda:<n>', got {device!r}. "
                            "Fix: device='cpu' (or 'cuda' on GPU workers)")
    device = device.value if isinstance(device, Device) else device  # the plain string reaches xgboost and files
    if task is Task.CLASSIFICATION and n_classes > 2:
        objective: dict[str, Any] = {"objective": "multi:softprob", "num_class": int(n_classes)}
    else:
        objective = {"objective": "binary:logistic" if task is Task.CLASSIFICATION else "reg:squarederror"}
    return {**objective, "tree_method": "hist", **dict(params), "device": device}


def _predict_block(block: np.ndarray, booster, n_classes: int | None) -> np.ndarray:
    if block.shape[0] == 0:
        return np.empty((0,) if n_classes is None else (0, n_classes), dtype=np.float32)
    return np.asarray(booster.inplace_predict(block), dtype=np.float32)


def update_xgboost(client: Client, fitted: XGBoostFitted, X: da.Array, y: da.Array, *, rounds: int) -> XGBoostFitted:
    """Continue boosting ``fitted`` for ``rounds`` more rounds on new rows (``xgb_model=``).

    The new booster holds the old trees plus ``rounds`` new ones; ``fitted`` is unchanged.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise WorkflowError(f"update_xgboost: field 'rounds': expected a positive integer, got {rounds!r}. "
                            "Fix: rounds=20")

    params = {k: v for k, v in fitted.params.items() if k != "nthread"}
    booster = train_collective(client, X, y, params, rounds, xgb_model=fitted.booster, stage=_stage_name())
    booster.set_param({"nthread": 1})
    return XGBoostFitted(fitted.task, booster, share_model(client, booster), fitted.params)


def _stage_name() -> str:
    """The stage whose thread is training (from its ``collab`` annotation), for messages."""
    import dask

    return str((dask.get_annotations().get(ANNOTATION_KEY) or {}).get("stage") or "xgboost")
