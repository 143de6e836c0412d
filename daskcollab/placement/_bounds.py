"""A linear-programming lower bound on the cost of any placement that finishes within a makespan.

Pure (no Dask); solved with ``scipy.optimize.linprog`` (HiGHS). The relaxation lets a task be
split across pools: ``x[i, j]`` is the share of task ``i`` run on pool ``j`` (its eligible pools
only), and the task then holds a worker for ``sum_j x[i, j] * (work_i / speed_j + overhead)``.
Minimise ``sum x[i, j] * work_i * price_j / speed_j / 3600`` subject to

* every task placed whole: ``sum_j x[i, j] = 1``;
* precedence: a task begins (``b_i``) after its dependencies end, and every task ends by the
  makespan ``T``;
* windows: a task runs between its earliest begin (its longest path from the sources at the
  fastest speeds) and its latest end (``T`` minus its longest path to the sinks at the fastest
  speeds), so a pool on which it cannot fit in there gets no share of it;
* capacity: the worker-seconds given to pool ``j`` fit its ``workers * T``, and also inside
  windows: tasks that must end by ``tau`` fit ``workers * tau`` of each pool, and tasks that
  cannot begin before ``tau`` fit ``workers * (T - tau)`` (energetic reasoning; a task only
  partly inside counts for the part that must be inside); the ancestors of a task fit each pool
  before it begins and its descendants after it ends (for the serial tasks and a spread of
  others, in plans up to :data:`._heft.CLOSURE_UP_TO` tasks).

Every schedule that finishes within ``T`` gives a feasible point of the relaxation (shares 0/1,
its begin times), so the optimum is a lower bound on its cost. It is exact when the optimum of
the relaxation is integral, as when ``T`` leaves room for every task on its cheapest pool, or
for interchangeable tasks whose split across pools is whole.

>>> from daskcollab.placement import Pool, TaskSpec
>>> pools = [Pool("spot", 0.36, 1.0, 2), Pool("fast", 1.44, 2.0, 1)]
>>> tasks = [TaskSpec(f"t{i}", 1.0) for i in range(40)]   # 40 unit tasks
>>> round(cost_lower_bound(tasks, pools, 16.0), 6)        # spot does 32 units, fast the other 8
0.0048
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from daskcollab.placement._heft import _Graph
from daskcollab.placement._spec import Pool, TaskSpec

#: Window limits used for the interval capacity rows (quantiles of the tasks' windows).
WINDOWS = 16
#: Tasks (besides the serial ones) whose ancestors and descendants get capacity rows.
CUTS = 32


def cost_lower_bound(
    tasks: Sequence[TaskSpec], pools: Sequence[Pool], makespan: float, *, task_overhead: float = 0.0
) -> float:
    """The least cost ($) any placement of ``tasks`` on ``pools`` can reach within ``makespan`` s.

    Returns ``math.inf`` when no placement can finish within ``makespan`` (the relaxation is
    infeasible: below the critical path at the fastest speeds, or beyond the pools' capacity).
    ``task_overhead`` is the per-task time a worker is held besides the work (see
    :func:`~daskcollab.placement.plan`); it is not charged. Raises like :func:`plan` on tasks no
    pool can run, cycles or duplicate keys. Several hundred tasks take milliseconds.
    """
    g = _Graph(list(tasks), list(pools), task_overhead)
    return _relax(g, float(makespan))[0]


def _relax(g: _Graph, T: float) -> tuple[float, list[list[tuple[int, float]]]]:
    """The relaxation's optimum within ``T`` and each task's shares ``[(pool index, share), ...]``."""
    import numpy as np
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    n = g.n
    if n == 0:
        return 0.0, []
    ov = g.overhead
    # earliest begin / latest end of each task's worker time, at the fastest speeds
    hold_fast = [g.work[i] / g.fast[g.sig[i]] + ov for i in range(n)]
    early = [g.top[i] - hold_fast[i] for i in range(n)]
    late = [T - g.rest[i] for i in range(n)]
    if any(early[i] + hold_fast[i] > late[i] * (1 + 1e-9) + 1e-12 for i in range(n)):
        return math.inf, []
    # variables: x (one per eligible (task, pool)), then b (one per task)
    xi: list[int] = []
    xj: list[int] = []
    hold: list[float] = []
    price: list[float] = []
    for i in range(n):
        for j, sp in g.opts[g.sig[i]]:
            xi.append(i)
            xj.append(j)
            hold.append(g.work[i] / sp + ov)
            price.append(g.work[i] * g.pools[j].price_per_hour / sp / 3600.0)
    nx = len(xi)
    by_task: list[list[int]] = [[] for _ in range(n)]
    for v, i in enumerate(xi):
        by_task[i].append(v)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    rhs: list[float] = []

    def row(entries: list[tuple[int, float]], bound: float) -> None:
        r = len(rhs)
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        rhs.append(bound)

    for i in range(n):  # precedence: b_i + hold_i <= b_c, and b_i + hold_i <= T for sinks
        held = [(v, hold[v]) for v in by_task[i]]
        for c in g.children[i]:
            row(held + [(nx + i, 1.0), (nx + c, -1.0)], 0.0)
        if not g.children[i]:
            row(held + [(nx + i, 1.0)], T)
    npools = len(g.pools)
    workers = [max(int(p.workers), 1) for p in g.pools]
    for j in range(npools):  # whole-run capacity of each pool
        row([(v, hold[v]) for v in range(nx) if xj[v] == j], workers[j] * T)
    # a task ending by late_i holds at least hold - (late_i - tau) of its time before tau; one
    # beginning at early_i or later holds at least hold - (tau - early_i) after tau
    for tau in _window_limits(late, WINDOWS):
        inside = [(v, hold[v] - max(late[xi[v]] - tau, 0.0)) for v in range(nx)]
        for j in range(npools):
            part = [(v, h) for v, h in inside if h > 0.0 and xj[v] == j]
            if part:
                row(part, workers[j] * tau)
    for tau in _window_limits(early, WINDOWS):
        inside = [(v, hold[v] - max(tau - early[xi[v]], 0.0)) for v in range(nx)]
        for j in range(npools):
            part = [(v, h) for v, h in inside if h > 0.0 and xj[v] == j]
            if part:
                row(part, workers[j] * (T - tau))
    # everything before task c runs before c begins, everything after it after c ends
    for c, before, after in _cut_sets(g, CUTS):
        for j in range(npools):
            part = [(v, hold[v]) for i in before for v in by_task[i] if xj[v] == j]
            if part:
                row(part + [(nx + c, -float(workers[j]))], 0.0)
            part = [(v, hold[v]) for i in after for v in by_task[i] if xj[v] == j]
            if part:
                row(part + [(nx + c, float(workers[j]))] + [(v, workers[j] * hold[v]) for v in by_task[c]], workers[j] * T)
    a_ub = coo_matrix((vals, (rows, cols)), shape=(len(rhs), nx + n)).tocsr()
    a_eq = coo_matrix(([1.0] * nx, (xi, list(range(nx)))), shape=(n, nx + n)).tocsr()
    # a pool on which the task cannot fit between its earliest begin and latest end is out
    fit = [1.0 if hold[v] <= (late[xi[v]] - early[xi[v]]) * (1 + 1e-9) + 1e-12 else 0.0 for v in range(nx)]
    bounds = [(0.0, f) for f in fit] + [(early[i], max(early[i], late[i] - hold_fast[i])) for i in range(n)]
    cost = np.concatenate([np.asarray(price), np.zeros(n)])
    res = linprog(cost, A_ub=a_ub, b_ub=np.asarray(rhs), A_eq=a_eq, b_eq=np.ones(n), bounds=bounds, method="highs")
    if res.status == 2:  # infeasible
        return math.inf, []
    if res.status != 0:  # pragma: no cover - HiGHS gives up only on numerical trouble
        raise RuntimeError(f"cost lower bound: the LP solver stopped with status {res.status}: {res.message}")
    shares: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for v in range(nx):
        if res.x[v] > 1e-9:
            shares[xi[v]].append((xj[v], float(res.x[v])))
    return max(float(res.fun), 0.0), shares


def _cut_sets(g: _Graph, k: int) -> list[tuple[int, list[int], list[int]]]:
    """``(task, its ancestors, its descendants)`` for the serial tasks and up to ``k`` more.

    The others are spread over the tasks ordered by how many ancestors (then descendants) they
    have. Plans above :data:`._heft.CLOSURE_UP_TO` tasks get none.
    """
    closure = g.closure()
    if closure is None or g.n == 0:
        return []
    anc, desc = closure
    n = g.n
    na = [a.bit_count() for a in anc]
    nd = [d.bit_count() for d in desc]
    serial = g.serial()
    chosen = {i for i in range(n) if serial[i]}
    for size in (na, nd):
        ranked = sorted((i for i in range(n) if size[i] > 0), key=lambda i: (size[i], i))
        if ranked:
            chosen.update(ranked[round(m * (len(ranked) - 1) / max(k // 2 - 1, 1))] for m in range(k // 2))

    def members(mask: int) -> list[int]:
        return [i for i, bit in enumerate(reversed(bin(mask)[2:])) if bit == "1"]

    return [(c, members(anc[c]), members(desc[c])) for c in sorted(chosen) if na[c] or nd[c]]


def _window_limits(values: Sequence[float], k: int) -> list[float]:
    """Up to ``k`` distinct values spread over the sorted ``values`` (positive ones only)."""
    vs = sorted({v for v in values if v > 0.0})
    if len(vs) <= k:
        return vs
    return sorted({vs[round(m * (len(vs) - 1) / (k - 1))] for m in range(k)})




def held_lower_bound(spec: Any, pools: Sequence[Pool], makespan: float, *,
                     estimates: Mapping[str, Mapping[str, Any]] | None = None, fleet: Any = None,
                     default_work: float = 1.0) -> float:
    """The least bill ($, held worker-time as :mod:`._billing` prices it) any plan of the run
    ``spec`` (a :class:`~daskcollab.placement.RunSpec`) on ``pools`` can reach within ``makespan`` s.

    For every set of static pools a plan may use (a static pool holds every worker for the whole
    run once used), a relaxation solved as a linear programme: a stage's work may be split across
    the pools that can run it, each share running within the stage's window there (after its
    earliest start, before its latest end, at the pool's speed on the workers it can use; an elastic
    pool without a live worker is reachable only after its start-up). What it counts, each at its
    least, with ``M`` the shortest makespan any plan on those pools can have (the critical path at
    their fastest speeds, and their work over their capacity):

    * a static pool of the set bills every worker for ``M``;
    * an elastic pool's ``min_workers`` (held for the whole run) bill ``M`` and do up to
      ``min_workers * makespan`` of its work for nothing more;
    * an elastic pool's other workers bill their busy seconds, plus, once used, one start-up (none
      when a worker is up already) and at least the pool's minimum billing period.

    Returns ``math.inf`` when no plan can finish within ``makespan``. ``fleet`` as in
    :func:`~daskcollab.placement.plan_run` (default: every pool static).

    >>> from daskcollab.placement import Fleet, Pool, RunSpec, StageSpec
    >>> spot = Pool("spot", 3.6, 1.0, workers=2, min_workers=0, startup=10.0)
    >>> spec = RunSpec("r", "wf", (StageSpec("a", cost=20.0),))
    >>> round(held_lower_bound(spec, [spot], 30.0, fleet=Fleet(frozenset({"spot"}), {"spot": 0})), 6)  # 20 s busy + 10 s start-up
    0.03
    >>> round(held_lower_bound(spec, [Pool("spot", 3.6, 1.0, workers=2)], 30.0), 6)  # static: 2 workers for 10 s
    0.02
    """
    from itertools import combinations

    from daskcollab.placement._runplan import Fleet

    fleet = fleet or Fleet()
    static = [p for p in pools if p.name not in fleet.elastic]
    elastic = [p for p in pools if p.name in fleet.elastic]
    best = math.inf
    for k in range(len(static) + 1):
        for chosen in combinations(static, k):
            if chosen or elastic:
                best = min(best, _held_relaxation(spec, [*chosen, *elastic], makespan, estimates or {}, fleet,
                                                  default_work))
    return best


def _held_relaxation(spec: Any, pools: Sequence[Pool], makespan: float, estimates: Mapping[str, Any], fleet: Any,
                     default_work: float) -> float:
    """:func:`held_lower_bound` when the plan uses every static pool of ``pools`` and no other."""
    import numpy as np
    from scipy.optimize import linprog

    from daskcollab._errors import WorkflowError
    from daskcollab.placement._runplan import _options, _Run

    try:
        run = _Run(spec, pools, estimates, default_work, fleet)
    except WorkflowError:  # a stage none of these pools can run
        return math.inf
    n, npools = len(run.stages), len(run.pools)
    if n == 0:
        return 0.0
    if any(not opts for opts in run.options):
        return math.inf
    capacity = sum(p.speed * max(p.workers, 1) for p in run.pools)
    work = sum(run.est[i][opts[0].name].work for i, opts in enumerate(run.options))
    shortest = max(max(run.rank, default=0.0), work / capacity)  # no plan on these pools is shorter
    if shortest > makespan * (1 + 1e-9) + 1e-12:
        return math.inf
    head = [0.0] * n  # earliest start: the longest path before the stage at the fastest speeds
    for i, s in enumerate(run.stages):
        head[i] = max((head[run.index[u]] + run.fast[run.index[u]] for u in s.inputs), default=0.0)
    # variables: x[i, p] (share of stage i on pool p), then per pool: a (work on floor workers, s),
    # extra (busy s beyond floors), y (an elastic pool opened, 0..1)
    xs: list[tuple[int, int, float]] = []  # (stage, pool, busy seconds of the whole stage there)
    windows: list[tuple[int, float, float]] = []  # (x column, seconds the whole stage takes there, its window)
    for i in range(n):
        for option in _options(run.stages[i], run.pools):
            if option.name == "*":
                continue  # a stage spread over pools is a split of its shares
            m = option.members[0]
            pool = run.pools[m]
            e = run.est[i][option.name]
            k = e.workers_used(max(pool.workers, 1))
            ready = head[i] if run.live[m] > 0 or not run.elastic[m] else max(head[i], pool.startup)
            window = makespan - run.tail[i] - ready - e.latency
            if window > 1e-12:  # its share there runs within the stage's window, beside the other shares
                windows.append((len(xs), e.busy_time([pool.speed] * k), window))
                xs.append((i, m, e.work / pool.speed))
    if {i for i, _, _ in xs} != set(range(n)):
        return math.inf
    nx = len(xs)
    col_a, col_e, col_y = nx, nx + npools, nx + 2 * npools
    nvar = nx + 3 * npools
    cost = np.zeros(nvar)
    a_ub: list[list[float]] = []
    b_ub: list[float] = []
    fixed = 0.0
    for m, pool in enumerate(run.pools):
        rate = pool.price_per_hour / 3600.0
        if not run.elastic[m]:  # a static pool of the set: every worker for the whole run
            fixed += rate * max(pool.workers, 1) * shortest
            row = [0.0] * nvar  # its busy seconds fit its workers over the makespan
            for v, (_, pm, busy) in enumerate(xs):
                if pm == m:
                    row[v] = busy
            a_ub.append(row)
            b_ub.append(max(pool.workers, 1) * makespan)
            continue
        floor = min(pool.min_workers, max(pool.workers, 1))
        fixed += floor * rate * shortest
        row = [0.0] * nvar  # busy seconds on the pool = floor share + extra
        for v, (_, pm, busy) in enumerate(xs):
            if pm == m:
                row[v] = busy
        row[col_a + m], row[col_e + m] = -1.0, -1.0
        a_ub.append(row)
        b_ub.append(0.0)
        cap = [0.0] * nvar  # floor workers do at most floor * makespan
        cap[col_a + m] = 1.0
        a_ub.append(cap)
        b_ub.append(floor * makespan)
        opened = [0.0] * nvar  # extra busy seconds fit the other workers, once the pool is opened
        opened[col_e + m], opened[col_y + m] = 1.0, -(max(pool.workers, 1) - floor) * makespan
        a_ub.append(opened)
        b_ub.append(0.0)
        # held >= busy + one start-up, and >= the minimum period (a lower bound of both); a worker
        # up already has paid both
        cost[col_e + m] = rate
        cost[col_y + m] = 0.0 if run.live[m] > floor else rate * max(pool.startup, pool.billing_minimum)
        if floor == 0:
            for v, (_, pm, busy) in enumerate(xs):  # any share on it opens it
                if pm == m:
                    row = [0.0] * nvar
                    row[v], row[col_y + m] = 1.0, -1.0
                    a_ub.append(row)
                    b_ub.append(0.0)
    for v, duration, window in windows:
        row = [0.0] * nvar
        row[v] = duration
        a_ub.append(row)
        b_ub.append(window)
    a_eq = np.zeros((n, nvar))
    for v, (i, _, _) in enumerate(xs):
        a_eq[i, v] = 1.0
    bounds = [(0.0, 1.0)] * nx + [(0.0, None)] * (2 * npools) + [(0.0, 1.0)] * npools
    res = linprog(cost, A_ub=np.asarray(a_ub), b_ub=np.asarray(b_ub), A_eq=a_eq, b_eq=np.ones(n), bounds=bounds,
                  method="highs")
    if res.status == 2:
        return math.inf
    if res.status != 0:  # pragma: no cover - HiGHS gives up only on numerical trouble
        raise RuntimeError(f"held lower bound: the LP solver stopped with status {res.status}: {res.message}")
    return fixed + max(float(res.fun), 0.0)


__all__ = ["cost_lower_bound", "held_lower_bound"]
