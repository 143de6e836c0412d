"""Model files in safe formats: no arbitrary pickle.

A saved model is a folder with ``model.json`` (kind, task, parameters) and one payload:

- xgboost: ``booster.ubj`` (xgboost's own UBJSON format);
- dask-ml linear models: coefficients and intercept inside ``model.json``;
- scikit-learn estimators: ``estimator.skops`` (the ``skops.io`` format, which rebuilds objects
  without executing pickled code); loading trusts only types from scikit-learn and NumPy.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import uuid
from typing import Any

import numpy as np
from distributed import Client

from daskcollab._errors import DataError
from daskcollab.models._fitted import FittedModel, Task
from daskcollab.models._linear import LinearFitted
from daskcollab.models._sklearn import SklearnFitted, scatter_fitted
from daskcollab.models._xgboost import XGBoostFitted

FORMAT_VERSION = 1
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "collections.")


def save_model(fitted: FittedModel, path: str | os.PathLike) -> str:
    """Write ``fitted`` to the folder ``path`` (replaced atomically if it exists); return the path."""
    path = pathlib.Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        meta: dict[str, Any] = {"format": FORMAT_VERSION, "task": fitted.task.value}
        if isinstance(fitted, XGBoostFitted):
            fitted.booster.save_model(str(tmp / "booster.ubj"))
            meta.update(kind="xgboost", params=dict(fitted.params))
        elif isinstance(fitted, LinearFitted):
            meta.update(kind="linear", coef=fitted.coef.tolist(), intercept=fitted.intercept)
        elif isinstance(fitted, SklearnFitted):
            import skops.io

            skops.io.dump(fitted.estimator, tmp / "estimator.skops")
            meta.update(kind="sklearn", estimator=type(fitted.estimator).__name__, details=_jsonable(fitted.details))
        else:
            raise DataError(f"save_model: cannot save a {type(fitted).__name__}. Fix: save xgboost, linear or "
                            "scikit-learn model stages")
        (tmp / "model.json").write_text(json.dumps(meta, indent=2))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return str(path)


def load_model(path: str | os.PathLike, client: Client) -> FittedModel:
    """Load a model folder written by :func:`save_model`, ready to predict on ``client``'s workers."""
    path = pathlib.Path(path)
    meta_file = path / "model.json"
    if not meta_file.exists():
        raise DataError(f"load_model: {str(path)!r} is not a saved model (no model.json). "
                        "Fix: point at a folder written by a model_sink stage or daskcollab.save_model")
    meta = json.loads(meta_file.read_text())
    task = Task(meta["task"])
    if meta["kind"] == "xgboost":
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(path / "booster.ubj"))
        booster.set_param({"nthread": 1})
        [future] = client.scatter([booster], broadcast=True, hash=False)
        return XGBoostFitted(task, booster, future, meta["params"])
    if meta["kind"] == "linear":
        return LinearFitted(task, np.asarray(meta["coef"], dtype=np.float64), float(meta["intercept"]), None)
    import skops.io

    file = path / "estimator.skops"
    untrusted = skops.io.get_untrusted_types(file=file)
    refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if refused:
        raise DataError(f"load_model: {str(file)!r} contains types outside scikit-learn/NumPy: {refused!r}. "
                        "Fix: load it yourself with skops.io.load(..., trusted=[...]) if you trust the file")
    estimator = skops.io.load(file, trusted=untrusted)
    return scatter_fitted(client, task, estimator, meta.get("details", {}))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
