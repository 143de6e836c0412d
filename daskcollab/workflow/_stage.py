"""The stage base class, the one registry of stage types, and what each stage declares.

Stages are declarations. The constructor stores parameters and nothing else (the
scikit-learn contract); :meth:`Stage.validate` checks them when a :class:`Workflow` is built,
and :meth:`Stage.run` does the work when the compiled workflow runs.

**A new stage is one class.** Subclass :class:`Stage` as a dataclass with a ``type_name`` and a
``kind``, and declare every field with :func:`~daskcollab.workflow._constraints.param` (a value
and its constraint) or :func:`~daskcollab.workflow._constraints.edge` (another stage)::

    @dataclass(eq=False)
    class Clip(Stage):
        data: Stage = edge(StageKind.SOURCE, StageKind.PREPROCESS)
        _: KW_ONLY
        limit: float = param(Number(min=0, exclusive_min=True), 3.0)

        kind: ClassVar[StageKind] = StageKind.PREPROCESS
        type_name: ClassVar[str] = "clip"

        def run(self, ctx, data): ...

Defining the class registers it (:data:`STAGE_TYPES`); the declarations then give its checks
(:meth:`Stage.validate`), its edges (:meth:`Stage.upstream`: the fields typed ``Stage`` or
``Sequence[Stage]``), its YAML schema (:func:`stage_schema`) and its YAML form (names resolved to
stages, values converted by their constraints). Checks that involve several fields or a library
(an estimator's parameter names) stay in an overridden :meth:`Stage.validate`.
"""

from __future__ import annotations

import collections.abc
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from daskcollab._context import StageContext
from daskcollab._errors import WorkflowError, stage_message
from daskcollab.workflow._constraints import DECLARATION, Constraint, Integer, Number, Table, Text, param

if TYPE_CHECKING:
    from daskcollab.workflow._paths import PathUse


class StageKind(str, Enum):
    """Where a stage sits in the data flow; carried as ``collab.kind`` on its tasks."""

    SOURCE = "source"
    PREPROCESS = "preprocess"
    MODEL = "model"
    ENSEMBLE = "ensemble"
    EVALUATE = "evaluate"
    SINK = "sink"


#: Every stage type by its ``type_name``: the names a YAML file may use. Filled when a stage
#: class is defined.
STAGE_TYPES: dict[str, type[Stage]] = {}


@dataclass(eq=False, kw_only=True)
class Stage:
    """Common fields of every stage (all keyword-only).

    Parameters
    ----------
    name
        Unique within the workflow; defaults to the stage type's name (e.g. ``"xgboost"``).
    resources
        Dask abstract resources each task needs, e.g. ``{"GPU": 1}`` or ``{"MEMORY": 4e9}``.
    pool
        Name of the worker pool the stage must run on (see :mod:`daskcollab.placement`).
    priority
        Dask task priority (higher runs first).
    retries
        How often Dask retries a failed task of the stage.
    cost
        Estimated work of the whole stage in seconds on a speed-1.0 worker (a planning hint).
    """

    name: str | None = param(Text(), None, nullable=False, example="my-stage")
    resources: Mapping[str, float] | None = param(
        Table(Number(min=0), what="a mapping of resource name to a non-negative number"), None,
        example={"GPU": 1})
    pool: str | None = param(Text(what="a pool name"), None, example="cpu-spot")
    priority: int | None = param(Integer(), None, example=1)
    retries: int | None = param(Integer(min=0), None, example=2)
    cost: float | None = param(Number(min=0, what="a non-negative number of seconds"), None, example=120)

    kind: ClassVar[StageKind]
    type_name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        type_name = cls.__dict__.get("type_name")
        if type_name is None:
            return  # an abstract base (e.g. the common part of the model stages)
        known = STAGE_TYPES.get(type_name)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(f"stage type {type_name!r} is defined twice: by {known.__qualname__} and by "
                            f"{cls.__qualname__}; give the new class another type_name")
        STAGE_TYPES[type_name] = cls

    def __post_init__(self) -> None:
        if self.name is None:
            self.name = self.type_name

    # -- graph ---------------------------------------------------------------------------
    def upstream(self) -> tuple[Stage, ...]:
        """Stages whose outputs this stage reads: the values of its edge fields, in field order."""
        found: list[Stage] = []
        for spec in declared_fields(type(self)):
            if isinstance(spec, Edge):
                found.extend(spec.targets(getattr(self, spec.name)))
        return tuple(found)

    # -- checks --------------------------------------------------------------------------
    def validate(self) -> None:
        """Check every field against its declaration; raise :class:`WorkflowError` naming the
        stage, the field and the fix. Subclasses add checks across fields after ``super()``."""
        if not isinstance(self.name, str) or not self.name:
            raise WorkflowError(
                f"stage of type {self.type_name!r}, field 'name': expected a non-empty string, "
                f"got {self.name!r}. Fix: pass name='my-stage'"
            )
        for spec in declared_fields(type(self)):
            if spec.name != "name":
                spec.check(self, getattr(self, spec.name))

    def _fail(self, field_name: str, expected: str, got: Any, fix: str) -> None:
        raise WorkflowError(
            f"stage {self.name!r}, field {field_name!r}: expected {expected}, got {got!r}. Fix: {fix}"
        )

    def paths(self) -> tuple[PathUse, ...]:
        """Files and folders the stage reads or writes; the workflow checks that no output
        destroys an input (see :mod:`daskcollab.workflow._paths`)."""
        return ()

    # -- work ----------------------------------------------------------------------------
    def run(self, ctx: StageContext, *inputs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


# ---- declarations ------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """A declared value field: its constraint, default and how messages suggest a fix."""

    name: str
    constraint: Constraint
    default: Any
    nullable: bool
    example: Any
    yaml_required: bool

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def suggestion(self) -> Any:
        if self.example is not MISSING:
            return self.example
        if self.default not in (MISSING, None) and self.constraint.accepts(_plain(self.default)):
            return self.default
        return self.constraint.example()

    def check(self, stage: Stage, value: Any) -> None:
        if value is None and self.nullable:
            return
        c = self.constraint
        if not c.accepts(value):
            raise WorkflowError(stage_message(stage.name, self.name, c.problem(value),
                                              c.fix(self.name, value, self.suggestion())))
        c.check(value, stage.name)

    def schema(self) -> dict[str, Any]:
        out = dict(self.constraint.schema())
        if self.nullable:
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
            elif "enum" in out:
                out["enum"] = [*out["enum"], None]
            else:
                out = {"anyOf": [out, {"type": "null"}]}
        default = _json_default(self.default)
        if default is not MISSING and not self.yaml_required and (default is not None or self.nullable):
            out["default"] = default
        return out


@dataclass(frozen=True)
class Edge:
    """A declared edge: a field holding another stage (or a list of them)."""

    name: str
    kinds: tuple[StageKind, ...]
    cls: type
    many: bool
    optional: bool
    min_items: int
    example: str | None

    @property
    def required(self) -> bool:
        return not self.optional

    yaml_required = False

    def wanted(self) -> str:
        """The stages it accepts, in words: ``'source or preprocess'``, ``'model_sink'``."""
        if self.cls is not Stage:
            return self.cls.type_name
        return " or ".join(k.value for k in self.kinds) if self.kinds else "any"

    def targets(self, value: Any) -> tuple[Stage, ...]:
        items = value if self.many and isinstance(value, (list, tuple)) else (value,)
        return tuple(v for v in items if isinstance(v, Stage))

    def check(self, stage: Stage, value: Any) -> None:
        if value is None and self.optional:
            return
        if not self.many:
            self._check_one(stage, self.name, value)
            return
        if not isinstance(value, (list, tuple)) or len(value) < self.min_items:
            size = "a non-empty list" if self.min_items == 1 else f"a list of at least {self.min_items}"
            example = self.example or "stage_a, stage_b"
            raise WorkflowError(stage_message(stage.name, self.name, f"expected {size} of {self.wanted()} stages, got "
                                                                     f"{value!r}", f"{self.name}=[{example}]"))
        for i, item in enumerate(value):
            self._check_one(stage, f"{self.name}[{i}]", item)

    def _check_one(self, stage: Stage, field_name: str, value: Any) -> None:
        if isinstance(value, self.cls) and (not self.kinds or value.kind in self.kinds):
            return
        wanted = self.wanted()
        article = "an" if wanted[:1] in "aeiou" else "a"
        got = f"{value.type_name} stage {value.name!r}" if isinstance(value, Stage) else repr(value)
        raise WorkflowError(stage_message(stage.name, field_name, f"expected {article} {wanted} stage, got {got}",
                                          f"pass the {wanted} stage object itself (wiring is by reference)"))

    def schema(self) -> dict[str, Any]:
        name = {"type": ["string", "null"] if self.optional else "string", "minLength": 1,
                "description": f"the name of a {self.wanted()} stage defined above"}
        if not self.many:
            return name
        return {"type": "array", "items": {**name, "type": "string"}, "minItems": self.min_items,
                "description": f"names of {self.wanted()} stages defined above"}


_DECLARED: dict[type, tuple[Param | Edge, ...]] = {}


def declared_fields(cls: type[Stage]) -> tuple[Param | Edge, ...]:
    """Every field of a stage class as a :class:`Param` or an :class:`Edge`, in field order.

    Raises
    ------
    TypeError
        A field without a declaration, or an edge whose type is not ``Stage`` /
        ``Sequence[Stage]`` (a mistake in the stage class, not in a workflow).
    """
    cached = _DECLARED.get(cls)
    if cached is not None:
        return cached
    try:
        hints = typing.get_type_hints(cls)
    except NameError as exc:
        raise TypeError(f"stage class {cls.__qualname__}: cannot resolve the type of a field ({exc}); import the "
                        "names its annotations use at module level") from exc
    out: list[Param | Edge] = []
    for f in fields(cls):
        declaration = f.metadata.get(DECLARATION)
        if declaration is None:
            raise TypeError(f"stage class {cls.__qualname__}, field {f.name!r}: declare it with param(...) or "
                            "edge(...) (daskcollab.workflow._constraints)")
        stage_type = _stage_type(hints[f.name])
        if "kinds" in declaration:
            if stage_type is None:
                raise TypeError(f"stage class {cls.__qualname__}, field {f.name!r}: an edge must be typed Stage, "
                                f"a Stage subclass or Sequence[...] of one, not {hints[f.name]!r}")
            target, many, optional = stage_type
            out.append(Edge(f.name, declaration["kinds"], target, many, optional or f.default is None,
                            declaration["min_items"], declaration["example"]))
        else:
            default = f.default if f.default is not MISSING else (
                f.default_factory() if f.default_factory is not MISSING else MISSING)
            out.append(Param(f.name, declaration["constraint"], default, declaration["nullable"],
                             declaration["example"], declaration["yaml_required"]))
    _DECLARED[cls] = result = tuple(out)
    return result


def stage_schema(cls: type[Stage]) -> dict[str, Any]:
    """The JSON schema of one stage type's YAML form (without its ``type`` key)."""
    specs = declared_fields(cls)
    return {
        "properties": {spec.name: spec.schema() for spec in specs},
        "required": [spec.name for spec in specs if spec.required or spec.yaml_required],
        "additionalProperties": False,
    }


def _stage_type(hint: Any) -> tuple[type, bool, bool] | None:
    """``(stage class, many, optional)`` when a field's type is a stage, a list of stages, or
    either or None; else None."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            return None
        hint = args[0]
    if isinstance(hint, type) and issubclass(hint, Stage):
        return hint, False, optional
    origin = typing.get_origin(hint)
    if origin in (collections.abc.Sequence, list, tuple):
        args = typing.get_args(hint)
        if args and isinstance(args[0], type) and issubclass(args[0], Stage):
            return args[0], True, optional
    return None


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _json_default(value: Any) -> Any:
    """The default as JSON (for the schema), or MISSING when it has no JSON form."""
    if value is MISSING:
        return MISSING
    value = _plain(value)
    try:
        json.dumps(value)
    except TypeError:
        return MISSING
    return value

