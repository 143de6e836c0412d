"""What runs taught the planner (pure data with a JSON round-trip; the files are :mod:`._store`'s).

Two levels of observation:

* **tasks**: the average work (compute seconds x the worker's speed) of a task, keyed by
  ``(workflow, stage, task prefix, pool)``; an estimate for a pool never seen falls back to the
  same task on any pool (work is speed-normalised), then to the stage name alone (files of
  version 1);
* **stages**: per ``(workflow, stage)`` and pool, a :class:`StageEstimate` (work, width, latency)
  learned from whole runs, which the run planner (``_runplan.py``) uses to plan a workflow before
  its tasks exist.

Besides: the per-task overhead (dispatch and input transfer) and the slippage (actual / planned
makespan of finished plans). Averages fade: at most ``MEMORY`` observations weigh in, so recent runs
count more.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class EstimateSource(str, Enum):
    """Where a stage's work estimate came from (shown by ``daskcollab plan`` and in the plan)."""

    LEARNED = "learned"  # observed on this pool (or on another pool, scaled by speed)
    HINT = "hint"  # the stage's ``cost`` parameter
    DEFAULT = "default"  # ``collab.placement.default-work``


@dataclass(frozen=True)
class StageEstimate:
    """How long a stage takes, as a moldable job.

    ``work`` is busy seconds at speed 1.0 summed over its tasks; ``width`` how many workers it
    keeps busy at once while any of its tasks runs (busy seconds / active seconds); ``latency``
    the part of its wall time when none of its tasks runs (round trips, work on the client). On
    ``workers`` workers of speed ``speed`` it takes ``latency + work / (speed * min(width, workers))``
    and holds ``min(width, workers)`` workers for the second term only. ``price_per_work`` is the
    $/h it paid per work-second when it was learned spread over several pools (the mix of pools
    Dask's balancing chose); None where the pool's own price applies.

    Examples
    --------
    >>> StageEstimate(8.0, 2.0, 1.0).duration(speed=2.0, workers=4)
    3.0
    """

    work: float
    width: float = math.inf
    latency: float = 0.0
    source: EstimateSource = EstimateSource.DEFAULT
    price_per_work: float | None = None
    tasks: int | None = None  # its tasks (of about equal work), when known: no more workers than tasks

    def workers_used(self, workers: int) -> int:
        width = min(self.width, self.tasks) if self.tasks else self.width
        return max(1, min(int(math.ceil(width)) if math.isfinite(width) else workers, workers))

    def busy_time(self, speeds: list[float]) -> float:
        """Seconds the stage's compute keeps workers of these ``speeds`` busy: its work shared by their
        speeds, or, with its task count known, its tasks dealt to whichever worker finishes each first."""
        if not self.tasks or self.tasks <= 0:
            return self.work / sum(speeds)
        task, free = self.work / self.tasks, [0.0] * len(speeds)
        for _ in range(self.tasks):
            w = min(range(len(speeds)), key=lambda i: free[i] + task / speeds[i])
            free[w] += task / speeds[w]
        return max(free)

    def duration(self, speed: float, workers: int) -> float:
        return self.latency + self.busy_time([speed] * self.workers_used(workers))


def _faded(entry: list[float], values: tuple[float, ...], memory: int) -> list[float]:
    """``[sum_1, ..., sum_k, n]`` plus one observation; halves the weight of old ones past ``memory``."""
    *sums, n = entry
    if n >= memory:
        sums, n = [s / 2.0 for s in sums], n // 2
    return [*(s + v for s, v in zip(sums, values)), n + 1]


class CostModel:
    """Learned task and stage durations, per-task overhead and plan slippage (see module docstring)."""

    MEMORY = 2_000
    #: Stage observations: a few runs are enough, and a changed workflow should be relearned fast.
    STAGE_MEMORY = 4
    #: Slippage is clamped to this range: a plan is never assumed faster, nor more than 3x slower.
    SLIPPAGE_RANGE = (1.0, 3.0)
    VERSION = 3

    def __init__(self) -> None:
        self._tasks: dict[str, list[float]] = {}  # "wf|stage|prefix|pool" -> [work, n]
        self._tasks_any_pool: dict[str, list[float]] = {}  # "wf|stage|prefix" -> [work, n]
        self._stages: dict[str, dict[str, list[float]]] = {}  # "wf|stage" -> {pool: [work, width, latency, n]}
        self._overhead = [0.0, 0]
        self._slippage = [0.0, 0]

    # ------------------------------------------------------------------ tasks
    def estimate(self, stage: str | None, prefix: str | None, pool: str | None, default_work: float,
                 *, workflow: str | None = None) -> float:
        """Average work of a task of ``(workflow, stage, prefix)`` on ``pool``, else on any pool, else ``default_work``."""
        if pool is not None:
            entry = self._tasks.get(f"{workflow}|{stage}|{prefix}|{pool}")
            if entry:
                return entry[0] / entry[1]
        entry = self._tasks_any_pool.get(f"{workflow}|{stage}|{prefix}")
        return entry[0] / entry[1] if entry else float(default_work)

    def observe(self, stage: str | None, prefix: str | None, pool: str | None, duration: float, speed: float,
                *, workflow: str | None = None) -> None:
        """One finished task: ``duration`` compute seconds on a worker of relative ``speed``."""
        work = duration * speed
        key = f"{workflow}|{stage}|{prefix}"
        self._tasks[f"{key}|{pool}"] = _faded(self._tasks.get(f"{key}|{pool}", [0.0, 0]), (work,), self.MEMORY)
        self._tasks_any_pool[key] = _faded(self._tasks_any_pool.get(key, [0.0, 0]), (work,), self.MEMORY)

    # ------------------------------------------------------------------ stages
    def observe_stage(self, workflow: str, stage: str, pool: str, *, work: float, width: float, latency: float,
                      cost: float = 0.0) -> None:
        """One finished stage of a run, planned on ``pool`` (a pool, or every pool: ``"*"``): work at
        speed 1, workers used, non-compute seconds, and the busy money it cost."""
        pools = self._stages.setdefault(f"{workflow}|{stage}", {})
        entry = pools.get(pool, [0.0, 0.0, 0.0, 0.0, 0])
        pools[pool] = _faded(entry, (work, width, latency, cost), self.STAGE_MEMORY)

    def stage_estimates(self, workflow: str, stage: str) -> dict[str, StageEstimate]:
        """``{pool: StageEstimate}`` learned for a stage (empty when it never ran)."""
        return {
            pool: StageEstimate(work / n, max(width / n, 1.0), latency / n, EstimateSource.LEARNED,
                                cost * 3600.0 / work if work > 0 else None)
            for pool, (work, width, latency, cost, n) in self._stages.get(f"{workflow}|{stage}", {}).items()
            if n
        }

    # ------------------------------------------------------------------ overhead and slippage
    def observe_overhead(self, seconds: float) -> None:
        self._overhead = _faded(self._overhead, (max(float(seconds), 0.0),), self.MEMORY)

    def observe_slippage(self, planned: float, actual: float) -> None:
        """One finished plan: it was to take ``planned`` seconds and took ``actual``."""
        if planned > 0.0 and actual > 0.0:
            self._slippage = _faded(self._slippage, (actual / planned,), self.MEMORY)

    @property
    def slippage(self) -> float:
        """Mean actual / planned makespan of finished plans, within :attr:`SLIPPAGE_RANGE` (1 before any)."""
        total, n = self._slippage
        lo, hi = self.SLIPPAGE_RANGE
        return min(max(total / n, lo), hi) if n else lo

    @property
    def task_overhead(self) -> float:
        """Mean observed per-task overhead in seconds (0 before any observation)."""
        total, n = self._overhead
        return total / n if n else 0.0

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {"version": self.VERSION, "tasks": self._tasks, "tasks_any_pool": self._tasks_any_pool,
                "stages": self._stages, "overhead": self._overhead, "slippage": self._slippage}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostModel:
        model = cls()
        if data.get("version") == 1:  # stage|prefix keys without workflow or pool: kept as "any pool"
            model._tasks_any_pool = {f"None|{k}": [float(v[0]), int(v[1])] for k, v in data.get("observations", {}).items()}
        else:
            model._tasks = {k: [float(v[0]), int(v[1])] for k, v in data.get("tasks", {}).items()}
            model._tasks_any_pool = {k: [float(v[0]), int(v[1])] for k, v in data.get("tasks_any_pool", {}).items()}
            # [work, width, latency, cost, n]; a file of version 2 has no cost: its stages are relearned
            model._stages = {k: {p: [float(x) for x in v[:4]] + [int(v[4])] for p, v in pools.items() if len(v) == 5}
                             for k, pools in data.get("stages", {}).items()}
        for name in ("overhead", "slippage"):
            value = data.get(name)
            if value:
                setattr(model, f"_{name}", [float(value[0]), int(value[1])])
        return model
