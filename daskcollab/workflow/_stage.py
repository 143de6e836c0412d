"""The stage base class: what every stage declares, and how it checks its declaration.

Stages are declarations. The constructor stores parameters and nothing else (the
scikit-learn contract); :meth:`Stage.validate` checks them when a :class:`Workflow` is built,
and :meth:`Stage.run` does the work when the compiled workflow runs.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from daskcollab._errors import WorkflowError
from daskcollab.runtime._context import StageContext

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

    name: str | None = None
    resources: Mapping[str, float] | None = None
    pool: str | None = None
    priority: int | None = None
    retries: int | None = None
    cost: float | None = None

    kind: ClassVar[StageKind]
    type_name: ClassVar[str]

    def __post_init__(self) -> None:
        if self.name is None:
            self.name = self.type_name

    # -- graph ---------------------------------------------------------------------------
    def upstream(self) -> tuple[Stage, ...]:
        """Stages whose outputs this stage reads, in parameter order."""
        found: list[Stage] = []
        for f in fields(self):
            value = getattr(self, f.name)
            items = value if isinstance(value, (list, tuple)) else (value,)
            found.extend(v for v in items if isinstance(v, Stage))
        return tuple(found)

    # -- checks --------------------------------------------------------------------------
    def validate(self) -> None:
        """Check parameters; raise :class:`WorkflowError` naming the stage and the field."""
        if not isinstance(self.name, str) or not self.name:
            raise WorkflowError(
                f"stage of type {self.type_name!r}, field 'name': expected a non-empty string, "
                f"got {self.name!r}. Fix: pass name='my-stage'"
            )
        if self.resources is not None:
            if not isinstance(self.resources, Mapping) or not all(
                isinstance(k, str) and _is_number(v) and v >= 0 for k, v in self.resources.items()
            ):
                self._fail("resources", "a mapping of resource name to a non-negative number",
                           self.resources, 'resources={"GPU": 1}')
        if self.pool is not None and (not isinstance(self.pool, str) or not self.pool):
            self._fail("pool", "a pool name", self.pool, 'pool="cpu-spot"')
        for field_name in ("priority", "retries"):
            value = getattr(self, field_name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                self._fail(field_name, "an integer", value, f"{field_name}=1")
        if self.retries is not None and self.retries < 0:
            self._fail("retries", "a non-negative integer", self.retries, "retries=2")
        if self.cost is not None and (not _is_number(self.cost) or self.cost < 0):
            self._fail("cost", "a non-negative number of seconds", self.cost, "cost=120")

    def _fail(self, field_name: str, expected: str, got: Any, fix: str) -> None:
        raise WorkflowError(
            f"stage {self.name!r}, field {field_name!r}: expected {expected}, got {got!r}. Fix: {fix}"
        )

    def _require_stage(self, field_name: str, value: Any, kinds: tuple[StageKind, ...]) -> None:
        if not isinstance(value, Stage) or value.kind not in kinds:
            wanted = " or ".join(k.value for k in kinds)
            got = f"{value.type_name} stage {value.name!r}" if isinstance(value, Stage) else repr(value)
            raise WorkflowError(
                f"stage {self.name!r}, field {field_name!r}: expected a {wanted} stage, got {got}. "
                f"Fix: pass the {wanted} stage object itself (wiring is by reference)"
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


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def stage_field(default: Any = None) -> Any:
    """A dataclass field with a (possibly mutable) default."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default))
    return field(default=default)
