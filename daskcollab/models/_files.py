"""Model files in safe formats: no arbitrary pickle.

A saved model is a folder with ``model.json`` (kind, task, parameters) and at most one payload:

- xgboost: ``booster.ubj`` (xgboost's own UBJSON format);
- dask-ml linear models: coefficients and intercept inside ``model.json``;
- scikit-learn adapters (incremental, post-fit, search winners): ``estimator.skops`` (the
  ``skops.io`` format, which rebuilds objects without executing pickled code), with the adapter's
  fields (name, classes, passes, ...) in ``model.json``. Loading trusts exactly the types
  daskcollab's registered estimators contain (``models/_trusted.py``: an explicit list of fully
  qualified names, checked over the file's whole object tree before skops constructs anything), so
  a crafted file cannot run code, and an estimator from another library (``post_fit`` with
  ``estimator="xgboost"``) is refused at load time: save an ``xgboost`` stage's booster instead;
- fitted preprocessing: the per-feature statistics inside ``model.json``.

``model.json`` is read as plain JSON and checked field by field; nothing read from a model file
is imported or called.
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
from daskcollab.data._atomic import OutputKind, check_replaceable, swap_into_place
from daskcollab.models._fitted import FittedModel, Task
from daskcollab.models._incremental import IncrementalFitted
from daskcollab.models._linear import LinearFitted
from daskcollab.models._postfit import PostFitFitted
from daskcollab.models._preprocess import Preprocessor
from daskcollab.models._search import SearchResult
from daskcollab.models._trusted import TRUSTED_TYPES, audit_skops_file, check_loaded_structure
from daskcollab.models._sklearn_fitted import SklearnFitted, default_client, scatter_estimator
from daskcollab.models._xgboost import XGBoostFitted

FORMAT_VERSION = 1
#: scikit-learn adapters by the ``adapter.type`` a file records (none: a plain :class:`SklearnFitted`).
_ADAPTERS: dict[str, type[SklearnFitted]] = {"incremental": IncrementalFitted, "post_fit": PostFitFitted}


def save_model(fitted: FittedModel | SearchResult | Preprocessor, path: str | os.PathLike) -> str:
    """Write a model (or a fitted :class:`Preprocessor`) to the folder ``path``; return the path.

    An existing folder is replaced atomically, and only if it is a saved model (``model.json``):
    any other existing path is refused with a :class:`DataError`. A :class:`SearchResult` is saved as its best model.

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
        meta.update(kind="linear", task=fitted.task.value, coef=np.asarray(fitted.coef).tolist(),
                    intercept=np.asarray(fitted.intercept).tolist())
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
        Not a saved model, a malformed ``model.json``, an unreadable booster, or a scikit-learn
        file naming any type outside :data:`~daskcollab.models._trusted.TRUSTED_TYPES` (nothing
        from such a file is constructed or called).
    """
    path = pathlib.Path(path)
    meta = read_model_meta(path)
    if meta["kind"] == "preprocess":
        return Preprocessor.from_dict(meta)
    task = Task(meta["task"])
    client = default_client(client)
    if meta["kind"] == "xgboost":
        booster = _load_booster(path / "booster.ubj")
        return XGBoostFitted(task, booster, scatter_estimator(client, booster), meta["params"])
    if meta["kind"] == "linear":
        intercept = np.asarray(meta["intercept"], dtype=np.float64)
        return LinearFitted(task, np.asarray(meta["coef"], dtype=np.float64),
                            float(intercept) if intercept.ndim == 0 else intercept, None)
    estimator = _load_trusted(path / "estimator.skops")
    if not isinstance(meta.get("adapter") or {}, dict):
        _bad_meta(path, "adapter", f"expected a mapping, got {meta['adapter']!r}")
    adapter = dict(meta.get("adapter") or {})
    cls = _ADAPTERS.get(adapter.pop("type", None), SklearnFitted)
    unknown = sorted(set(adapter) - ({f.name for f in fields(cls)} - {f.name for f in fields(SklearnFitted)}))
    if unknown:
        _bad_meta(path, "adapter", f"unknown adapter fields {unknown!r}")
    if "classes" in adapter:
        adapter["classes"] = tuple(adapter["classes"])
    return cls(task, estimator, scatter_estimator(client, estimator), meta.get("details", {}), **adapter)


#: What ``model.json`` must hold per ``kind`` (JSON types), besides ``format`` and ``kind``.
_META_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "preprocess": {},
    "xgboost": {"task": (str,), "params": (dict,)},
    "linear": {"task": (str,), "coef": (list,), "intercept": (int, float)},
    "sklearn": {"task": (str,)},
}


def read_model_meta(path: pathlib.Path) -> dict[str, Any]:
    """``model.json`` of a saved model as checked plain data (kind, task and the kind's fields)."""
    meta_file = path / "model.json"
    if not meta_file.is_file():
        raise DataError(f"load_model: {str(path)!r} is not a saved model (no model.json). "
                        "Fix: point at a folder written by a model_sink stage or daskcollab.save_model")
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"load_model: {str(meta_file)!r} is not valid JSON ({exc}). "
                        "Fix: save the model again with daskcollab.save_model or a model_sink stage") from exc
    if not isinstance(meta, dict) or meta.get("kind") not in _META_FIELDS:
        kind = meta.get("kind") if isinstance(meta, dict) else meta
        _bad_meta(path, "kind", f"expected one of {sorted(_META_FIELDS)!r}, got {kind!r}")
    if meta.get("format") != FORMAT_VERSION:
        _bad_meta(path, "format", f"expected format {FORMAT_VERSION}, got {meta.get('format')!r}")
    for name, types in _META_FIELDS[meta["kind"]].items():
        if not isinstance(meta.get(name), types) or isinstance(meta.get(name), bool):
            _bad_meta(path, name, f"expected a {' or '.join(t.__name__ for t in types)}, got {meta.get(name)!r}")
    if "task" in meta and meta["task"] not in {t.value for t in Task}:
        _bad_meta(path, "task", f"expected one of {[t.value for t in Task]!r}, got {meta['task']!r}")
    return meta


def _bad_meta(path: pathlib.Path, field: str, problem: str) -> None:
    raise DataError(f"load_model: {str(path / 'model.json')!r}, field {field!r}: {problem}. "
                    "Fix: save the model again with daskcollab.save_model or a model_sink stage")


def _load_booster(file: pathlib.Path) -> Any:
    """An xgboost booster from its UBJSON file (xgboost parses data; it runs no code from the file)."""
    import xgboost

    booster = xgboost.Booster()
    try:
        booster.load_model(str(file))
    except xgboost.core.XGBoostError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"load_model: {str(file)!r} is not a readable xgboost model ({first}). "
                        "Fix: save the model again with daskcollab.save_model or a model_sink stage") from exc
    booster.set_param({"nthread": 1})
    return booster


def _adapter_fields(fitted: SklearnFitted) -> dict[str, Any]:
    """The fields an adapter adds to :class:`SklearnFitted`, plus its ``type`` (JSON-ready)."""
    adapter_type = next((name for name, cls in _ADAPTERS.items() if type(fitted) is cls), None)
    if adapter_type is None:
        return {}
    base = {f.name for f in fields(SklearnFitted)}
    return {"type": adapter_type, **_jsonable({f.name: getattr(fitted, f.name) for f in fields(fitted)
                                               if f.name not in base})}


def _load_trusted(file: pathlib.Path) -> Any:
    """The estimator in a skops file, after :func:`audit_skops_file` found only trusted types."""
    import skops.io

    used = audit_skops_file(file)
    # skops' own check as a second lock: what it reports untrusted must be on our list too
    refused = sorted(set(skops.io.get_untrusted_types(file=file)) - TRUSTED_TYPES)
    if refused:
        raise DataError(f"load_model: {str(file)!r} contains types daskcollab never writes: {refused!r}. "
                        "Nothing was loaded or run. Fix: load only model files written by daskcollab")
    estimator = skops.io.load(file, trusted=used)
    check_loaded_structure(estimator, file)
    return estimator


def _write_folder(path: pathlib.Path, meta: dict[str, Any], payload: Callable[[pathlib.Path], None] | None) -> str:
    """Write ``model.json`` (and the payload) into a temporary folder, then swap it in for ``path``."""
    check_replaceable(path, OutputKind.MODEL, f"save_model, path {str(path)!r}")
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        if payload is not None:
            payload(tmp)
        (tmp / "model.json").write_text(json.dumps(meta, indent=2))
        swap_into_place(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return str(path)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
