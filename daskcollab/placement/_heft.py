"""List scheduling over an integer-indexed task graph, with insertion into idle gaps (pure, no Dask).

:class:`_Graph` validates tasks against pools once (eligibility per signature, topological order,
upward ranks, each task's remaining path at the fastest speeds); :func:`_schedule` is one
list-scheduling pass, the building block of every search in :mod:`._search`.

A pass takes ready tasks in (annotated priority, upward rank) order and puts each where it
finishes first (or on a fixed pool, or on the cheapest pool that meets a latest finish time). A
task may start in an idle gap a worker left between two tasks when it fits there (HEFT with
insertion, Topcuoglu et al. 2002), so a short task fills the wait of a worker kept idle by a
dependency instead of queueing behind the busy ones. Each pool keeps its workers' free times
sorted and its idle gaps sorted by their start: the pool's offer is its earliest free worker or,
when every worker is busy at the ready time, the first gap that fits, found by bisection. Small
plans (up to :data:`EXACT_INSERTION_UP_TO` tasks) consider every gap; larger ones look at a few
gaps either side of the ready time and keep a bounded number per pool, so a pass stays
``O((V + E) log W)``-ish.
"""

from __future__ import annotations

import gc
import heapq
import math
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from daskcollab._errors import UnplaceableError, WorkflowError
from daskcollab.placement._spec import Pool, TaskSpec, _fits, _unplaceable_message

_EPS = 1e-9
_BIG = 1 << 62
#: Plans up to this many tasks look at every idle gap when inserting a task.
EXACT_INSERTION_UP_TO = 4_000
#: Plans up to this many tasks insert in every pass of a search; larger ones only in the last.
INSERT_ALL_PASSES_UP_TO = 20_000
#: Plans up to this many tasks compute ancestor/descendant sets (bitsets: n^2 / 8 bytes).
CLOSURE_UP_TO = 5_000
#: A task is serial when what can run beside it is at most this share of its own work ...
SERIAL_SIDE_WORK = 0.25
#: ... and at most this many tasks.
SERIAL_SIDE_TASKS = 64


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while planning: passes build millions of small acyclic
    tuples (freed by reference counting), and each collection the allocations trigger would walk
    the live ones again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
        self.deps = [list(dict.fromkeys(index[d] for d in t.dependencies if d in index)) for t in tasks]
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
        self.top = top  # earliest finish at the fastest speeds (overhead included)
        self.rkey = [(-self.prio[i], -rank[i], i) for i in range(n)]
        # ready tasks leave a heap of ints: their position in (priority, upward rank) order
        self.byrank = sorted(range(n), key=self.rkey.__getitem__)
        self.pos = pos = [0] * n
        for k, i in enumerate(self.byrank):
            pos[i] = k
        # the shortest time any task holds a worker of each pool: shorter idle gaps are not kept
        least = [math.inf] * len(self.opts)
        for i in range(n):
            if work[i] < least[sig[i]]:
                least[sig[i]] = work[i]
        shortest = [math.inf] * len(pools)
        for s, opt in enumerate(self.opts):
            for j, sp in opt:
                d = least[s] / sp + ov
                if d < shortest[j]:
                    shortest[j] = d
        self.gmin = [max(d, _EPS) for d in shortest]
        # insertion looks at every idle gap of small plans, a window of them around the ready time in large ones
        self.insert = n <= INSERT_ALL_PASSES_UP_TO  # larger plans insert in their final pass only
        self.scan = _BIG if n <= EXACT_INSERTION_UP_TO else 8
        self.gap_cap = _BIG if n <= EXACT_INSERTION_UP_TO else 4 * max((int(p.workers) for p in pools), default=1) + 64
        self._serial: list[bool] | None = None
        self._closure: tuple[list[int], list[int]] | None = None

    def closure(self) -> tuple[list[int], list[int]] | None:
        """Each task's ancestors and descendants as bitsets (Python ints); ``None`` above
        :data:`CLOSURE_UP_TO` tasks."""
        if self._closure is None and self.n <= CLOSURE_UP_TO:
            n = self.n
            anc = [0] * n
            for i in self.order:
                m = 0
                for d in self.deps[i]:
                    m |= anc[d] | (1 << d)
                anc[i] = m
            desc = [0] * n
            for i in reversed(self.order):
                m = 0
                for c in self.children[i]:
                    m |= desc[c] | (1 << c)
                desc[i] = m
            self._closure = (anc, desc)
        return self._closure

    def serial(self) -> list[bool]:
        """Per task: is it serial, so that little work can run beside it?

        Serial: the tasks that are neither its ancestors nor its descendants hold at most
        :data:`SERIAL_SIDE_WORK` of its own work (a long tail task beside a tiny one is serial).
        Above :data:`CLOSURE_UP_TO` tasks only the strict case is found (no task beside it at
        all), in ``O(V + E)``: a task at position ``k`` of a topological order is strict-serial
        when every task before it without a child before it is a parent of it (so all before are
        ancestors) and every task after it without a parent after it is a child of it.
        """
        if self._serial is not None:
            return self._serial
        n, work = self.n, self.work
        closure = self.closure()
        if closure is not None:
            anc, desc = closure
            full = (1 << n) - 1
            ok = [False] * n
            for i in range(n):
                side = full & ~(anc[i] | desc[i] | (1 << i))
                if side.bit_count() > SERIAL_SIDE_TASKS:
                    continue
                side_work = sum(work[k] for k in range(n) if side >> k & 1) if side else 0.0
                ok[i] = work[i] > 0.0 and side_work <= SERIAL_SIDE_WORK * work[i]
            self._serial = ok
            return ok
        # forward, every task before one is its ancestor; backward, every task after it a descendant
        before = _all_linked(n, self.order, self.deps)
        after = _all_linked(n, self.order[::-1], self.children)
        self._serial = [x and y for x, y in zip(before, after)]
        return self._serial


def _all_linked(n: int, order: Sequence[int], links: Sequence[Sequence[int]]) -> list[bool]:
    """Per task ``t``: are the "open" tasks before ``t`` in ``order`` (those no other task before
    ``t`` links to) all among ``t``'s links?

    With ``links`` the dependencies and ``order`` topological (children and the reversed order),
    that says every task before ``t`` is an ancestor (a descendant) of ``t``: each reaches an open
    task through tasks before ``t``.
    """
    ok = [False] * n
    inside = [0] * n  # how many tasks placed so far link to each one
    open_count = 0  # placed tasks no placed task links to
    for i in order:
        ok[i] = sum(1 for d in links[i] if inside[d] == 0) == open_count
        for d in links[i]:
            inside[d] += 1
            if inside[d] == 1:
                open_count -= 1
        open_count += 1
    return ok


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


#: Kinds of pass: earliest finish, a fixed pool per task, slack-guided (latest finish from the
#: task's share of its longest path, or from its remaining path at the fastest speeds).
_EFT, _FIXED, _LFT, _LATEST = 0, 1, 2, 3


def _schedule(
    g: _Graph,
    kind: int,
    fixed: Sequence[int] | None = None,
    target: float = math.inf,
    insert: bool | None = None,
    share: Sequence[float] | None = None,
) -> _Sched:
    """One list-scheduling pass (see the module docstring).

    ``kind``: :data:`_EFT`, :data:`_FIXED` (``fixed[i]`` is task ``i``'s pool) or slack-guided
    (:data:`_LFT`, :data:`_LATEST`: the cheapest pool that finishes by the task's latest finish
    under ``target``). With another kind, ``fixed[i] >= 0`` pins task ``i`` and ``-1`` leaves it free.
    ``insert``: may a task start in an idle gap (default: ``g.insert``). ``share`` replaces
    ``g.frac`` (the share of the target by which each task must finish) for :data:`_LFT`. A task
    holds its worker for ``g.overhead`` (dispatch) before it starts; cost counts only its run. At
    the end of a worker's queue a task goes to the worker freed last before it (best fit), so the
    idle gap it leaves is as short as possible.
    """
    if insert is None:
        insert = g.insert
    ov = g.overhead
    pools = g.pools
    n = g.n
    npools = len(pools)
    heaps = [[(0.0, w) for w in range(max(int(p.workers), 1))] for p in pools]
    last = [[-1] * len(h) for h in heaps]
    gaps: list[list[tuple[float, float, int, int, int]]] = [[] for _ in pools]  # (begin, end, worker, before, after)
    glen = [0.0] * npools  # an upper bound on each pool's longest gap (0: none)
    glimit = [64] * npools  # prune a pool's gaps when it holds more
    keep_gap = [m if insert else math.inf for m in g.gmin]
    scan, cap = g.scan, g.gap_cap
    speeds = [p.speed for p in pools]
    rates = [p.price_per_hour / p.speed for p in pools]
    start = [0.0] * n
    fin = [0.0] * n
    rt = [0.0] * n  # ready time, set when the last dependency is placed
    where = [0] * n
    wid = [0] * n
    prev = [-1] * n
    busy = [0.0] * npools
    used = [0] * npools
    deps, children, work, sig, opts, rest = g.deps, g.children, g.work, g.sig, g.opts, g.rest
    frac = g.frac if share is None else share
    pos, byrank = g.pos, g.byrank
    indeg = [len(d) for d in deps]
    ready = [pos[i] for i in range(n) if indeg[i] == 0]
    heapq.heapify(ready)
    times = [(0.0, i) for i in range(n) if indeg[i] == 0]  # ready times of ready tasks (lazily cleaned)
    placed = [False] * n
    pop, push = heapq.heappop, heapq.heappush
    inf = math.inf
    tol = _EPS

    def in_gap(gl: list, r: float, dur: float, s_end: float) -> tuple[float, int]:
        """The earliest begin before ``s_end`` in a gap of ``gl`` that holds ``dur`` from ``r``."""
        p = bisect_right(gl, (r, inf))
        need = r + dur - tol
        k = p - 1
        lo = p - scan if p > scan else 0
        while k >= lo:  # gaps open at r: any long enough gives the earliest begin, r itself
            if gl[k][1] >= need:
                return r, k
            k -= 1
        lim = s_end - tol
        hi = min(p + scan, len(gl))
        k = p
        while k < hi:  # gaps opening later: the first long enough
            a, b = gl[k][0], gl[k][1]
            if a >= lim:
                break
            if b - a >= dur - tol:
                return a, k
            k += 1
        return s_end, -1

    makespan = 0.0
    while ready:
        i = byrank[pop(ready)]
        placed[i] = True
        r = rt[i]
        w = work[i]
        pin = fixed[i] if fixed is not None else -1
        gk = -1
        if pin >= 0:
            choices, lft = ((pin, speeds[pin]),), -inf
        else:
            choices = opts[sig[i]]
            if kind == _EFT:
                lft = -inf
            elif kind == _LFT:
                lft = target * frac[i] + _EPS * (1.0 + target)
            else:
                lft = target - rest[i] + _EPS * (1.0 + target)
        best, bf, bc = -1, inf, inf
        for j, sp in choices:  # cheapest per unit of work first
            d = w / sp + ov
            free = heaps[j][0][0]
            k = -1
            if free > r:
                f = free + d
                if glen[j] >= d and free > r + tol:
                    b0, k = in_gap(gaps[j], r, d, free)
                    f = b0 + d
            else:
                f = r + d
            if f <= lft:  # slack-guided: the cheapest pool that finishes in time ...
                best, bf, gk = j, f, k
                break
            if f < bf - _EPS or (f <= bf + _EPS and rates[j] < bc):  # ... else the earliest finish
                best, bf, bc, gk = j, f, rates[j], k
        run = w / speeds[best]
        b0 = bf - run - ov  # the worker is held from b0 (dispatch) to bf
        keep = keep_gap[best]
        if gk >= 0:  # into an idle gap: split it around the task
            gl = gaps[best]
            a, b, wk, before, after = gl[gk]
            del gl[gk]
            if b0 - a >= keep:
                insort(gl, (a, b0, wk, before, i))
            if b - bf >= keep:
                insort(gl, (bf, b, wk, i, after))
            prev[i] = before
            prev[after] = i
        else:  # at the end of a worker's queue: best fit, the worker freed last before b0
            h = heaps[best]
            k = bisect_right(h, (b0 + tol, _BIG)) - 1
            if k < 0:
                k = 0
            fw, wk = h[k]
            del h[k]
            insort(h, (bf, wk))
            lw = last[best]
            if b0 - fw >= keep:
                insort(gaps[best], (fw, b0, wk, lw[wk], i))
                if b0 - fw > glen[best]:
                    glen[best] = b0 - fw
            prev[i] = lw[wk]
            lw[wk] = i
        start[i] = bf - run
        fin[i] = bf
        where[i] = best
        wid[i] = wk
        busy[best] += run
        used[best] += 1
        if bf > makespan:
            makespan = bf
        for c in children[i]:
            indeg[c] -= 1
            if indeg[c] == 0:
                rc = 0.0
                for dd in deps[c]:
                    if fin[dd] > rc:
                        rc = fin[dd]
                rt[c] = rc
                push(ready, pos[c])
                if insert:
                    push(times, (rc, c))
        if insert and len(gaps[best]) > glimit[best] and ready:
            # no task still to place becomes ready before the earliest ready time now: drop the
            # gaps too short after it, and in large plans keep the ones that close last
            while placed[times[0][1]]:
                pop(times)
            horizon = times[0][0]
            gl = gaps[best]
            kept = [x for x in gl if x[1] - (x[0] if x[0] > horizon else horizon) >= keep]
            if len(kept) > cap:
                kept = sorted(sorted(kept, key=lambda x: x[1])[-(cap // 2):])
            gl[:] = kept
            glen[best] = max((x[1] - x[0] for x in kept), default=0.0)
            glimit[best] = 2 * len(kept) + 64
    cost = sum(b * p.price_per_hour / 3600.0 for b, p in zip(busy, pools))
    return _Sched(start, fin, where, wid, prev, busy, used, makespan, cost)


def _cheapest_pools(g: _Graph) -> list[int]:
    """Each task's cheapest pool per unit of work."""
    return [g.opts[s][0][0] for s in g.sig]


def _fastest_pools(g: _Graph) -> list[int]:
    """Each task's fastest pool (the cheapest of the fastest)."""
    return [g.ladder[s][-1] for s in g.sig]


def _critical_path(g: _Graph, s: _Sched) -> list[int]:
    """Longest chain under the schedule: each step back is the binding dependency or the worker queue."""
    if not g.n:
        return []
    i = max(range(g.n), key=s.finish.__getitem__)
    out = []
    while i >= 0:
        out.append(i)
        b0 = s.start[i] - g.overhead  # the worker was held from here
        nxt = -1
        for d in g.deps[i]:
            if s.finish[d] >= b0 - _EPS * (1.0 + b0) and (nxt < 0 or s.finish[d] > s.finish[nxt]):
                nxt = d
        if nxt < 0:
            p = s.prev[i]
            nxt = p if p >= 0 and s.finish[p] >= b0 - _EPS * (1.0 + b0) else -1
        i = nxt
    return out
