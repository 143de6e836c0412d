"""Model files in safe formats: no arbitrary pickle.

A saved model is a folder with ``model.json`` (kind, task, parameters) and at most one payload:

- xgboost: ``booster.ubj`` (xgboost's own UBJSON format);
- dask-ml linear models: coefficients and intercept inside ``model.json``;
- scikit-learn adapters (incremental, post-fit, search winners): ``estimator.skops`` (the
  ``skops.io`` format, which rebuilds objects without executing pickled code), with the adapter's
  fields (name, classes, passes, ...) in ``model.json``; loading trusts only types from
  scikit-learn and NumPy, so an estimator from another library (``post_fit`` with
  ``estimator="xgboost"``) is refused at load time: save an ``xgboost`` stage's booster instead;
- fitted preprocessing: the per-feature statistics inside ``model.json``.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import uuid
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import numpy as np
from distributed import Client

from daskcollab._errors import DataError
from daskcollab.models._fitted import FittedModel, Task
from daskcollab.models._incremental import IncrementalFitted
from daskcollab.models._linear import LinearFitted
from daskcollab.models._postfit import PostFitFitted
from daskcollab.models._preprocess import Preprocessor
from daskcollab.models._search import SearchResult
from daskcollab.models._sklearn_fitted import SklearnFitted, default_client, scatter_estimator
from daskcollab.models._xgboost import XGBoostFitted

FORMAT_VERSION = 1
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "collections.")
#: scikit-learn adapters by the ``adapter.type`` a file records (none: a plain :class:`SklearnFitted`).
_ADAPTERS: dict[str, type[SklearnFitted]] = {"incremental": IncrementalFitted, "post_fit": PostFitFitted}


def save_model(fitted: FittedModel | SearchResult | Preprocessor, path: str | os.PathLike) -> str:
    """Write a model (or a fitted :class:`Preprocessor`) to the folder ``path``; return the path.

    An existing folder is replaced atomically. A :class:`SearchResult` is saved as its best model.

    Examples
    --------
    >>> save_model(fitted, "models/sgd")  # doctest: +SKIP
    'models/sgd'
    """
    if isinstance(fitted, SearchResult):
        fitted = fitted.model
    meta: dict[str, Any] = {"format": FORMAT_VERSION}
    payload: Callable[[pathlib.Path], None] | None = None
    if isinstance(fitted, Preprocessor):
        meta.update(kind="preprocess", **fitted.to_dict())
    elif isinstance(fitted, XGBoostFitted):
        booster = fitted.booster
        meta.update(kind="xgboost", task=fitted.task.value, params=dict(fitted.params))
        payload = lambda folder: booster.save_model(str(folder / "booster.ubj"))  # noqa: E731
    elif isinstance(fitted, LinearFitted):
        meta.update(kind="linear", task=fitted.task.value, coef=fitted.coef.tolist(), intercept=fitted.intercept)
    elif isinstance(fitted, SklearnFitted):
        import skops.io

        estimator = fitted.estimator
        meta.update(kind="sklearn", task=fitted.task.value, estimator=type(estimator).__name__,
                    details=_jsonable(fitted.details), adapter=_adapter_fields(fitted))
        payload = lambda folder: skops.io.dump(estimator, folder / "estimator.skops")  # noqa: E731
    else:
        raise DataError(f"save_model: cannot save a {type(fitted).__name__}. Fix: save xgboost, linear or "
                        "scikit-learn model stages (or a fitted Preprocessor)")
    return _write_folder(pathlib.Path(path), meta, payload)


def load_model(path: str | os.PathLike, client: Client | None = None) -> FittedModel | Preprocessor:
    """Load a folder written by :func:`save_model` (or a ``model_sink`` stage).

    The model is scattered once to ``client``'s workers (default: the current client); with no
    client at all it is embedded in each prediction graph instead.

    Raises
    ------
    DataError
        Not a saved model, or a scikit-learn file holding types outside scikit-learn/NumPy.
    """
    path = pathlib.Path(path)
    meta_file = path / "model.json"
    if not meta_file.exists():
        raise DataError(f"load_model: {str(path)!r} is not a saved model (no model.json). "
                        "Fix: point at a folder written by a model_sink stage or daskcollab.save_model")
    meta = json.loads(meta_file.read_text())
    if meta["kind"] == "preprocess":
        return Preprocessor.from_dict(meta)
    task = Task(meta["task"])
    client = default_client(client)
    if meta["kind"] == "xgboost":
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(path / "booster.ubj"))
        booster.set_param({"nthread": 1})
        return XGBoostFitted(task, booster, scatter_estimator(client, booster), meta["params"])
    if meta["kind"] == "linear":
        return LinearFitted(task, np.asarray(meta["coef"], dtype=np.float64), float(meta["intercept"]), None)
    estimator = _load_trusted(path / "estimator.skops")
    adapter = dict(meta.get("adapter") or {})
    cls = _ADAPTERS.get(adapter.pop("type", None), SklearnFitted)
    if "classes" in adapter:
        adapter["classes"] = tuple(adapter["classes"])
    return cls(task, estimator, scatter_estimator(client, estimator), meta.get("details", {}), **adapter)


def _adapter_fields(fitted: SklearnFitted) -> dict[str, Any]:
    """The fields an adapter adds to :class:`SklearnFitted`, plus its ``type`` (JSON-ready)."""
    adapter_type = next((name for name, cls in _ADAPTERS.items() if type(fitted) is cls), None)
    if adapter_type is None:
        return {}
    base = {f.name for f in fields(SklearnFitted)}
    return {"type": adapter_type, **_jsonable({f.name: getattr(fitted, f.name) for f in fields(fitted)
                                               if f.name not in base})}


def _load_trusted(file: pathlib.Path) -> Any:
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=file)
    refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if refused:
        raise DataError(f"load_model: {str(file)!r} contains types outside scikit-learn/NumPy: {refused!r}. "
                        "Fix: load it yourself with skops.io.load(..., trusted=[...]) if you trust the file")
    return skops.io.load(file, trusted=untrusted)


def _write_folder(path: pathlib.Path, meta: dict[str, Any], payload: Callable[[pathlib.Path], None] | None) -> str:
    """Write ``model.json`` (and the payload) into a temporary folder, then swap it in for ``path``."""
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        if payload is not None:
            payload(tmp)
        (tmp / "model.json").write_text(json.dumps(meta, indent=2))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return str(path)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
