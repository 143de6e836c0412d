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

A model saved as a pipeline (:func:`save_pipeline`, what a ``model_sink`` stage writes) also
records in ``model.json`` the raw ``inputs`` it expects (feature names, count, stored dtype; an
xgboost booster carries the names too) and the fitted ``preprocess`` steps in front of it;
:func:`load_pipeline` returns the whole path from raw features to predictions.

``model.json`` is read as plain JSON and checked field by field; nothing read from a model file
is imported or called. Its ``digest`` (SHA-256 over ``model.json`` without the digest and every
payload file) is checked before anything is loaded, so a file changed after it was saved
(by hand, by a partial copy, by bit rot) is refused. The digest detects changes; it is not a
signature (whoever can write the folder can recompute it): what keeps a crafted file from
running code is the formats and the type audit above.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import shutil
import uuid
from collections.abc import Callable
from dataclasses import fields
from typing import Any, NoReturn

import numpy as np
from distributed import Client

from daskcollab._errors import DataError
from daskcollab._types import Impute
from daskcollab.data import OutputKind, check_replaceable, swap_into_place
from daskcollab.models._fitted import FittedModel, Task
from daskcollab.models._incremental import IncrementalFitted
from daskcollab.models._linear import LinearFitted
from daskcollab.models._pipeline import InputSpec, Pipeline
from daskcollab.models._postfit import PostFitFitted
from daskcollab.models._preprocess import Preprocessor
from daskcollab.models._search import SearchResult
from daskcollab.models._sklearn_fitted import SklearnFitted, default_client, scatter_estimator
from daskcollab.models._trusted import TRUSTED_TYPES, audit_skops_file, check_loaded_structure
from daskcollab.models._xgboost import XGBoostFitted

logger = logging.getLogger("daskcollab.models")

FORMAT_VERSION = 1
#: Files of a model folder (besides ``model.json``) a digest covers.
_PAYLOADS = ("booster.ubj", "estimator.skops")
#: scikit-learn adapters by the ``adapter.type`` a file records (none: a plain :class:`SklearnFitted`).
_ADAPTERS: dict[str, type[SklearnFitted]] = {"incremental": IncrementalFitted, "post_fit": PostFitFitted}


def save_model(fitted: FittedModel | SearchResult | Preprocessor, path: str | os.PathLike) -> str:
    """Write a model (or a fitted :class:`Preprocessor`) to the folder ``path``; return the path.

    The model alone expects the features it was trained on, preprocessed as they were: to save
    the path from raw features, use :func:`save_pipeline`.

    An existing folder is replaced atomically, and only if it is a saved model (``model.json``):
    any other existing path is refused with a :class:`DataError`. A :class:`SearchResult` is saved as its best model.

    Examples
    --------
    >>> save_model(fitted, "models/sgd")  # doctest: +SKIP
    'models/sgd'
    """
    return _save(fitted, path, None, ())


def save_pipeline(pipeline: Pipeline, path: str | os.PathLike) -> str:
    """Write a :class:`Pipeline` (model, preprocessing steps, expected inputs) to the folder
    ``path``; return the path. :func:`load_pipeline` reads it back.

    Examples
    --------
    >>> save_pipeline(Pipeline(fitted, (prep,), InputSpec(("a", "b"), "float32")), "models/logreg")  # doctest: +SKIP
    'models/logreg'
    """
    return _save(pipeline.model, path, pipeline.inputs, pipeline.steps)


def _save(fitted: Any, path: str | os.PathLike, inputs: InputSpec | None, steps: tuple[Preprocessor, ...]) -> str:
    if isinstance(fitted, SearchResult):
        fitted = fitted.model
    meta: dict[str, Any] = {"format": FORMAT_VERSION}
    payload: Callable[[pathlib.Path], None] | None = None
    if isinstance(fitted, Preprocessor):
        meta.update(kind="preprocess", **fitted.to_dict())
    elif isinstance(fitted, XGBoostFitted):
        booster = fitted.booster
        if inputs is not None:
            booster = booster.copy()  # the saved booster names its features; the live one is left alone
            booster.feature_names = list(inputs.feature_names)
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
    if inputs is not None:
        meta["inputs"] = inputs.to_dict()
    if steps:
        meta["preprocess"] = [step.to_dict() for step in steps]
    return _write_folder(pathlib.Path(path), meta, payload)


def load_pipeline(path: str | os.PathLike, client: Client | None = None) -> Pipeline:
    """Load a folder written by :func:`save_pipeline` or a ``model_sink`` stage as a
    :class:`Pipeline`: raw features in, predictions out. A folder saved with :func:`save_model`
    loads as a pipeline with no steps and unchecked inputs.

    Raises
    ------
    DataError
        As :func:`load_model`; also a ``preprocess`` or ``inputs`` entry that is malformed or does
        not fit the model (feature counts that disagree, booster feature names other than the
        recorded ones).
    """
    path = pathlib.Path(path)
    meta = read_model_meta(path)
    if meta["kind"] == "preprocess":
        raise DataError(f"load_pipeline: {str(path)!r} holds fitted preprocessing, not a model. Fix: point at a "
                        "folder a model_sink stage or save_pipeline wrote")
    model = _load(path, meta, client)
    steps = tuple(_step(path, i, d) for i, d in enumerate(meta.get("preprocess") or []))
    inputs = _inputs(path, meta, steps, model)
    return Pipeline(model, steps, inputs)


def _step(path: pathlib.Path, i: int, d: Any) -> Preprocessor:
    try:
        step = Preprocessor.from_dict(d)
        sizes = {len(a) for a in (step.fill, step.mean, step.scale) if a is not None}
        if len(sizes) > 1 or (step.mean is None) != (step.scale is None):
            raise ValueError(f"statistics of different lengths {sorted(sizes)!r}")
        return step
    except (TypeError, KeyError, ValueError) as exc:
        _bad_meta(path, f"preprocess[{i}]", f"not fitted preprocessing statistics ({exc})")


def _inputs(path: pathlib.Path, meta: dict[str, Any], steps: tuple[Preprocessor, ...], model: Any) -> InputSpec | None:
    raw = meta.get("inputs")
    if raw is None:
        return None
    try:
        inputs = InputSpec.from_dict(raw)
        if raw["n_features"] != inputs.n_features:
            raise ValueError(f"n_features {raw['n_features']!r} but {inputs.n_features} feature names")
    except (TypeError, KeyError, ValueError) as exc:
        _bad_meta(path, "inputs", f"expected feature_names, n_features and dtype ({exc})")
    for i, step in enumerate(steps):
        ref = step.fill if step.fill is not None else step.mean
        if ref is not None and len(ref) != inputs.n_features:
            _bad_meta(path, f"preprocess[{i}]", f"statistics for {len(ref)} features, inputs has {inputs.n_features}")
    if isinstance(model, XGBoostFitted) and model.booster.feature_names not in (None, list(inputs.feature_names)):
        _bad_meta(path, "inputs", "feature names differ from the ones booster.ubj records")
    return inputs



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
    if meta.get("preprocess"):
        logger.warning("load_model: %s was saved behind %d preprocessing step(s); the model alone expects "
                       "preprocessed features. Use daskcollab.load_pipeline to predict on raw features",
                       path, len(meta["preprocess"]))
    return _load(path, meta, client)


def _load(path: pathlib.Path, meta: dict[str, Any], client: Client | None) -> FittedModel:
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
    if meta["kind"] == "preprocess" and meta.get("impute") not in (None, *(m.value for m in Impute)):
        _bad_meta(path, "impute", f"expected one of {[m.value for m in Impute]!r} or null, got {meta['impute']!r}")
    if "digest" not in meta:
        logger.warning("load_model: %s has no digest (written before daskcollab recorded one), so changes "
                       "since it was saved cannot be detected", meta_file)
    elif meta["digest"] != _digest(path, meta):
        raise DataError(f"load_model: {str(path)!r} was changed after it was saved (its digest does not match "
                        "model.json and the payload files); nothing was loaded. Fix: save the model again, or "
                        "restore the folder as it was written")
    return meta


def _digest(folder: pathlib.Path, meta: dict[str, Any]) -> str:
    """SHA-256 over ``meta`` (without its digest, canonical JSON) and each payload file present."""
    h = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "digest"}, sort_keys=True).encode())
    for name in _PAYLOADS:
        file = folder / name
        if file.is_file():
            h.update(name.encode() + b"\0")
            with open(file, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return "sha256:" + h.hexdigest()


def _bad_meta(path: pathlib.Path, field: str, problem: str) -> NoReturn:
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
        meta = {**meta, "digest": _digest(tmp, meta)}
        (tmp / "model.json").write_text(json.dumps(meta, indent=2))
        swap_into_place(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return str(path)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
