"""The placement policy's plain data: pools, tasks, objectives, plans, and which pools fit a task.

Pure (no Dask). :mod:`daskcollab.placement._planning` re-exports every public name here.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from daskcollab._errors import WorkflowError, stage_message

#: Default makespan ``balanced`` may add to the fastest plan's, as a fraction (0.5: 50 % slower at most).
DEFAULT_TRADEOFF = 0.5


@dataclass(frozen=True)
class Pool:
    """A set of identical workers: ``price_per_hour`` per worker, relative ``speed``.

    ``workers`` is the pool's size now (or at start); an elastic pool may be scaled between
    ``min_workers`` and ``max_workers`` (``min`` / ``max`` in a pools file). Both default to
    ``workers``: a pool that declares no bounds stays the size it is.

    What the cloud bills (see :mod:`daskcollab.placement._billing`): a worker costs
    ``price_per_hour`` from the moment it is asked for; it joins ``startup`` seconds later (0: the
    worker is there); billing is per ``billing_granularity`` seconds (1) with a
    ``billing_minimum`` period (0). A ``spot`` pool is cheap and may lose workers, about
    ``preemption_rate`` times per worker-hour.

    >>> Pool("gpu", 2.5, workers=0, max_workers=2).min_workers
    0
    """

    name: str
    price_per_hour: float
    speed: float = 1.0
    workers: int = 1
    resources: Mapping[str, float] = field(default_factory=dict)
    min_workers: int | None = None
    max_workers: int | None = None
    startup: float = 0.0
    billing_granularity: float = 1.0
    billing_minimum: float = 0.0
    spot: bool = False
    preemption_rate: float = 0.0

    def __post_init__(self) -> None:
        for key, value in (("startup", self.startup), ("billing.granularity", self.billing_granularity),
                           ("billing.minimum", self.billing_minimum), ("preemption.rate", self.preemption_rate)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or math.isinf(value):
                raise WorkflowError(stage_message(
                    "placement", f"pools.{self.name}.{key}", f"expected a number of seconds (or a rate) >= 0, got "
                    f"{value!r}", "write e.g. {startup: 90s, billing: {granularity: 1s, minimum: 60s}}"))
        if self.min_workers is None:
            object.__setattr__(self, "min_workers", self.workers)
        if self.max_workers is None:
            object.__setattr__(self, "max_workers", self.workers)
        for key, value in (("workers", self.workers), ("min", self.min_workers), ("max", self.max_workers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise WorkflowError(stage_message(
                    "placement", f"pools.{self.name}.{key}", f"expected a whole number of workers >= 0, got {value!r}",
                    "write e.g. {workers: 1, min: 0, max: 4}"))
        if not self.min_workers <= self.workers <= self.max_workers:
            field_ = "min" if self.min_workers > self.workers else "max"
            raise WorkflowError(stage_message(
                "placement", f"pools.{self.name}.{field_}",
                f"expected 0 <= min <= workers <= max, got min={self.min_workers!r}, workers={self.workers!r}, "
                f"max={self.max_workers!r}",
                f"lower min to {self.workers}" if field_ == "min" else f"raise max to {self.workers}"))


@dataclass(frozen=True)
class TaskSpec:
    """One task: ``work`` in seconds at speed 1; ``pool`` pins it; higher ``priority`` runs first."""

    key: Hashable
    work: float
    dependencies: tuple[Hashable, ...] = ()
    resources: Mapping[str, float] = field(default_factory=dict)
    priority: int = 0
    stage: str | None = None
    pool: str | None = None


class Mode(Enum):
    FASTEST = "fastest"
    CHEAPEST = "cheapest"
    BALANCED = "balanced"


class SpotPolicy(str, Enum):
    """How a run with a deadline uses spot pools (see :mod:`daskcollab.placement._spot`)."""

    PLAN = "plan"  # per stage, along the DAG's slack
    UNIFORM = "uniform"  # Uniform Progress on the whole run
    GREEDY = "greedy"  # spot until the deadline forces on-demand, for the whole run
    ON_DEMAND = "on-demand"  # never spot


class CostBasis(Enum):
    """Which money a run's plan is chosen by and its budget compared with."""

    HELD = "held"  # what a cloud bills: worker-seconds held (from the request) x price
    BUSY = "busy"  # compute seconds x price


@dataclass(frozen=True)
class Objective:
    """What to optimise: ``mode``; optional ``budget`` ($), ``deadline`` (s) and, for
    ``balanced``, ``tradeoff``: the makespan it may add to the fastest plan's, as a fraction.

    ``basis`` is the money a run's plan (:func:`~daskcollab.placement.plan_run`) minimises: the held
bill (default) or busy money. ``weight`` (in ``[0, 1]``) is only read by :func:`~daskcollab.placement.choose` when it picks
    from a cost/makespan front without a deadline or budget: the point minimising
    ``(1 - weight) * makespan / fastest makespan + weight * cost / cheapest cost`` (0: fastest,
    1: cheapest)."""

    mode: Mode = Mode.BALANCED
    budget: float | None = None
    deadline: float | None = None
    tradeoff: float | None = None
    weight: float | None = None
    basis: CostBasis = CostBasis.HELD  # run plans (plan_run) only; task-level plans price busy seconds


@dataclass(frozen=True)
class Assignment:
    pool: str
    worker: int
    start: float
    finish: float


@dataclass(frozen=True)
class Plan:
    assignments: Mapping[Hashable, Assignment]
    makespan: float
    cost: float
    cost_by_pool: Mapping[str, float]
    busy_seconds_by_pool: Mapping[str, float]
    objective: Objective
    meets_budget: bool | None
    meets_deadline: bool | None

    def pool_of(self, key: Hashable) -> str:
        return self.assignments[key].pool


@dataclass(frozen=True)
class LowerBounds:
    """Critical path on the fastest eligible pools; total work / total speed; cheapest cost."""

    critical_path: float
    work_over_speed: float
    cost: float

    @property
    def makespan(self) -> float:
        return max(self.critical_path, self.work_over_speed)


# --------------------------------------------------------------------------- eligibility


def can_run(resources: Mapping[str, float], pool: str | None, candidate: Pool) -> bool:
    """Whether ``candidate`` can run a request: its pin (if any) names the pool and every resource
    is offered by the pool's workers. The one rule the policy, the plugin and the client's pre-flight
    check share (see :mod:`daskcollab.placement._feasibility`).

    Examples
    --------
    >>> can_run({"GPU": 1}, None, Pool("gpu", 2.5, resources={"GPU": 1}))
    True
    >>> can_run({}, "cpu-spot", Pool("gpu", 2.5, resources={"GPU": 1}))
    False
    """
    if pool is not None and candidate.name != pool:
        return False
    return all(float(candidate.resources.get(r, 0.0)) >= float(q) for r, q in resources.items())


def _fits(task: TaskSpec, pool: Pool) -> bool:
    return can_run(task.resources, task.pool, pool)


def eligible_pools(task: TaskSpec, pools: Iterable[Pool]) -> list[Pool]:
    """The pools that can run ``task`` (its pin, if any, and all its resources)."""
    return [p for p in pools if _fits(task, p)]


def _unplaceable_message(task: TaskSpec, pools: Sequence[Pool]) -> str:
    where = f"stage {task.stage!r}, field 'resources'" if task.stage else f"task {task.key!r}, field 'resources'"
    offered = "; ".join(f"{p.name} {dict(p.resources)!r} x{p.workers}" for p in pools) or "none"
    need = dict(task.resources)
    if task.pool is not None and all(p.name != task.pool for p in pools):
        problem = f"task {task.key!r} is pinned to pool {task.pool!r}, which is not among the pools"
    elif task.pool is not None:
        problem = f"task {task.key!r} needs {need!r} in pool {task.pool!r}, which does not offer it"
    else:
        problem = f"task {task.key!r} needs {need!r}, which no pool offers"
    return (
        f"{where}: {problem} (pools available: {offered}). Fix: start workers that offer the resource "
        "(dask worker --resources ... --pool NAME) or lower the stage's resource request"
    )


def unplaceable(tasks: Iterable[TaskSpec], pools: Iterable[Pool]) -> dict[Hashable, str]:
    """``{key: message}`` for each task that no pool can run."""
    pools = list(pools)
    return {t.key: _unplaceable_message(t, pools) for t in tasks if not eligible_pools(t, pools)}



__all__ = [
    "DEFAULT_TRADEOFF", "Assignment", "CostBasis", "LowerBounds", "Mode", "Objective", "Plan", "Pool", "SpotPolicy",
    "TaskSpec",
    "eligible_pools", "unplaceable",
]
