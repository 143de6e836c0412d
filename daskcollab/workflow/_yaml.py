"""The YAML form of a workflow: a JSON schema, validation with YAML paths and lines, and loading.

A YAML workflow may use only registered stage types (:data:`STAGE_TYPES`; no import paths).
Stages refer to each other by name (``data: source``, ``models: [xgb, linear]``); names are
resolved once at load time, and a typo, a forward reference or a cycle is an error naming the
YAML path. The schema of each stage type is generated from the stage class' declarations
(:func:`~daskcollab.workflow._stage.stage_schema`), and the stages' own checks run on the loaded
objects; both kinds of error name the YAML path and line.

The file itself is read defensively: ``yaml.safe_load`` semantics (no Python objects), a key
given twice in one mapping is an error (YAML would silently keep the last), and anchors and
aliases may add at most :data:`MAX_ALIAS_NODES` nodes to the document, so a file whose aliases
expand exponentially ("billion laughs") is refused at once instead of hanging validation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import jsonschema
import yaml

from daskcollab._errors import DaskCollabError, WorkflowFileError
from daskcollab.workflow._stage import STAGE_TYPES, Edge, Stage, declared_fields, stage_schema
from daskcollab.workflow._workflow import Workflow

#: Anchors and aliases may add at most this many nodes to a document once expanded.
MAX_ALIAS_NODES = 10_000

_NAME = {"type": "string", "minLength": 1}
_MERGE_TAG = "tag:yaml.org,2002:merge"

__all__ = ["MAX_ALIAS_NODES", "STAGE_TYPES", "load_workflow", "parse_yaml", "workflow_from_dict", "workflow_schema"]


def workflow_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of a YAML workflow file, generated from the registered
    stage classes' declarations."""
    types = {"enum": sorted(STAGE_TYPES)}
    by_type = []
    for type_name, cls in sorted(STAGE_TYPES.items()):
        schema = stage_schema(cls)
        by_type.append({
            "if": {"properties": {"type": {"const": type_name}}, "required": ["type"]},
            "then": {**schema, "properties": {"type": types, **schema["properties"]},
                     "required": ["type", *schema["required"]]},
        })
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
                "items": {"type": "object", "required": ["type"], "properties": {"type": types}, "allOf": by_type},
            },
        },
    }


def load_workflow(path: str | os.PathLike) -> Workflow:
    """Load, validate and build the workflow described by a YAML file.

    Raises
    ------
    WorkflowFileError
        With the YAML path (``stages[2].rounds``) and line of every problem found; also for a
        duplicate key or aliases that expand beyond :data:`MAX_ALIAS_NODES` nodes.

    Examples
    --------
    >>> wf = load_workflow("workflows/flights-delay.yaml")  # doctest: +SKIP
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise WorkflowFileError(f"{path}: cannot read the workflow file ({exc}). Fix: check the path") from exc
    except UnicodeDecodeError as exc:
        raise WorkflowFileError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}). Fix: save the workflow "
                                "file as UTF-8") from exc
    doc, root = parse_yaml(text, source=path)
    return workflow_from_dict(doc, source=path, root=root)


def parse_yaml(text: str, *, source: str = "<yaml>") -> tuple[Any, yaml.Node | None]:
    """``(document, node tree)`` of one YAML document, read safely (see the module docstring).

    Raises
    ------
    WorkflowFileError
        Not valid YAML, nested too deeply, a duplicate key, or aliases that expand too far.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise WorkflowFileError(f"{source}: not valid YAML: {exc}. Fix: correct the YAML syntax") from exc
    except RecursionError as exc:
        raise WorkflowFileError(f"{source}: the YAML is nested too deeply to read. Fix: flatten it") from exc
    if root is None:
        return None, None
    _check_aliases(root, source)
    _check_duplicate_keys(root, source)
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(root), root
    except yaml.YAMLError as exc:
        raise WorkflowFileError(f"{source}: not valid YAML: {exc}. Fix: correct the YAML syntax") from exc
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_aliases(root: yaml.Node, source: str) -> None:
    """Refuse aliases that expand the document by more than :data:`MAX_ALIAS_NODES` nodes, and
    recursive ones. The composer shares an anchored node among its aliases, so the expanded size
    is counted once per distinct node (nothing is expanded here)."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    shared: yaml.Node | None = None  # the first node reached twice (an anchored node)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            visiting.discard(key)
            continue
        if key in sizes:
            shared = shared or node
            continue
        if key in visiting:  # reached again below itself: an alias inside its own anchor
            raise WorkflowFileError(f"{source}: line {node.start_mark.line + 1}: a recursive YAML alias (an anchor "
                                    "used inside itself). Fix: remove the alias")
        visiting.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node))
    expanded = sizes[id(root)]
    if expanded - len(sizes) > MAX_ALIAS_NODES:
        line = (shared or root).start_mark.line + 1
        raise WorkflowFileError(
            f"{source}: line {line}: YAML aliases expand this document to {expanded:,} nodes, {expanded - len(sizes):,} "
            f"more than the file holds (at most {MAX_ALIAS_NODES:,} are allowed); nothing was validated. Fix: write "
            "the values out, or use fewer nested aliases"
        )


def _check_duplicate_keys(root: yaml.Node, source: str) -> None:
    """Refuse a key given twice in one mapping (``<<`` merge keys aside), naming key and lines."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, list]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG:
                    earlier = first.setdefault((key.tag, key.value), key)
                    if earlier is not key:
                        where = _yaml_path(path) or "<top>"
                        raise WorkflowFileError(
                            f"{source}: {where} (line {key.start_mark.line + 1}): duplicate key {key.value!r} (first "
                            f"given on line {earlier.start_mark.line + 1}); YAML would silently keep the last one. "
                            "Fix: remove one of them"
                        )
                stack.append((value, path + [key.value if isinstance(key, yaml.ScalarNode) else "?"]))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, path + [i]) for i, item in enumerate(node.value))


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
        cls = STAGE_TYPES[spec["type"]]
        declared = {d.name: d for d in declared_fields(cls)}
        kwargs = {}
        for key, value in spec.items():
            if key == "type":
                continue
            if isinstance(declared[key], Edge):
                kwargs[key] = None if value is None else _resolve(value, stages, source, root, ["stages", i, key], doc)
            else:
                kwargs[key] = declared[key].constraint.from_yaml(value)
        stages[name] = cls(**kwargs)
    try:
        return Workflow(doc["name"], list(stages.values()), budget=doc.get("budget"), deadline=doc.get("deadline"))
    except WorkflowFileError:
        raise
    except DaskCollabError as exc:
        raise WorkflowFileError(f"{source}: {_locate(str(exc), doc, root)}{exc}") from exc


_WHERE = re.compile(r"^(?:stage (?P<q>['\"])(?P<stage>.*?)(?P=q)|workflow (?P<wq>['\"]).*?(?P=wq))"
                    r", field (?P<fq>['\"])(?P<field>.*?)(?P=fq)")


def _locate(message: str, doc: Any, root) -> str:
    """``'stages[1].params.eta (line 7): '`` for a stage's or the workflow's own check, from the
    house message format (``stage 'xgb', field 'params.eta': ...``, see ``stage_message``)."""
    match = _WHERE.match(message)
    if match is None:
        return ""
    parts: list = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", match.group("field"))]
    if match.group("stage") is not None:
        names = [s.get("name", s["type"]) for s in doc["stages"]]
        if match.group("stage") not in names:
            return ""
        parts = ["stages", names.index(match.group("stage")), *parts]
    while parts and _node(root, parts) is None and root is not None:
        parts = parts[:-1]  # the deepest part the file spells out (a default is not in the file)
    return f"{_yaml_path(parts)}{_line(root, parts)}: " if parts else ""


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


def _node(root, path: list):
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
    return node


def _line(root, path: list) -> str:
    node = _node(root, path)
    return f" (line {node.start_mark.line + 1})" if node is not None else ""
