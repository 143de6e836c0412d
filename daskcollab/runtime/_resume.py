"""Resume: reuse the finished stages of an earlier run of the same workflow after a crash.

Every stage gets a *key*: a SHA-256 over the daskcollab version, the stage's type and parameters,
the keys of its input stages, a content hash of every file it reads (:func:`fingerprint`: the
bytes of every chunk of a source Zarr store), and the configuration that changes what a stage
computes (``collab.xgboost``). Same key, same result.

Two kinds of stage are kept, both in a safe format (nothing pickled, nothing that runs code):

- model stages (xgboost, linear, scikit-learn adapters): the fitted model, saved with
  :func:`daskcollab.models.save_model` in ``<cache>/<workflow>/<stage>-<key>``; a reused stage loads
  it (:func:`daskcollab.models.load_model`) and predicts again, like a ``saved_model`` stage;
- sinks: the store they wrote, recorded with its content hash; a reused sink leaves the store
  as it is when its content is still the one recorded.

Other stages (sources, preprocessing, blends, evaluation) are cheap next to training, or depend
on predictions rather than on files, and run again. When they run (``collab.resume.mode``):
``after-failure`` (default) reuses stages only when the previous run of the workflow did not
finish (its client crashed, or it failed), ``always`` whenever the keys match, ``off`` never
(and writes nothing). ``daskcollab.run(..., recompute=True)`` recomputes every stage and
refreshes what is kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import time
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from daskcollab import _config
from daskcollab._errors import WorkflowError
from daskcollab._types import RunStatus

logger = logging.getLogger("daskcollab")

_STATE_FILE = "last-run.json"
_HASH_BLOCK = 1 << 20


class ResumeMode(str, Enum):
    """When finished stages of an earlier run are reused (config ``collab.resume.mode``)."""

    AFTER_FAILURE = "after-failure"
    ALWAYS = "always"
    OFF = "off"


# ---- keys (pure, over files and stage declarations) --------------------------------------------
def fingerprint(path: str | os.PathLike) -> str:
    """A content hash of the file or folder ``path`` (relative names and bytes of every file).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = pathlib.Path(d, "a").write_bytes(b"x")
    >>> fingerprint(d) == fingerprint(d), fingerprint(d) == fingerprint(d + "/missing")
    (True, False)
    """
    root = pathlib.Path(path)
    digest = hashlib.sha256()
    if not root.exists():
        digest.update(b"missing")
        return digest.hexdigest()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(root) if file != root else file.name).encode() + b"\0")
        with file.open("rb") as f:
            while block := f.read(_HASH_BLOCK):
                digest.update(block)
        digest.update(b"\1")
    return digest.hexdigest()


def stage_key(stage: Any, memo: dict[int, str] | None = None) -> str:
    """The key of ``stage`` (see the module docstring); ``memo`` caches keys by stage identity."""
    from daskcollab import __version__
    from daskcollab.workflow import Access, Stage

    memo = {} if memo is None else memo
    if id(stage) in memo:
        return memo[id(stage)]

    def canonical(value: Any) -> Any:
        if isinstance(value, Stage):
            return {"stage": stage_key(value, memo)}
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, Mapping):
            return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {type(value).__name__: canonical({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})}
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return repr(value)

    params = {f.name: canonical(getattr(stage, f.name)) for f in dataclasses.fields(stage)
              if f.name not in ("retries", "priority")}  # how a stage is scheduled, not what it computes
    reads = {use.field: fingerprint(use.path) for use in stage.paths() if use.access is Access.READ}
    text = json.dumps({"daskcollab": __version__, "type": type(stage).__name__, "params": params, "reads": reads,
                       "xgboost": canonical(dict(_config.get("xgboost")))}, sort_keys=True, default=repr)
    memo[id(stage)] = key = hashlib.sha256(text.encode()).hexdigest()[:32]
    return key


# ---- the store of one workflow's kept stages ---------------------------------------------------
def cache_root() -> pathlib.Path:
    """``collab.resume.path``, else ``$XDG_CACHE_HOME/daskcollab/runs`` (``~/.cache`` by default)."""
    configured = _config.get("resume.path")
    if configured:
        return pathlib.Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "daskcollab" / "runs"


class ResumeStore:
    """Kept stages of one workflow; :meth:`begin` and :meth:`finish` bracket a run.

    Parameters
    ----------
    workflow
        The workflow's name (its folder under :func:`cache_root`).
    mode
        A :class:`ResumeMode` (default: config ``collab.resume.mode``).
    recompute
        Reuse nothing (kept stages are still refreshed, unless ``mode`` is ``off``).
    """

    def __init__(self, workflow: str, mode: ResumeMode | str | None = None, *, recompute: bool = False) -> None:
        value = _config.get("resume.mode", mode)
        try:
            self.mode = ResumeMode(value)
        except ValueError:
            raise WorkflowError(f"config, field 'collab.resume.mode': expected one of "
                                f"{[m.value for m in ResumeMode]!r}, got {value!r}. Fix: collab.resume.mode: after-failure"
                                ) from None
        self.folder = cache_root() / _safe(workflow)
        self.recompute = recompute
        self.reusing = False
        self._keys: dict[int, str] = {}

    @property
    def enabled(self) -> bool:
        return self.mode is not ResumeMode.OFF

    def begin(self, run_id: str) -> None:
        """Decide whether this run reuses stages, and record that a run of the workflow started."""
        if not self.enabled:
            return
        previous = _read_json(self.folder / _STATE_FILE)
        unfinished = isinstance(previous, dict) and previous.get("status") != RunStatus.DONE
        self.reusing = not self.recompute and (self.mode is ResumeMode.ALWAYS or unfinished)
        self._write_state({"run_id": run_id, "status": RunStatus.RUNNING.value, "started_at": time.time()})

    def finish(self, status: str) -> None:
        if self.enabled:
            state = _read_json(self.folder / _STATE_FILE)
            self._write_state({**(state if isinstance(state, dict) else {}), "status": status,
                               "finished_at": time.time()})

    def key(self, stage: Any) -> str:
        return stage_key(stage, self._keys)

    @staticmethod
    def keeps(stage: Any) -> bool:
        """True for the stages whose results are kept: trained models and sinks."""
        from daskcollab.workflow import ModelStage, ZarrSink

        return isinstance(stage, (ModelStage, ZarrSink))

    # -- reuse ------------------------------------------------------------------------------------
    def reuse(self, stage: Any, ctx: Any, inputs: Sequence[Any]) -> Any | None:
        """The output of ``stage`` rebuilt from what an earlier run kept, or None (run it)."""
        if not (self.reusing and self.keeps(stage)):
            return None
        from daskcollab.workflow import ZarrSink

        try:
            if isinstance(stage, ZarrSink):
                return self._reuse_sink(stage)
            return self._reuse_model(stage, ctx, inputs[0])
        except Exception as exc:  # a damaged cache entry is recomputed, never trusted
            logger.warning("stage %r: cannot reuse its kept result (%s: %s); running it again",
                           stage.name, type(exc).__name__, exc)
            return None

    def _reuse_model(self, stage: Any, ctx: Any, data: Any) -> Any | None:
        from daskcollab.models import load_model
        from daskcollab.workflow import Predictions

        folder = self._model_folder(stage)
        if not (folder / "model.json").is_file():
            return None
        fitted = load_model(folder, ctx.client)
        (pred,) = ctx.persist(fitted.predict(data.X))
        logger.info("stage %r: reused the model of an earlier run (%s)", stage.name, folder)
        return Predictions(fitted.task, pred, data, fitted, fitted.describe())

    def _reuse_sink(self, stage: Any) -> str | None:
        record = _read_json(self._sink_record(stage))
        path = os.fspath(stage.path)
        if not isinstance(record, dict) or record.get("key") != self.key(stage) or record.get("path") != path:
            return None
        if record.get("content") != fingerprint(path):
            return None  # changed (or gone) since it was written: write it again
        logger.info("stage %r: reused the store an earlier run wrote (%s)", stage.name, path)
        return path

    # -- keep -------------------------------------------------------------------------------------
    def keep(self, stage: Any, output: Any) -> None:
        """Keep a finished stage's result for later runs (models and sinks); never fails the run."""
        if not (self.enabled and self.keeps(stage)):
            return
        from daskcollab.workflow import ZarrSink

        try:
            if isinstance(stage, ZarrSink):
                _write_json(self._sink_record(stage), {"key": self.key(stage), "path": os.fspath(stage.path),
                                                      "content": fingerprint(output)})
            else:
                from daskcollab.models import save_model

                folder = self._model_folder(stage)
                folder.parent.mkdir(parents=True, exist_ok=True)
                save_model(output.fitted, folder)
        except Exception as exc:  # e.g. a model type without a safe file format
            logger.info("stage %r: its result is not kept for resume (%s: %s)", stage.name, type(exc).__name__, exc)

    def _model_folder(self, stage: Any) -> pathlib.Path:
        return self.folder / f"{_safe(stage.name)}-{self.key(stage)}"

    def _sink_record(self, stage: Any) -> pathlib.Path:
        return self.folder / f"{_safe(stage.name)}.sink.json"

    def _write_state(self, state: Mapping[str, Any]) -> None:
        try:
            _write_json(self.folder / _STATE_FILE, state)
        except OSError as exc:  # a read-only home: resume is off for this run
            logger.warning("resume: cannot write %s (%s); finished stages will not be reused", self.folder, exc)
            self.mode = ResumeMode.OFF


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))[:100] or "_"


def _read_json(path: pathlib.Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: pathlib.Path, value: Any) -> None:
    """Write ``value`` as JSON atomically (a temporary file renamed over ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)
