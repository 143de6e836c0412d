"""Model files for every adapter, in safe formats (no arbitrary pickle).

Builds on :mod:`daskcollab.models._files` (one folder per model, ``model.json`` plus one
payload) and adds what the adapters need:

- xgboost: ``booster.ubj`` (xgboost's UBJSON) + ``model.json`` (task, kind, parameters);
- linear models: coefficients and intercept in ``model.json``;
- scikit-learn adapters (incremental, post-fit, search winners): ``estimator.skops``
  (``skops.io``: rebuilds objects from a description, loading only types from scikit-learn and
  NumPy), with the adapter's fields (name, classes, passes, ...) in ``model.json``;
- preprocessing: the per-feature statistics in ``model.json``.

Estimators from other libraries inside a scikit-learn adapter (``"xgboost_sklearn"``) are
refused at load time by the trust check; save the booster with ``train_xgboost`` instead.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import uuid
from dataclasses import fields
from typing import Any

from distributed import Client

from daskcollab._errors import DataError
from daskcollab.models import _files
from daskcollab.models._fitted import FittedModel, Task
from daskcollab.models._incremental import IncrementalFitted
from daskcollab.models._postfit import PostFitFitted, default_client
from daskcollab.models._preprocess import Preprocessor
from daskcollab.models._search import SearchResult
from daskcollab.models._sklearn import SklearnFitted

_ADAPTER_KEY = "daskcollab_adapter"


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
    if isinstance(fitted, Preprocessor):
        return _save_json(path, {"format": _files.FORMAT_VERSION, "kind": "preprocess", **fitted.to_dict()})
    if isinstance(fitted, (IncrementalFitted, PostFitFitted)):
        base = {f.name for f in fields(SklearnFitted)}
        adapter = {f.name: getattr(fitted, f.name) for f in fields(fitted) if f.name not in base}
        adapter["type"] = "incremental" if isinstance(fitted, IncrementalFitted) else "post_fit"
        if "classes" in adapter:
            adapter["classes"] = [v.item() if hasattr(v, "item") else v for v in adapter["classes"]]
        fitted = SklearnFitted(fitted.task, fitted.estimator, None, {**dict(fitted.details), _ADAPTER_KEY: adapter})
    return _files.save_model(fitted, path)


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
                        "Fix: point at a folder written by daskcollab's save_model or a model_sink stage")
    meta = json.loads(meta_file.read_text())
    if meta.get("kind") == "preprocess":
        return Preprocessor.from_dict(meta)
    fitted = _files.load_model(path, default_client(client) or _NoCluster())
    if isinstance(fitted, SklearnFitted) and _ADAPTER_KEY in fitted.details:
        details = dict(fitted.details)
        adapter = dict(details.pop(_ADAPTER_KEY))
        cls = IncrementalFitted if adapter.pop("type") == "incremental" else PostFitFitted
        if "classes" in adapter:
            adapter["classes"] = tuple(adapter["classes"])
        return cls(Task(fitted.task), fitted.estimator, fitted.estimator_future, details, **adapter)
    return fitted


class _NoCluster:
    """Stands in for a client when there is none: "scattering" returns the objects themselves."""

    def scatter(self, data: list, **_: Any) -> list:
        return list(data)


def _save_json(path: str | os.PathLike, meta: dict[str, Any]) -> str:
    path = pathlib.Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        (tmp / "model.json").write_text(json.dumps(meta, indent=2))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return str(path)
