"""Outputs never destroy inputs: the paths a workflow reads and writes, checked when it is built.

Every stage declares the files and folders it uses (:meth:`Stage.paths`). Before anything runs,
:func:`check_paths` refuses

* a written path that equals, contains or lies inside a path the workflow reads (a source store,
  a saved model), or another stage's output;
* a written path that exists when the stage may not replace it (``overwrite`` off), or that is
  not a daskcollab output of the kind the stage writes (no daskcollab marker), so ``overwrite``
  can never delete data daskcollab did not write.

Paths are compared after resolving symbolic links and ``..``. The sinks check the marker again
right before they replace anything (``data/_atomic.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from daskcollab._errors import WorkflowError, stage_message
from daskcollab.data import OutputKind, output_kind

if TYPE_CHECKING:
    from daskcollab.workflow._stage import Stage


class Access(str, Enum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class PathUse:
    """One path a stage uses: ``field`` names the stage parameter it comes from.

    A write with ``replaces=None`` must not exist yet; otherwise it may replace an existing
    daskcollab output of that kind.
    """

    field: str
    path: str
    access: Access
    replaces: OutputKind | None = None
    what: str = "store"


def check_paths(stages: Iterable[Stage]) -> None:
    """Raise :class:`WorkflowError` when an output could destroy an input or data daskcollab did not write."""
    uses = [(stage, use, _resolved(use.path)) for stage in stages for use in stage.paths()]
    writes = [u for u in uses if u[1].access is Access.WRITE]
    for i, (stage, use, target) in enumerate(writes):
        for other, other_use, other_path in uses:
            if other is stage and other_use is use:
                continue
            relation = _relation(target, other_path)
            if relation is None:
                continue
            if other_use.access is Access.READ:
                problem = (f"{use.path!r} {relation} {other_use.path!r}, the {other_use.what} that stage "
                           f"{other.name!r} reads (field {other_use.field!r}); writing there would destroy the "
                           "workflow's input")
            elif writes.index((other, other_use, other_path)) > i:
                problem = f"{use.path!r} {relation} {other_use.path!r}, which stage {other.name!r} writes too"
            else:
                continue  # reported from the other side
            raise WorkflowError(stage_message(stage.name, use.field, problem,
                                              "write to a path outside every input and every other output, "
                                              "e.g. 'out/<name>.zarr'"))
        _check_existing(stage, use)


def _check_existing(stage: Stage, use: PathUse) -> None:
    if not os.path.lexists(use.path):
        return
    if use.replaces is None:
        raise WorkflowError(stage_message(stage.name, use.field, f"{use.path!r} already exists",
                                          "set overwrite=True to replace an earlier output, or choose another path"))
    found = output_kind(use.path)
    if found is not use.replaces:
        what = "not a daskcollab output (no daskcollab marker)" if found is None else f"a daskcollab {found.value} output"
        raise WorkflowError(stage_message(
            stage.name, "overwrite" if use.replaces is OutputKind.PREDICTIONS else use.field,
            f"{use.path!r} exists and is {what}, so replacing it could delete data daskcollab did not write",
            f"choose a new path, or remove {use.path!r} yourself if you mean to replace it",
        ))


def _resolved(path: str) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def _relation(written: str, other: str) -> str | None:
    if written == other:
        return "is"
    if other.startswith(written.rstrip(os.sep) + os.sep):
        return "contains"
    if written.startswith(other.rstrip(os.sep) + os.sep):
        return "lies inside"
    return None
