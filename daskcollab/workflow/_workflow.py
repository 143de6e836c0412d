"""A named set of stages wired by reference, checked once when it is built."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

from daskcollab._errors import WorkflowError
from daskcollab.workflow._paths import check_paths
from daskcollab.workflow._stage import Stage


class Workflow:
    """A workflow: stages wired by reference, validated when built.

    Stages reachable from the given ones (their inputs, recursively) are included even if not
    listed. Stage names must be unique. Building the workflow checks every stage's
    parameters, the wiring (no cycles) and the paths (no output may equal, contain or lie inside
    an input or another output; ``overwrite`` replaces only daskcollab's own outputs), and raises
    :class:`~daskcollab.WorkflowError` naming the stage and the field.

    Parameters
    ----------
    name
        Workflow name; carried on every task as ``collab.workflow``.
    stages
        The stages, in any order.
    budget
        Optional money budget in $ for a run (used by cost-aware placement).
    deadline
        Optional deadline in seconds for a run (used by cost-aware placement).

    Examples
    --------
    >>> import daskcollab as dc
    >>> src = dc.ZarrSource("data/flights.zarr")
    >>> xgb = dc.XGBoostModel(src, rounds=50)
    >>> lin = dc.LinearModel(dc.Standardize(src))
    >>> wf = dc.Workflow("demo", [dc.Evaluate([xgb, lin, dc.Blend([xgb, lin])])])
    >>> [s.name for s in wf.stages]
    ['zarr_source', 'xgboost', 'standardize', 'linear', 'blend', 'evaluate']
    """

    def __init__(
        self,
        name: str,
        stages: Sequence[Stage],
        *,
        budget: float | None = None,
        deadline: float | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise WorkflowError(f"workflow, field 'name': expected a non-empty string, got {name!r}. Fix: name='my-workflow'")
        for field, value in (("budget", budget), ("deadline", deadline)):
            if value is not None and (not isinstance(value, numbers.Real) or isinstance(value, bool) or value <= 0):
                raise WorkflowError(
                    f"workflow {name!r}, field {field!r}: expected a positive number, got {value!r}. "
                    f"Fix: {field}=10 or leave it out"
                )
        self.name = name
        self.budget = budget
        self.deadline = deadline
        self.stages: tuple[Stage, ...] = _topological(stages)
        names: dict[str, Stage] = {}
        for stage in self.stages:
            if not isinstance(stage, Stage):
                raise WorkflowError(f"workflow {name!r}, field 'stages': expected Stage objects, got {stage!r}. "
                                    "Fix: pass the stage objects themselves, e.g. [dc.XGBoostModel(src, name=\"xgb\")]")
            stage.validate()
            if stage.name in names:
                raise WorkflowError(
                    f"stage {stage.name!r}, field 'name': two stages are named {stage.name!r} "
                    f"({names[stage.name]!r} and {stage!r}). Fix: pass a distinct name= to one of them"
                )
            names[stage.name] = stage
        check_paths(self.stages)
        self._by_name = names

    def __getitem__(self, name: str) -> Stage:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no stage named {name!r}; stages: {list(self._by_name)!r}") from None

    def compile(self):
        """Compile into a :class:`~daskcollab.CompiledWorkflow` (annotated Dask submissions)."""
        from daskcollab.compile import compile_workflow

        return compile_workflow(self)

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, stages={[s.name for s in self.stages]!r})"


def _topological(stages: Iterable[Stage]) -> tuple[Stage, ...]:
    """Stages and everything upstream of them, inputs first; raise on a cycle."""
    order: list[Stage] = []
    state: dict[int, str] = {}  # id -> "visiting" | "done"

    def visit(stage: Stage, path: list[Stage]) -> None:
        mark = state.get(id(stage))
        if mark == "done":
            return
        if mark == "visiting":
            cycle = path[path.index(stage):] + [stage]
            raise WorkflowError(
                f"stage {stage.name!r}: the stages form a cycle: "
                f"{' -> '.join(s.name for s in cycle)}. Fix: a stage may only read stages defined before it"
            )
        state[id(stage)] = "visiting"
        for up in stage.upstream() if isinstance(stage, Stage) else ():
            visit(up, path + [stage])
        state[id(stage)] = "done"
        order.append(stage)

    for stage in stages:
        visit(stage, [])
    return tuple(order)
