"""Cost-aware placement policy: pure functions over plain data (no Dask).

Given a task DAG (:class:`TaskSpec`: work, dependencies, resources, priority, pinned pool) and
worker pools (:class:`Pool`: price, speed, size), :func:`plan` returns a pool and worker per task
with the predicted makespan and cost (busy worker-seconds x ``price_per_hour`` / 3600):

* ``fastest``: HEFT list scheduling with insertion; tasks in decreasing upward rank (work at the
  mean eligible speed; annotated priorities first among ready tasks), each to the pool where it
  finishes first, at the end of a worker's queue or in an idle gap it fits.
* ``cheapest``: every task on its cheapest pool per unit of work (the cost lower bound); with a
  deadline, the cheapest plan found that meets it (candidates: critical-path climbing, slack-guided
  passes, serial tasks pinned to faster pools; refined by slack reclamation). Along a ladder of
  tighter limits the best plan so far stays a candidate, so a looser deadline does not get a
  more expensive plan.
* ``balanced``: the same search within ``(1 + tradeoff)`` times the fastest plan's makespan
  (default ``tradeoff`` 0.5), or within the deadline when one is given. With a budget, a binary
  search finds the smallest makespan whose cost fits.

The passes and searches live in :mod:`._heft` (graph, list scheduling with insertion) and
:mod:`._search`; :func:`~daskcollab.placement.pareto_front` returns the cost/makespan
trade-offs instead of one plan, and :func:`~daskcollab.placement.cost_lower_bound` the least cost
any plan can reach within a makespan. A pass is ``O((V + E) log W)``-ish: one sorted list of
worker free times and one of idle gaps per pool (bisect).

>>> pools = [Pool("spot", 0.1, 1.0, 2), Pool("fast", 0.4, 2.0, 1)]
>>> tasks = [TaskSpec("a", 10.0), TaskSpec("b", 10.0, ("a",))]
>>> plan(tasks, pools, Objective(Mode.FASTEST)).makespan
10.0
>>> plan(tasks, pools, Objective(Mode.CHEAPEST)).pool_of("b")
'spot'
"""

from __future__ import annotations

import json
import pathlib
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from daskcollab.placement._heft import _gc_paused, _Graph
from daskcollab.placement._search import _choose, _to_plan
from daskcollab.placement._spec import (
    DEFAULT_TRADEOFF,
    Assignment,
    LowerBounds,
    Mode,
    Objective,
    Plan,
    Pool,
    TaskSpec,
    eligible_pools,
    unplaceable,
)


def plan(
    tasks: Sequence[TaskSpec], pools: Sequence[Pool], objective: Objective = Objective(), *, task_overhead: float = 0.0
) -> Plan:
    """Place every task on a pool and worker for ``objective`` (see the module docstring).

    ``task_overhead`` is the time a worker spends on each task besides its work (dispatch,
    fetching inputs), in seconds; it lengthens the schedule but is not charged as work
    (:attr:`CostModel.task_overhead` learns it from runs).

    Raises :class:`~daskcollab._errors.UnplaceableError` when a task fits no pool and
    :class:`~daskcollab._errors.WorkflowError` on a dependency cycle or duplicate key.

    >>> pools = [Pool("spot", 0.1, 1.0, 1), Pool("fast", 0.4, 2.0, 1)]
    >>> p = plan([TaskSpec("a", 10.0)], pools, Objective(Mode.CHEAPEST))
    >>> p.pool_of("a"), p.makespan
    ('spot', 10.0)
    """
    tasks, pools = list(tasks), list(pools)
    with _gc_paused():
        g = _Graph(tasks, pools, task_overhead)
        return _to_plan(g, _choose(g, objective), objective)


#: Above this many tasks, :func:`coarsen` bundles interchangeable tasks before planning.
COARSEN_ABOVE = 4_000


def coarsen(tasks: Sequence[TaskSpec], max_tasks: int = COARSEN_ABOVE) -> tuple[list[TaskSpec], dict[Hashable, Hashable]]:
    """Bundle interchangeable tasks so at most about ``max_tasks`` remain to plan.

    Tasks are interchangeable when they share stage, resources, pin, priority and depth (longest
    dependency chain from a source within ``tasks``, so none depends on another and bundles keep
    the graph acyclic). Each bundle of up to ``ceil(n / max_tasks)`` of them becomes one task with
    their summed work and the union of their dependencies' bundles. Planning then decides how much
    of a wide stage goes to each pool at a fraction of the cost, as a stage of 50,000 tiny tasks
    needs. Returns the tasks to plan and ``{original key: bundle key}`` (empty when nothing was
    bundled: ``tasks`` is returned as it is).

    >>> tasks = [TaskSpec(i, 1.0, stage="map") for i in range(10)] + [TaskSpec("r", 1.0, tuple(range(10)))]
    >>> bundled, bundle_of = coarsen(tasks, max_tasks=4)
    >>> len(bundled), bundled[0].work, bundle_of[0] == bundle_of[2]
    (5, 3.0, True)
    """
    n = len(tasks)
    if n <= max_tasks:
        return list(tasks), {}
    size = -(-n // max(int(max_tasks), 1))
    index = {t.key: i for i, t in enumerate(tasks)}
    deps = [[index[d] for d in t.dependencies if d in index] for t in tasks]
    children: list[list[int]] = [[] for _ in range(n)]
    for i, ds in enumerate(deps):
        for d in ds:
            children[d].append(i)
    indeg = [len(ds) for ds in deps]
    depth = [0] * n
    queue = deque(i for i in range(n) if indeg[i] == 0)
    seen = 0
    while queue:
        i = queue.popleft()
        seen += 1
        for c in children[i]:
            if depth[i] + 1 > depth[c]:
                depth[c] = depth[i] + 1
            indeg[c] -= 1
            if indeg[c] == 0:
                queue.append(c)
    if seen < n:
        return list(tasks), {}  # a cycle: let plan() report it on the original keys
    groups: dict[tuple, list[int]] = {}
    for i, t in enumerate(tasks):
        sig = (t.stage, t.pool, t.priority, depth[i], tuple(sorted((str(r), float(q)) for r, q in t.resources.items())))
        groups.setdefault(sig, []).append(i)
    bundle_of: dict[Hashable, Hashable] = {}
    owner = [0] * n
    members: list[list[int]] = []
    for g, idx in enumerate(groups.values()):
        for b in range(0, len(idx), size):
            chunk = idx[b : b + size]
            key = ("daskcollab-bundle", g, b // size) if len(chunk) > 1 else tasks[chunk[0]].key
            for i in chunk:
                owner[i] = len(members)
                bundle_of[tasks[i].key] = key
            members.append(chunk)
    out = []
    for chunk in members:
        first = tasks[chunk[0]]
        key = bundle_of[first.key]
        dep_keys = {bundle_of[tasks[d].key] for i in chunk for d in deps[i]}
        dep_keys.update(d for i in chunk for d in tasks[i].dependencies if d not in index)  # outside: kept
        out.append(TaskSpec(key, sum(tasks[i].work for i in chunk), tuple(dep_keys), first.resources,
                            first.priority, first.stage, first.pool))
    return out, bundle_of


def lower_bounds(tasks: Sequence[TaskSpec], pools: Sequence[Pool]) -> LowerBounds:
    """Critical path at the fastest eligible speeds; total work / total speed; Σ work · min(price/speed).

    >>> lower_bounds([TaskSpec("a", 8.0)], [Pool("p", 3.6, 2.0, 2)])
    LowerBounds(critical_path=4.0, work_over_speed=2.0, cost=0.004)
    """
    tasks, pools = list(tasks), list(pools)
    with _gc_paused():
        g = _Graph(tasks, pools)
    crit = max((g.rest[i] + g.work[i] / g.fast[g.sig[i]] for i in range(g.n)), default=0.0)
    capacity = sum(p.speed * max(int(p.workers), 1) for p in pools) or 1.0
    cost = sum(g.work[i] * (pools[g.opts[g.sig[i]][0][0]].price_per_hour / pools[g.opts[g.sig[i]][0][0]].speed)
               for i in range(g.n)) / 3600.0
    return LowerBounds(crit, sum(g.work) / capacity, cost)


# --------------------------------------------------------------------------- cost model


class CostModel:
    """What runs taught: average work (duration x speed) per (stage, prefix); the average
    per-task overhead (a worker's wait between a task being runnable there and its start:
    dispatch and input transfer); and the slippage, how much longer runs took than planned
    (actual / planned makespan; deadline plans aim that much earlier). JSON round-trip; the two
    averages forget old runs slowly (at most :attr:`OVERHEAD_MEMORY` observations weigh in)."""

    OVERHEAD_MEMORY = 2_000

    #: Slippage is clamped to this range: a plan is never assumed faster, nor more than 3x slower.
    SLIPPAGE_RANGE = (1.0, 3.0)

    def __init__(self, observations: Mapping[str, tuple[float, int]] | None = None,
                 overhead: tuple[float, int] | None = None, slippage: tuple[float, int] | None = None) -> None:
        self._obs: dict[str, list[float]] = {k: [float(v[0]), int(v[1])] for k, v in (observations or {}).items()}
        self._overhead = [float(overhead[0]), int(overhead[1])] if overhead else [0.0, 0]
        self._slippage = [float(slippage[0]), int(slippage[1])] if slippage else [0.0, 0]

    @staticmethod
    def _key(stage: str | None, prefix: str | None) -> str:
        return f"{stage}|{prefix}"

    def estimate(self, stage: str | None, prefix: str | None, pool: str | None, default_work: float) -> float:
        total, n = self._obs.get(self._key(stage, prefix), (0.0, 0))
        return total / n if n else float(default_work)

    def observe(self, stage: str | None, prefix: str | None, pool: str | None, duration: float, speed: float) -> None:
        entry = self._obs.setdefault(self._key(stage, prefix), [0.0, 0])
        entry[0] += duration * speed
        entry[1] += 1

    def observe_overhead(self, seconds: float) -> None:
        self._overhead = self._faded(self._overhead, max(float(seconds), 0.0))

    def observe_slippage(self, planned: float, actual: float) -> None:
        """One finished plan: it was to take ``planned`` seconds and took ``actual``."""
        if planned > 0.0 and actual > 0.0:
            self._slippage = self._faded(self._slippage, actual / planned)

    def _faded(self, entry: list[float], value: float) -> list[float]:
        total, n = entry
        if n >= self.OVERHEAD_MEMORY:  # keep the mean, halve its weight: recent runs count more
            total, n = total / 2.0, int(n) // 2
        return [total + value, int(n) + 1]

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

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "observations": {k: list(v) for k, v in self._obs.items()},
                "overhead": list(self._overhead), "slippage": list(self._slippage)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostModel:
        overhead, slippage = data.get("overhead"), data.get("slippage")
        return cls({k: (v[0], v[1]) for k, v in data.get("observations", {}).items()},
                   (overhead[0], overhead[1]) if overhead else None, (slippage[0], slippage[1]) if slippage else None)

    def save(self, path: str | pathlib.Path) -> None:
        pathlib.Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | pathlib.Path) -> CostModel:
        return cls.from_dict(json.loads(pathlib.Path(path).read_text()))


__all__ = [
    "DEFAULT_TRADEOFF", "Assignment", "CostModel", "LowerBounds", "Mode", "Objective", "Plan", "Pool", "TaskSpec",
    "coarsen", "eligible_pools", "lower_bounds", "plan", "unplaceable",
]
