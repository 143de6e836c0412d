"""What a stage field accepts, declared once: the declaration checks Python values, writes the
field's JSON schema and converts the field's YAML form.

A stage declares each field with :func:`param` (a value, with a :class:`Constraint`) or
:func:`edge` (another stage, or a list of them; see :mod:`daskcollab.workflow._stage`)::

    rounds: int = param(Integer(min=1), 100)
    task: Task | str = param(Choice(Task), Task.CLASSIFICATION)

so ``XGBoostModel(src, rounds=0)`` fails when the workflow is built with ``stage 'xgboost', field
'rounds': expected a positive integer, got 0. Fix: rounds=100``, and the YAML schema of the
``xgboost`` type says ``{"type": "integer", "minimum": 1, "default": 100}``: one fact, two uses.
Constraints are plain, pure objects (no Dask, no files).
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field
from enum import Enum
from typing import Any

from daskcollab.data import ChunkSplit, RowSplit

#: dataclass-field metadata key under which a field's declaration is kept.
DECLARATION = "daskcollab.param"


class Constraint:
    """What a value must be. Subclasses define :meth:`accepts`, :meth:`describe`, :meth:`schema`
    and an :meth:`example`; ``what`` overrides the described expectation in messages."""

    what: str | None = None

    def accepts(self, value: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def example(self) -> Any:
        return None

    def expected(self) -> str:
        return self.what or self.describe()

    def problem(self, value: Any) -> str:
        """What is wrong with a value this constraint refuses."""
        return f"expected {self.expected()}, got {value!r}"

    def fix(self, name: str, value: Any, example: Any) -> str:
        return f"{name}={example!r}"

    def check(self, value: Any, stage: str) -> None:
        """Deeper checks of an accepted value that raise their own error (default: none)."""

    def from_yaml(self, value: Any) -> Any:
        """The Python value of the field's YAML form (default: the same value)."""
        return value


def _bounds(low: float | None, high: float | None, exclusive_low: bool = False) -> str:
    """The bounds of a number or integer as a suffix of its description (``" >= 2"``)."""
    if low is not None and high is not None:
        return f" in {'(' if exclusive_low else '['}{low}, {high}]"
    if low is not None:
        return f" {'>' if exclusive_low else '>='} {low}"
    return f" <= {high}" if high is not None else ""


@dataclass(frozen=True)
class Integer(Constraint):
    """An ``int`` (not a bool) in ``[min, max]``."""

    min: int | None = None
    max: int | None = None
    what: str | None = None

    def accepts(self, value: Any) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool)
                and (self.min is None or value >= self.min) and (self.max is None or value <= self.max))

    def describe(self) -> str:
        if self.max is None and self.min == 1:
            return "a positive integer"
        if self.max is None and self.min == 0:
            return "a non-negative integer"
        return "an integer" + _bounds(self.min, self.max)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer"}
        if self.min is not None:
            out["minimum"] = self.min
        if self.max is not None:
            out["maximum"] = self.max
        return out

    def example(self) -> Any:
        return self.min if self.min is not None else 1


@dataclass(frozen=True)
class Number(Constraint):
    """A finite real number (not a bool) in ``[min, max]`` (``(min, max]`` with ``exclusive_min``)."""

    min: float | None = None
    max: float | None = None
    exclusive_min: bool = False
    what: str | None = None

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
            return False
        if self.min is not None and (value <= self.min if self.exclusive_min else value < self.min):
            return False
        return self.max is None or value <= self.max

    def describe(self) -> str:
        if self.max is None and self.min == 0:
            return "a positive number" if self.exclusive_min else "a non-negative number"
        return "a number" + _bounds(self.min, self.max, self.exclusive_min)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "number"}
        if self.min is not None:
            out["exclusiveMinimum" if self.exclusive_min else "minimum"] = self.min
        if self.max is not None:
            out["maximum"] = self.max
        return out

    def example(self) -> Any:
        return 1.0


@dataclass(frozen=True)
class Text(Constraint):
    """A non-empty string."""

    what: str | None = None

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value)

    def describe(self) -> str:
        return "a non-empty string"

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1}

    def example(self) -> Any:
        return "name"


@dataclass(frozen=True)
class Path(Constraint):
    """A non-empty path (``str`` or ``os.PathLike``; a string in YAML)."""

    what: str | None = None

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (str, os.PathLike)) and bool(os.fspath(value))

    def describe(self) -> str:
        return "a path"

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1}

    def example(self) -> Any:
        return "out/name"


@dataclass(frozen=True)
class Flag(Constraint):
    """``True`` or ``False``."""

    what: str | None = None

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def example(self) -> Any:
        return True


@dataclass(frozen=True)
class Choice(Constraint):
    """One of a set of names: an ``Enum`` (members or their values), a list, or a function
    returning the names of a registry (read when checked, so the registry may grow).

    ``unavailable`` maps names that look valid but are refused to the reason (and
    ``unavailable_fix`` is the fix then)."""

    values: type[Enum] | Sequence[str] | Callable[[], Sequence[str]]
    unavailable: Mapping[str, str] = field(default_factory=dict)
    unavailable_fix: str = ""
    what: str | None = None

    def options(self) -> list[str]:
        values = self.values
        if isinstance(values, type) and issubclass(values, Enum):
            return [m.value for m in values]
        if callable(values):
            return sorted(values())
        return list(values)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options()

    def describe(self) -> str:
        return f"one of {self.options()!r}"

    def problem(self, value: Any) -> str:
        if isinstance(value, str) and value.lower() in self.unavailable:
            return f"{value!r} is not available: {self.unavailable[value.lower()]}"
        close = difflib.get_close_matches(value, self.options(), n=3) if isinstance(value, str) else []
        return super().problem(value) + (f" (did you mean {close!r}?)" if close else "")

    def fix(self, name: str, value: Any, example: Any) -> str:
        if isinstance(value, str) and value.lower() in self.unavailable and self.unavailable_fix:
            return self.unavailable_fix
        return super().fix(name, value, example.value if isinstance(example, Enum) else example)

    def schema(self) -> dict[str, Any]:
        return {"enum": self.options()}

    def example(self) -> Any:
        return self.options()[0]


@dataclass(frozen=True)
class Items(Constraint):
    """A list (or tuple) of at least ``min_items`` values."""

    min_items: int = 0
    what: str | None = None

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and len(value) >= self.min_items

    def describe(self) -> str:
        return "a non-empty list" if self.min_items == 1 else f"a list of at least {self.min_items} values"

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "minItems": self.min_items}

    def example(self) -> Any:
        return [1, 2]


@dataclass(frozen=True)
class Table(Constraint):
    """A mapping with string keys (at least ``min_items``), each value accepted by ``values``."""

    values: Constraint | None = None
    min_items: int = 0
    what: str | None = None

    def accepts(self, value: Any) -> bool:
        return (isinstance(value, Mapping) and len(value) >= self.min_items
                and all(isinstance(k, str) for k in value)
                and (self.values is None or all(self.values.accepts(v) for v in value.values())))

    def describe(self) -> str:
        inner = "values" if self.values is None else self.values.describe()
        return ("a non-empty " if self.min_items else "a ") + f"mapping of names to {inner}"

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object"}
        if self.values is not None:
            out["additionalProperties"] = self.values.schema()
        if self.min_items:
            out["minProperties"] = self.min_items
        return out

    def example(self) -> Any:
        return {"name": self.values.example() if self.values is not None else 1}


_RANGE = {"type": "array", "prefixItems": [{"type": "integer"}, {"type": ["integer", "null"]}],
          "minItems": 2, "maxItems": 2}


@dataclass(frozen=True)
class SplitOf(Constraint):
    """A :class:`RowSplit` or :class:`ChunkSplit`; in YAML ``{rows: {...}}`` or ``{chunks: {...}}``."""

    what: str | None = None

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (RowSplit, ChunkSplit))

    def describe(self) -> str:
        return "RowSplit(...) or ChunkSplit(...)"

    def fix(self, name: str, value: Any, example: Any) -> str:
        return f"{name}=RowSplit(test=0.2)"

    def check(self, value: Any, stage: str) -> None:
        value.check(stage)

    def from_yaml(self, value: Any) -> Any:
        if isinstance(value, Mapping) and "rows" in value:
            return RowSplit(**value["rows"])
        if isinstance(value, Mapping) and "chunks" in value:
            return ChunkSplit(**{k: (tuple(v) if v is not None else None) for k, v in value["chunks"].items()})
        return value

    def schema(self) -> dict[str, Any]:
        fraction = {"type": "number", "minimum": 0, "exclusiveMaximum": 1}
        return {
            "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
            "properties": {
                "rows": {"type": "object", "additionalProperties": False, "properties": {
                    "validation": fraction, "test": fraction, "seed": {"type": "integer"}}},
                "chunks": {"type": "object", "additionalProperties": False, "properties": {
                    "train": _RANGE, "validation": {"anyOf": [_RANGE, {"type": "null"}]},
                    "test": {"anyOf": [_RANGE, {"type": "null"}]}}},
            },
        }


def param(constraint: Constraint, default: Any = MISSING, *, nullable: bool | None = None, example: Any = MISSING,
          yaml_required: bool = False) -> Any:
    """Declare a stage field that holds a value.

    Parameters
    ----------
    constraint
        What the value must be (checked when the workflow is built; the field's JSON schema).
    default
        The default (a dict or list default is copied per stage). No default: the field is required.
    nullable
        ``None`` is also accepted (default: when the default is ``None``).
    example
        The value a message suggests (default: the default, else the constraint's example).
    yaml_required
        A YAML file must set the field although Python has a default (output paths).
    """
    declaration = {"constraint": constraint, "nullable": default is None if nullable is None else nullable,
                   "example": example, "yaml_required": yaml_required}
    metadata = {DECLARATION: declaration}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def edge(*kinds: Any, min_items: int = 1, optional: bool = False, example: str | None = None) -> Any:
    """Declare a stage field that holds another stage (``x: Stage``) or a list of stages
    (``x: Sequence[Stage]``): an edge of the workflow graph. ``kinds`` are the
    :class:`~daskcollab.workflow.StageKind` values it accepts (all when empty); the field's type
    may narrow it to one stage class (``saved_by: ModelSink | None``). ``optional``: ``None``
    (the default) means no edge."""
    metadata = {DECLARATION: {"kinds": tuple(kinds), "min_items": min_items, "example": example}}
    return field(default=None, metadata=metadata) if optional else field(metadata=metadata)
