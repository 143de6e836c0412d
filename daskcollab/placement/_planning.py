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

from collections import deque
from collections.abc import Hashable, Sequence

from daskcollab.placement._heft import _gc_paused, _Graph
from daskcollab.placement._search import _choose, _to_plan
from daskcollab.placement._spec import (
    DEFAULT_TRADEOFF,
    Assignment,
    CostBasis,
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


__all__ = [
    "DEFAULT_TRADEOFF", "Assignment", "CostBasis", "LowerBounds", "Mode", "Objective", "Plan", "Pool", "TaskSpec",
    "coarsen", "eligible_pools", "lower_bounds", "plan", "unplaceable",
]
