"""The YAML form of a workflow: a JSON schema, validation with YAML paths and lines, and loading.

A YAML workflow may use only the registered stage types below (no import paths). Stages
refer to each other by name (``data: source``, ``models: [xgb, linear]``); names are resolved
once at load time, and a typo, a forward reference or a cycle is an error naming the YAML path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jsonschema
import yaml

from daskcollab._errors import WorkflowFileError
from daskcollab.data._split import ChunkSplit, RowSplit
from daskcollab.workflow._data_stages import Standardize, ZarrSink, ZarrSource
from daskcollab.models._linear import LinearSolver
from daskcollab.workflow._ensemble_stages import Blend, BlendMethod, Evaluate, FitRows
from daskcollab.workflow._lifecycle_stages import ModelSink, SavedModel, UpdateModel
from daskcollab.workflow._model_stages import LinearModel, XGBoostModel
from daskcollab.workflow._sklearn_stages import IncrementalModel, PostFitModel, SearchModel
from daskcollab.workflow._stage import Stage
from daskcollab.workflow._workflow import Workflow

#: Stage types a YAML file may name.
STAGE_TYPES: dict[str, type[Stage]] = {
    cls.type_name: cls
    for cls in (ZarrSource, Standardize, XGBoostModel, LinearModel, IncrementalModel, PostFitModel, SearchModel,
                SavedModel, UpdateModel, Blend, Evaluate, ZarrSink, ModelSink)
}

_NUMBER = {"type": "number"}
_NAME = {"type": "string", "minLength": 1}
_NAMES = {"type": "array", "items": _NAME, "minItems": 1}
_TASK = {"enum": ["classification", "regression"]}
_PART = {"enum": ["train", "validation", "test"]}
_RANGE = {"type": "array", "prefixItems": [{"type": "integer"}, {"type": ["integer", "null"]}], "minItems": 2, "maxItems": 2}

_COMMON = {
    "name": _NAME,
    "type": {"enum": sorted(STAGE_TYPES)},
    "resources": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0}},
    "pool": _NAME,
    "priority": {"type": "integer"},
    "retries": {"type": "integer", "minimum": 0},
    "cost": {"type": "number", "minimum": 0},
}

#: Fields of each stage type beyond the common ones (JSON schema of each field).
_FIELDS: dict[str, dict[str, Any]] = {
    "zarr_source": {
        "path": {"type": "string", "minLength": 1},
        "features": _NAME,
        "labels": _NAME,
        "builder": _NAME,
        "builder_options": {"type": "object"},
        "persist": {"type": ["boolean", "null"]},
        "split": {
            "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
            "properties": {
                "rows": {"type": "object", "additionalProperties": False, "properties": {
                    "validation": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                    "test": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                    "seed": {"type": "integer"}}},
                "chunks": {"type": "object", "additionalProperties": False, "properties": {
                    "train": _RANGE, "validation": {"anyOf": [_RANGE, {"type": "null"}]},
                    "test": {"anyOf": [_RANGE, {"type": "null"}]}}},
            },
        },
    },
    "standardize": {"data": _NAME, "impute": {"enum": ["mean", "median", "constant"]}, "fill_value": _NUMBER},
    "xgboost": {"data": _NAME, "task": _TASK, "params": {"type": "object"},
                "rounds": {"type": "integer", "minimum": 1}, "device": {"enum": ["cpu", "cuda"]},
                "max_train_rows": {"type": "integer", "minimum": 1}},
    "linear": {"data": _NAME, "task": _TASK, "C": {"type": "number", "exclusiveMinimum": 0},
               "max_iter": {"type": "integer", "minimum": 1}, "max_train_rows": {"type": "integer", "minimum": 1},
               "solver": {"enum": [s.value for s in LinearSolver]}},
    "incremental": {"data": _NAME, "task": _TASK, "estimator": _NAME, "params": {"type": "object"},
                    "passes": {"type": "integer", "minimum": 1}, "max_train_rows": {"type": "integer", "minimum": 1}},
    "post_fit": {"data": _NAME, "task": _TASK, "estimator": _NAME, "params": {"type": "object"},
                 "max_train_rows": {"type": ["integer", "null"], "minimum": 1}},
    "search": {"data": _NAME, "task": _TASK, "estimator": _NAME,
               "grid": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "array", "minItems": 1}},
               "method": {"enum": ["grid", "random"]}, "n_iter": {"type": "integer", "minimum": 1},
               "cv": {"type": "integer", "minimum": 2}, "max_train_rows": {"type": ["integer", "null"], "minimum": 1}},
    "saved_model": {"data": _NAME, "path": {"type": "string", "minLength": 1}},
    "update": {"model": _NAME, "data": _NAME, "rounds": {"type": "integer", "minimum": 1},
               "passes": {"type": "integer", "minimum": 1}},
    "model_sink": {"models": _NAMES, "path": {"type": "string", "minLength": 1}},
    "blend": {"models": _NAMES, "method": {"enum": [m.value for m in BlendMethod]},
              "folds": {"type": "integer", "minimum": 2},
              "local_fold_fraction": {"type": "number", "minimum": 0, "maximum": 1},
              "fit_rows": {"enum": [r.value for r in FitRows]}, "ensemble_size": {"type": "integer", "minimum": 1},
              "bags": {"type": "integer", "minimum": 0}},
    "evaluate": {"models": _NAMES, "part": _PART},
    "zarr_sink": {"models": _NAMES, "path": {"type": "string", "minLength": 1},
                  "part": {"enum": ["all", "train", "validation", "test"]}, "overwrite": {"type": "boolean"}},
}
_REQUIRED = {"zarr_source": ["path"], "standardize": ["data"], "xgboost": ["data"], "linear": ["data"],
             "incremental": ["data"], "post_fit": ["data"], "search": ["data", "grid"],
             "saved_model": ["data", "path"], "update": ["model", "data"], "model_sink": ["models", "path"],
             "blend": ["models"], "evaluate": ["models"], "zarr_sink": ["models", "path"]}
_REFERENCES = ("data", "models", "model")


def workflow_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of a YAML workflow file."""
    by_type = [
        {
            "if": {"properties": {"type": {"const": t}}, "required": ["type"]},
            "then": {
                "properties": {**_COMMON, **fields},
                "required": ["type", *_REQUIRED[t]],
                "additionalProperties": False,
            },
        }
        for t, fields in _FIELDS.items()
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "daskcollab workflow",
        "type": "object",
        "required": ["name", "stages"],
        "additionalProperties": False,
        "properties": {
            "name": _NAME,
            "description": {"type": "string"},
            "budget": {"type": "number", "exclusiveMinimum": 0},
            "deadline": {"type": "number", "exclusiveMinimum": 0},
            "stages": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "required": ["type"], "properties": {"type": _COMMON["type"]},
                          "allOf": by_type},
            },
        },
    }


def load_workflow(path: str | os.PathLike) -> Workflow:
    """Load, validate and build the workflow described by a YAML file.

    Raises
    ------
    WorkflowFileError
        With the YAML path (``stages[2].rounds``) and line of every problem found.

    Examples
    --------
    >>> wf = load_workflow("workflows/flights-delay.yaml")  # doctest: +SKIP
    """
    path = os.fspath(path)
    try:
        with open(path) as f:
            text = f.read()
        doc = yaml.safe_load(text)
        root = yaml.compose(text)
    except OSError as exc:
        raise WorkflowFileError(f"{path}: cannot read the workflow file ({exc}). Fix: check the path") from exc
    except yaml.YAMLError as exc:
        raise WorkflowFileError(f"{path}: not valid YAML: {exc}. Fix: correct the YAML syntax") from exc
    return workflow_from_dict(doc, source=path, root=root)


def workflow_from_dict(doc: Any, *, source: str = "<dict>", root: yaml.Node | None = None) -> Workflow:
    """Build a workflow from its parsed YAML/JSON form (see :func:`workflow_schema`)."""
    validator = jsonschema.Draft202012Validator(workflow_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    errors = [e for e in errors if e.validator not in ("allOf", "if")]
    if errors:
        lines = [_describe(e, root) for e in errors[:5]]
        more = f"\n  ... and {len(errors) - 5} more" if len(errors) > 5 else ""
        raise WorkflowFileError(f"{source}: invalid workflow:\n  " + "\n  ".join(lines) + more)
    stages: dict[str, Stage] = {}
    for i, spec in enumerate(doc["stages"]):
        name = spec.get("name", spec["type"])
        if name in stages:
            _fail(source, root, ["stages", i, "name"], f"two stages are named {name!r}", "give each stage a unique name")
        kwargs = {k: v for k, v in spec.items() if k != "type"}
        for field in _REFERENCES:
            if field in kwargs:
                kwargs[field] = _resolve(kwargs[field], stages, source, root, ["stages", i, field], doc)
        if "split" in kwargs:
            kwargs["split"] = _split(kwargs["split"])
        stages[name] = STAGE_TYPES[spec["type"]](**kwargs)
    try:
        return Workflow(doc["name"], list(stages.values()), budget=doc.get("budget"), deadline=doc.get("deadline"))
    except WorkflowFileError:
        raise
    except Exception as exc:
        from daskcollab._errors import DaskCollabError

        if isinstance(exc, DaskCollabError):
            raise WorkflowFileError(f"{source}: {exc}") from exc
        raise


def _resolve(value: Any, stages: Mapping[str, Stage], source: str, root, path: list, doc) -> Any:
    names = value if isinstance(value, list) else [value]
    resolved = []
    all_names = [s.get("name", s["type"]) for s in doc["stages"]]
    for j, name in enumerate(names):
        item_path = path + [j] if isinstance(value, list) else path
        if name not in stages:
            if name in all_names:
                problem = (f"stage {name!r} is defined later in the file (or the stages form a cycle); "
                           "a stage may only read stages defined before it")
                fix = f"move stage {name!r} above this one"
            else:
                problem = f"no stage named {name!r} (stages so far: {list(stages)!r})"
                fix = "use the name of a stage defined above"
            _fail(source, root, item_path, problem, fix)
        resolved.append(stages[name])
    return resolved if isinstance(value, list) else resolved[0]


def _split(spec: Mapping[str, Any]):
    if "rows" in spec:
        return RowSplit(**spec["rows"])
    return ChunkSplit(**{k: (tuple(v) if v is not None else None) for k, v in spec["chunks"].items()})


def _fail(source: str, root, path: list, problem: str, fix: str) -> None:
    raise WorkflowFileError(f"{source}: {_yaml_path(path)}{_line(root, path)}: {problem}. Fix: {fix}")


def _describe(error: jsonschema.ValidationError, root) -> str:
    path = list(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties":
        message += " (unknown field; check its spelling against the stage type's fields)"
    elif error.validator == "enum" and path and path[-1] == "type":
        message = f"unknown stage type {error.instance!r}; registered types: {sorted(STAGE_TYPES)!r}"
    return f"{_yaml_path(path) or '<top>'}{_line(root, path)}: {message}"


def _yaml_path(path: list) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(root, path: list) -> str:
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            break
    return f" (line {node.start_mark.line + 1})" if node is not None else ""
