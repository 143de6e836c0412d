"""Cost-aware placement policy: pure functions over plain data (no Dask).

Given a task DAG (:class:`TaskSpec`: work, dependencies, resources, priority, pinned pool) and
worker pools (:class:`Pool`: price, speed, size), :func:`plan` returns a pool and worker per task
with the predicted makespan and cost (busy worker-seconds x ``price_per_hour`` / 3600):

* ``fastest``: HEFT list scheduling; tasks in decreasing upward rank (work at the mean eligible
  speed; annotated priorities first among ready tasks), each to the pool whose earliest free
  worker gives the earliest finish.
* ``cheapest``: every task on its cheapest pool per unit of work (the cost lower bound); with a
  deadline, critical-path tasks climb to faster pools (IC-PCP flavour) and a slack-guided pass
  competes; the cheapest plan that meets the deadline wins.
* ``balanced``: the cheapest plan whose makespan is at most ``(1 + tradeoff)`` times the
  fastest plan's (default ``tradeoff`` 0.5), or within the deadline when one is given: slack-guided
  passes where each task takes the cheapest pool that still finishes by its latest finish time
  (the target's share along the task's longest path, or the target minus the longest remaining
  path at the fastest speeds; the target bisected down to the limit). With a budget, a binary
  search finds the smallest makespan whose cost fits.

A deadline-bound plan (``cheapest`` with a deadline, ``balanced``) is then refined by slack
reclamation: the tasks with the most slack under the plan's time limit move back to cheaper pools
in batches, as long as the rescheduled plan still meets the limit.

Every pass is ``O((V + E) log W)`` with one sorted list of worker free times per pool
(bisect: best-fit worker, the earliest free time gives the pool's offer).

>>> pools = [Pool("spot", 0.1, 1.0, 2), Pool("fast", 0.4, 2.0, 1)]
>>> tasks = [TaskSpec("a", 10.0), TaskSpec("b", 10.0, ("a",))]
>>> plan(tasks, pools, Objective(Mode.FASTEST)).makespan
10.0
>>> plan(tasks, pools, Objective(Mode.CHEAPEST)).pool_of("b")
'spot'
"""

from __future__ import annotations

import heapq
from bisect import bisect_right, insort
import math
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from daskcollab._errors import UnplaceableError, WorkflowError, stage_message

_EPS = 1e-9
_BIG = 1 << 62
#: Default makespan ``balanced`` may add to the fastest plan's, as a fraction (0.5: 50 % slower at most).
DEFAULT_TRADEOFF = 0.5


@dataclass(frozen=True)
class Pool:
    """A set of identical workers: ``price_per_hour`` per worker, relative ``speed``.

    ``workers`` is the pool's size now (or at start); an elastic pool may be scaled between
    ``min_workers`` and ``max_workers`` (``min`` / ``max`` in a pools file). Both default to
    ``workers``: a pool that declares no bounds stays the size it is.

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

    def __post_init__(self) -> None:
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


@dataclass(frozen=True)
class Objective:
    """What to optimise: ``mode``; optional ``budget`` ($), ``deadline`` (s) and, for
    ``balanced``, ``tradeoff``: the makespan it may add to the fastest plan's, as a fraction."""

    mode: Mode = Mode.BALANCED
    budget: float | None = None
    deadline: float | None = None
    tradeoff: float | None = None


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


def _fits(task: TaskSpec, pool: Pool) -> bool:
    if task.pool is not None and pool.name != task.pool:
        return False
    return all(float(pool.resources.get(r, 0.0)) >= float(q) for r, q in task.resources.items())


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


# --------------------------------------------------------------------------- graph


class _Graph:
    """Integer-indexed DAG with per-signature pool options, topological order and ranks."""

    def __init__(self, tasks: Sequence[TaskSpec], pools: Sequence[Pool], overhead: float = 0.0) -> None:
        if not overhead >= 0.0:
            raise WorkflowError(f"planning, field 'task_overhead': expected seconds >= 0, got {overhead!r}. Fix: pass 0 or more")
        self.overhead = ov = float(overhead)
        for p in pools:
            if not p.speed > 0:
                raise WorkflowError(f"pool {p.name!r}, field 'speed': expected > 0, got {p.speed!r}. Fix: give a positive speed")
        self.tasks = tasks
        self.pools = pools
        self.n = n = len(tasks)
        index: dict[Hashable, int] = {}
        for i, t in enumerate(tasks):
            if t.key in index:
                raise WorkflowError(f"task {t.key!r}: the key appears twice. Fix: give every task a unique key")
            index[t.key] = i
        self.work = [max(float(t.work), 0.0) for t in tasks]
        self.deps = [[index[d] for d in t.dependencies if d in index] for t in tasks]
        children: list[list[int]] = [[] for _ in range(n)]
        for i, ds in enumerate(self.deps):
            for d in ds:
                children[d].append(i)
        self.children = children
        self.prio = [int(t.priority or 0) for t in tasks]
        # topological order (Kahn); leftovers are on or behind a cycle
        indeg = [len(ds) for ds in self.deps]
        queue = deque(i for i in range(n) if indeg[i] == 0)
        order: list[int] = []
        while queue:
            i = queue.popleft()
            order.append(i)
            for c in children[i]:
                indeg[c] -= 1
                if indeg[c] == 0:
                    queue.append(c)
        if len(order) < n:
            stuck = [tasks[i].key for i in range(n) if indeg[i] > 0][:5]
            raise WorkflowError(
                f"task graph: expected a DAG, got a dependency cycle through {stuck!r}. Fix: remove the cyclic dependency"
            )
        self.order = order
        # pool options per (pin, resources) signature
        sig_index: dict[tuple, int] = {}
        self.sig = sig = [0] * n
        self.opts: list[list[tuple[int, float]]] = []  # (pool, speed), sorted by price/speed then speed desc
        self.fast: list[float] = []
        self.avg: list[float] = []
        self.ladder: list[list[int]] = []  # cheapest first, each rung strictly faster
        missing: dict[Hashable, str] = {}
        for i, t in enumerate(tasks):
            key = (t.pool, tuple(sorted((str(r), float(q)) for r, q in t.resources.items())))
            s = sig_index.get(key)
            if s is None:
                s = sig_index[key] = len(self.opts)
                el = [j for j, p in enumerate(pools) if _fits(t, p)]
                el.sort(key=lambda j: (pools[j].price_per_hour / pools[j].speed, -pools[j].speed, j))
                self.opts.append([(j, pools[j].speed) for j in el])
                self.fast.append(max((pools[j].speed for j in el), default=0.0))
                self.avg.append(sum(pools[j].speed for j in el) / len(el) if el else 0.0)
                ladder: list[int] = []
                for j in el:
                    if not ladder or pools[j].speed > pools[ladder[-1]].speed:
                        ladder.append(j)
                self.ladder.append(ladder)
            if not self.opts[s]:
                missing[t.key] = _unplaceable_message(t, pools)
            sig[i] = s
        if missing:
            first = next(iter(missing.values()))
            more = f" (and {len(missing) - 1} more tasks)" if len(missing) > 1 else ""
            raise UnplaceableError(first + more)
        # upward rank (mean speed) and remaining downward path at the fastest speeds
        work, avg, fast = self.work, self.avg, self.fast
        rank = [0.0] * n
        rest = [0.0] * n
        for i in reversed(order):
            r = 0.0
            q = 0.0
            for c in children[i]:
                if rank[c] > r:
                    r = rank[c]
                x = rest[c] + work[c] / fast[sig[c]] + ov
                if x > q:
                    q = x
            rank[i] = work[i] / avg[sig[i]] + ov + r
            rest[i] = q
        self.rank = rank
        self.rest = rest
        # share of each task's longest path (fastest speeds) done when it finishes: its slack share
        top = [0.0] * n
        frac = [1.0] * n
        for i in order:
            t0 = 0.0
            for d in self.deps[i]:
                if top[d] > t0:
                    t0 = top[d]
            top[i] = t0 + work[i] / fast[sig[i]] + ov
            whole = top[i] + rest[i]
            if whole > 0:
                frac[i] = top[i] / whole
        self.frac = frac
        self.rkey = [(-self.prio[i], -rank[i], i) for i in range(n)]


@dataclass
class _Sched:
    start: list[float]
    finish: list[float]
    pool: list[int]
    worker: list[int]
    prev: list[int]  # the task before it on the same worker (-1: none)
    busy: list[float]
    used: list[int]
    makespan: float
    cost: float


_EFT, _FIXED, _LFT, _LATEST = 0, 1, 2, 3


def _schedule(g: _Graph, kind: int, fixed: list[int] | None = None, target: float = math.inf) -> _Sched:
    """One list-scheduling pass. ``kind``: earliest finish, a fixed pool per task, or slack-guided.

    Each pool keeps its workers' free times sorted: the earliest is the pool's offer, and a task
    goes to the worker freed last before its start (best fit, so no idle gap is wasted). A task
    holds its worker for ``g.overhead`` (dispatch) before it starts; cost counts only its run.
    """
    ov = g.overhead
    pools = g.pools
    n = g.n
    heaps = [[(0.0, w) for w in range(max(int(p.workers), 1))] for p in pools]
    last = [[-1] * len(h) for h in heaps]
    speeds = [p.speed for p in pools]
    rates = [p.price_per_hour / p.speed for p in pools]
    start = [0.0] * n
    fin = [0.0] * n
    where = [0] * n
    wid = [0] * n
    prev = [-1] * n
    busy = [0.0] * len(pools)
    used = [0] * len(pools)
    deps, children, work, sig, opts, frac, rest, rkey = g.deps, g.children, g.work, g.sig, g.opts, g.frac, g.rest, g.rkey
    indeg = [len(d) for d in deps]
    ready = [rkey[i] for i in range(n) if indeg[i] == 0]
    heapq.heapify(ready)
    pop, push = heapq.heappop, heapq.heappush
    makespan = 0.0
    while ready:
        i = pop(ready)[2]
        r = 0.0
        for d in deps[i]:
            f = fin[d]
            if f > r:
                r = f
        w = work[i]
        if kind == _FIXED:
            best = fixed[i]  # type: ignore[index]
            free = heaps[best][0][0]
            bf = (r if r > free else free) + w / speeds[best] + ov
        elif kind == _EFT:
            best, bf, bc = -1, math.inf, math.inf
            for j, sp in opts[sig[i]]:
                free = heaps[j][0][0]
                f = (r if r > free else free) + w / sp + ov
                if f < bf - _EPS or (f <= bf + _EPS and rates[j] < bc):
                    best, bf, bc = j, f, rates[j]
        else:
            if kind == _LFT:
                lft = target * frac[i] + _EPS * (1.0 + target)
            else:
                lft = target - rest[i] + _EPS * (1.0 + target)
            best, bf, ef, eb = -1, math.inf, math.inf, -1
            for j, sp in opts[sig[i]]:  # cheapest per unit of work first
                free = heaps[j][0][0]
                f = (r if r > free else free) + w / sp + ov
                if f <= lft:
                    best, bf = j, f
                    break
                if f < ef:
                    ef, eb = f, j
            if best < 0:
                best, bf = eb, ef
        h = heaps[best]
        d = w / speeds[best]
        st = bf - d
        k = bisect_right(h, (st - ov, _BIG)) - 1  # best fit: the worker freed last before the start
        if k < 0:
            k = 0
        wk = h[k][1]
        del h[k]
        insort(h, (bf, wk))
        start[i] = st
        fin[i] = bf
        where[i] = best
        wid[i] = wk
        lw = last[best]
        prev[i] = lw[wk]
        lw[wk] = i
        busy[best] += d
        used[best] += 1
        if bf > makespan:
            makespan = bf
        for c in children[i]:
            indeg[c] -= 1
            if indeg[c] == 0:
                push(ready, rkey[c])
    cost = sum(b * p.price_per_hour / 3600.0 for b, p in zip(busy, pools))
    return _Sched(start, fin, where, wid, prev, busy, used, makespan, cost)


def _cheapest_pools(g: _Graph) -> list[int]:
    return [g.opts[s][0][0] for s in g.sig]


def _critical_path(g: _Graph, s: _Sched) -> list[int]:
    """Longest chain under the schedule: each step back is the binding dependency or the worker queue."""
    if not g.n:
        return []
    i = max(range(g.n), key=s.finish.__getitem__)
    out = []
    while i >= 0:
        out.append(i)
        st = s.start[i]
        nxt = -1
        for d in g.deps[i]:
            if s.finish[d] >= st - _EPS * (1.0 + st) and (nxt < 0 or s.finish[d] > s.finish[nxt]):
                nxt = d
        if nxt < 0:
            p = s.prev[i]
            nxt = p if p >= 0 and s.finish[p] >= st - _EPS * (1.0 + st) else -1
        i = nxt
    return out


def _icpcp(g: _Graph, deadline: float, max_rounds: int) -> _Sched:
    """Start all-cheapest; move critical-path tasks one rung faster until the deadline holds."""
    level = [0] * g.n
    ladder, sig = g.ladder, g.sig
    fixed = [ladder[sig[i]][0] for i in range(g.n)]
    s = _schedule(g, _FIXED, fixed)
    for _ in range(max_rounds):
        if s.makespan <= deadline * (1 + _EPS):
            break
        moved = False
        for i in _critical_path(g, s):
            rungs = ladder[sig[i]]
            if level[i] + 1 < len(rungs):
                level[i] += 1
                fixed[i] = rungs[level[i]]
                moved = True
        if not moved:
            break
        s = _schedule(g, _FIXED, fixed)
    return s


def _fits_budget(s: _Sched, budget: float | None) -> bool:
    return budget is None or s.cost <= budget * (1 + _EPS)


def _within(s: _Sched, limit: float) -> bool:
    return s.makespan <= limit * (1 + _EPS)


def _slack_search(g: _Graph, limit: float, lo: float, rounds: int) -> list[_Sched]:
    """Slack-guided passes with targets in ``[lo, limit]``: the largest whose makespan fits ``limit``."""
    out: list[_Sched] = []
    for kind in (_LFT, _LATEST):
        out.append(_schedule(g, kind, target=limit))
        if _within(out[-1], limit) or lo >= limit:
            continue
        out += _bisect_target(g, kind, lo, limit, rounds, lambda s: _within(s, limit))
    return out


def _bisect_target(g: _Graph, kind: int, lo: float, hi: float, rounds: int, raise_lo: Any) -> list[_Sched]:
    """Slack-guided passes bisecting the target in ``[lo, hi]``; ``raise_lo(plan)`` picks the half."""
    out = []
    for _ in range(rounds):
        mid = 0.5 * (lo + hi)
        s = _schedule(g, kind, target=mid)
        out.append(s)
        if raise_lo(s):
            lo = mid
        else:
            hi = mid
    return out


def _choose(g: _Graph, objective: Objective) -> _Sched:
    mode = Mode(objective.mode)
    budget, deadline = objective.budget, objective.deadline
    rounds = 6 if g.n <= 20_000 else 3
    reclaim_rounds = 3 if g.n <= 20_000 else 1
    if mode is Mode.FASTEST:
        return _schedule(g, _EFT)
    if mode is Mode.CHEAPEST:
        cheap = _schedule(g, _FIXED, _cheapest_pools(g))
        if deadline is None or _within(cheap, deadline):
            return cheap
        fast = _schedule(g, _EFT)
        cands = [cheap, fast, _icpcp(g, deadline, 40 if g.n <= 20_000 else 4)]
        cands += _slack_search(g, deadline, fast.makespan, rounds)
        ok = [s for s in cands if _within(s, deadline)]
        if not ok:
            return min(cands, key=lambda s: (s.makespan, s.cost))
        return _reclaim(g, min(ok, key=lambda s: (s.cost, s.makespan)), deadline, reclaim_rounds)
    # balanced
    fast = _schedule(g, _EFT)
    if budget is not None:
        if _fits_budget(fast, budget):
            return fast
        cheap = _schedule(g, _FIXED, _cheapest_pools(g))
        if not _fits_budget(cheap, budget):
            return cheap
        # the smallest target whose plan fits the budget
        cands = [fast, cheap] + _bisect_target(
            g, _LFT, fast.makespan, max(cheap.makespan, fast.makespan), rounds + 2, lambda s: not _fits_budget(s, budget)
        )
        ok = [s for s in cands if _fits_budget(s, budget)]
        if deadline is not None and any(_within(s, deadline) for s in ok):
            ok = [s for s in ok if _within(s, deadline)]
        return min(ok, key=lambda s: (s.makespan, s.cost))
    if deadline is not None:
        limit = max(deadline, fast.makespan)
        cands = [fast] + _slack_search(g, limit, fast.makespan, rounds)
        ok = [s for s in cands if _within(s, limit)] or [fast]
        return _reclaim(g, min(ok, key=lambda s: (s.cost, s.makespan)), limit, reclaim_rounds)
    eps = DEFAULT_TRADEOFF if objective.tradeoff is None else max(float(objective.tradeoff), 0.0)
    limit = fast.makespan * (1.0 + eps)
    cands = [fast] + _slack_search(g, limit, fast.makespan, rounds)
    ok = [s for s in cands if _within(s, limit)] or [fast]
    return _reclaim(g, min(ok, key=lambda s: (s.cost, s.makespan)), limit, reclaim_rounds)


def _reclaim(g: _Graph, s: _Sched, limit: float, rounds: int) -> _Sched:
    """Slack reclamation: move tasks back to cheaper pools while the plan still meets ``limit``.

    Each round computes every task's latest finish under ``limit`` (its children, and the next task
    on its worker while it stays there, must still start in time), picks for each task the cheapest
    pool whose longer run still lets its children start in time, and applies the moves in order of money saved: all of them if the
    rescheduled plan meets ``limit``, else the largest prefix found by bisection.
    """
    n = g.n
    pools = g.pools
    rates = [p.price_per_hour / p.speed for p in pools]
    pos = [0] * n
    for k, i in enumerate(g.order):
        pos[i] = k
    for _ in range(rounds):
        if not _within(s, limit):
            return s
        nxt = [-1] * n
        for i in range(n):
            if s.prev[i] >= 0:
                nxt[s.prev[i]] = i
        latest_start = [0.0] * n
        moves: list[tuple[float, int, int]] = []
        for i in sorted(range(n), key=lambda i: (s.start[i], s.finish[i], pos[i]), reverse=True):
            lf = limit  # latest finish for its children (a task that moves leaves its worker queue)
            for c in g.children[i]:
                if latest_start[c] < lf:
                    lf = latest_start[c]
            cur = s.pool[i]
            w = g.work[i]
            slack = lf - s.finish[i]
            if nxt[i] >= 0 and latest_start[nxt[i]] < lf:
                lf = latest_start[nxt[i]]  # ... but while it stays, the next task on its worker waits for it
            latest_start[i] = lf - w / pools[cur].speed - g.overhead
            for j, sp in g.opts[g.sig[i]]:  # cheapest per unit of work first
                if rates[j] >= rates[cur] - _EPS:
                    break
                if w / sp - w / pools[cur].speed <= slack:
                    moves.append((w * (rates[cur] - rates[j]), i, j))
                    break
        if not moves:
            return s
        moves.sort(reverse=True)
        base = list(s.pool)

        def apply(k: int) -> _Sched:
            fixed = list(base)
            for _saving, i, j in moves[:k]:
                fixed[i] = j
            return _schedule(g, _FIXED, fixed)

        best = apply(len(moves))
        if not _within(best, limit):
            lo, hi, best = 0, len(moves), s
            for _step in range(8 if n <= 20_000 else 3):
                if hi - lo <= 1:
                    break
                mid = (lo + hi) // 2
                t = apply(mid)
                if _within(t, limit):
                    lo, best = mid, t
                else:
                    hi = mid
        if best.cost >= s.cost - _EPS * (1.0 + s.cost):
            return s
        s = best
    return s


def _to_plan(g: _Graph, s: _Sched, objective: Objective) -> Plan:
    names = [p.name for p in g.pools]
    keys = [t.key for t in g.tasks]
    assignments = {keys[i]: Assignment(names[s.pool[i]], s.worker[i], s.start[i], s.finish[i]) for i in range(g.n)}
    busy = {names[j]: s.busy[j] for j in range(len(names)) if s.used[j]}
    cost_by_pool = {names[j]: s.busy[j] * g.pools[j].price_per_hour / 3600.0 for j in range(len(names)) if s.used[j]}
    cost = sum(cost_by_pool.values())
    meets_d = None if objective.deadline is None else s.makespan <= float(objective.deadline) * (1 + _EPS)
    meets_b = None if objective.budget is None else cost <= float(objective.budget) * (1 + _EPS)
    return Plan(assignments, s.makespan, cost, cost_by_pool, busy, objective, meets_b, meets_d)


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
    g = _Graph(tasks, pools)
    crit = max((g.rest[i] + g.work[i] / g.fast[g.sig[i]] for i in range(g.n)), default=0.0)
    capacity = sum(p.speed * max(int(p.workers), 1) for p in pools) or 1.0
    cost = sum(g.work[i] * (pools[g.opts[g.sig[i]][0][0]].price_per_hour / pools[g.opts[g.sig[i]][0][0]].speed)
               for i in range(g.n)) / 3600.0
    return LowerBounds(crit, sum(g.work) / capacity, cost)


__all__ = [
    "Assignment", "LowerBounds", "Mode", "Objective", "Plan", "Pool", "TaskSpec",
    "coarsen", "eligible_pools", "lower_bounds", "plan", "unplaceable",
]
