"""Searches over list-scheduling passes: the plan :func:`~daskcollab.placement.plan` returns per mode.

Pure (no Dask). Each candidate is one :func:`._heft._schedule` pass; a search keeps the best of
its candidates for the objective:

* ``fastest``: one earliest-finish pass (with insertion, whatever the size).
* within a time limit (``cheapest`` with a deadline, ``balanced``): the all-cheapest plan, the
  fastest plan, critical-path climbing (IC-PCP flavour), slack-guided passes (each task on the
  cheapest pool that finishes by its latest finish time; the target bisected down to the limit),
  and the same with the *serial* tasks (those little can run beside, such as a long tail after a
  wide stage) pinned to each faster pool of their ladder; the cheapest that meets the limit is then
  refined by slack reclamation. In plans up to :data:`LADDER_UP_TO` tasks the limit is
  approached along a ladder of tighter limits (geometric between the fastest and the
  all-cheapest makespans, independent of the limit, plus 2 % and 4 % below the limit) and the
  best plan found for a tighter limit stays a candidate, so a looser deadline does not get a
  more expensive plan than those tighter limits (larger plans search at the limit only).
* ``balanced`` with a budget: the fastest plan whose cost fits (bisection on the target).

The same ladder, walked from the fastest to the all-cheapest makespan, gives the cost/makespan
front (:mod:`._front`). Large plans (more than :data:`._heft.INSERT_ALL_PASSES_UP_TO` tasks)
search without insertion and re-time the winner with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from daskcollab.placement._heft import (
    _EFT,
    _EPS,
    _FIXED,
    _LATEST,
    _LFT,
    _cheapest_pools,
    _critical_path,
    _Graph,
    _Sched,
    _schedule,
)
from daskcollab.placement._spec import DEFAULT_TRADEOFF, Assignment, Mode, Objective, Plan

#: Plans up to this many tasks also try their serial tasks pinned to faster pools.
SERIAL_PINS_UP_TO = 20_000
#: Relative step of the tighter limits a small plan's search also walks (2 %).
NEAR_STEP = 0.02


@dataclass(frozen=True)
class _Effort:
    """How hard a search tries, by plan size."""

    rounds: int  # bisection steps of a slack-guided search
    icpcp: int  # critical-path climbing rounds (0: none)
    reclaim: int  # slack reclamation rounds
    reclaim_steps: int  # bisection steps inside a reclamation round
    ladder: int  # tighter limits walked before the limit itself
    starts: int  # cheapest distinct candidates refined by reclamation
    near: int  # limits NEAR_STEP, 2 NEAR_STEP, ... tighter than the limit also walked
    latest: bool = True  # also a slack-guided search by remaining path (rarely the best in large plans)
    frugal: bool = False  # bisect slack-guided targets only when no search meets the limit at once


#: Plans up to this many tasks walk the ladder of tighter limits (and try several starts).
LADDER_UP_TO = 500


def _effort(n: int) -> _Effort:
    if n <= LADDER_UP_TO:
        return _Effort(6, 40, 3, 8, 6, 6, 2)
    if n <= 20_000:
        return _Effort(4, 4, 2, 6, 0, 1, 0)
    return _Effort(3, 0, 1, 3, 0, 1, 0, latest=False, frugal=True)


def _distinct(plans: Sequence[_Sched]) -> list[_Sched]:
    """``plans`` without repeats of one (cost, makespan), in order."""
    seen: set[tuple[float, float]] = set()
    out = []
    for s in plans:
        key = (round(s.cost, 12), round(s.makespan, 9))
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _fits_budget(s: _Sched, budget: float | None) -> bool:
    return budget is None or s.cost <= budget * (1 + _EPS)


def _within(s: _Sched, limit: float) -> bool:
    return s.makespan <= limit * (1 + _EPS)


def _by_cost(s: _Sched) -> tuple[float, float]:
    return (s.cost, s.makespan)


def _by_makespan(s: _Sched) -> tuple[float, float]:
    return (s.makespan, s.cost)


def _serial_pins(g: _Graph) -> list[list[int]]:
    """Serial tasks pinned to each faster rung of their pool ladder (-1 elsewhere), fastest first.

    Empty when there is no serial task with a faster pool than its cheapest.
    """
    serial = g.serial()
    tasks = [i for i in range(g.n) if serial[i] and len(g.ladder[g.sig[i]]) > 1]
    if not tasks:
        return []
    top = max(len(g.ladder[g.sig[i]]) for i in tasks)
    out = []
    for rung in range(top - 1, 0, -1):
        pins = [-1] * g.n
        for i in tasks:
            rungs = g.ladder[g.sig[i]]
            pins[i] = rungs[min(rung, len(rungs) - 1)]
        out.append(pins)
    return out


def _icpcp(g: _Graph, deadline: float, max_rounds: int, pins: Sequence[int] | None = None) -> _Sched:
    """Start all-cheapest (``pins`` kept); move critical-path tasks one rung faster until the deadline holds."""
    ladder, sig = g.ladder, g.sig
    level = [0] * g.n
    fixed = [ladder[sig[i]][0] for i in range(g.n)]
    if pins is not None:
        for i, p in enumerate(pins):
            if p >= 0:
                rungs = ladder[sig[i]]
                fixed[i], level[i] = p, rungs.index(p) if p in rungs else len(rungs) - 1
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


def _slack_search(
    g: _Graph, limit: float, lo: float, rounds: int, pins: Sequence[int] | None = None,
    shares: Sequence[Sequence[float]] = (), latest: bool = True, frugal: bool = False,
) -> list[_Sched]:
    """Slack-guided passes with targets in ``[lo, limit]``: the largest whose makespan fits ``limit``.

    One search per way of setting latest finish times: the task's share of its longest path
    (:data:`_LFT`), its remaining path at the fastest speeds (:data:`_LATEST`), and each of
    ``shares`` (per task, the share of the target by which it must finish). ``latest=False``
    skips the second; ``frugal=True`` bisects only when no way meets the limit with the limit itself
    as the target.
    """
    kinds = [(_LFT, None)] + ([(_LATEST, None)] if latest else []) + [(_LFT, sh) for sh in shares]
    out = [_schedule(g, kind, pins, target=limit, share=share) for kind, share in kinds]
    fits = any(_within(s, limit) for s in out)
    for (kind, share), first in zip(kinds, list(out)):
        if _within(first, limit) or lo >= limit or (frugal and fits):
            continue
        out += _bisect_target(g, kind, lo, limit, rounds, lambda s: _within(s, limit), pins, share)
    return out


def _bisect_target(
    g: _Graph, kind: int, lo: float, hi: float, rounds: int, raise_lo: Any, pins: Sequence[int] | None = None,
    share: Sequence[float] | None = None,
) -> list[_Sched]:
    """Slack-guided passes bisecting the target in ``[lo, hi]``; ``raise_lo(plan)`` picks the half."""
    out = []
    for _ in range(rounds):
        mid = 0.5 * (lo + hi)
        s = _schedule(g, kind, pins, target=mid, share=share)
        out.append(s)
        if raise_lo(s):
            lo = mid
        else:
            hi = mid
    return out


class _Search:
    """The passes one planning call shares: the fastest and all-cheapest plans, serial pins, effort."""

    def __init__(self, g: _Graph) -> None:
        self.g = g
        self.effort = _effort(g.n)
        self.cheap = _schedule(g, _FIXED, _cheapest_pools(g))
        self.fast = _schedule(g, _EFT)
        self.pins = _serial_pins(g) if g.n <= SERIAL_PINS_UP_TO else []

    def ladder(self, points: int) -> list[float]:
        """``points`` limits strictly between the fastest and the all-cheapest makespans (geometric)."""
        lo, hi = self.fast.makespan, self.cheap.makespan
        if points <= 0 or not lo > 0.0 or hi <= lo * (1 + 1e-6):
            return []
        ratio = (hi / lo) ** (1.0 / (points + 1))
        return [lo * ratio**m for m in range(1, points + 1)]

    def candidates(self, limit: float) -> list[_Sched]:
        """Every candidate plan for one time limit (each a valid plan; not all meet the limit)."""
        g, eff, fast = self.g, self.effort, self.fast
        out = [self.cheap, fast]
        if eff.icpcp:
            out.append(_icpcp(g, limit, eff.icpcp))
        # latest finish times also from the fastest plan, stretched to the target
        stretch = [f / fast.makespan for f in fast.finish] if fast.makespan > 0.0 else None
        out += _slack_search(g, limit, fast.makespan, eff.rounds, shares=[stretch] if stretch else [],
                             latest=eff.latest, frugal=eff.frugal)
        cheapest = _cheapest_pools(g)
        for pins in self.pins:
            out.append(_schedule(g, _FIXED, [p if p >= 0 else c for p, c in zip(pins, cheapest)]))
            if eff.icpcp:
                out.append(_icpcp(g, limit, eff.icpcp, pins))
            out += _slack_search(g, limit, fast.makespan, eff.rounds, pins)
        return out

    def walk(self, limits: Sequence[float], seen: list[_Sched] | None = None) -> list[_Sched]:
        """The cheapest plan within each limit (ascending), each limit also offered the previous best.

        A plan that meets a tighter limit meets the looser ones, so the costs never rise along
        ``limits``. ``seen`` collects every candidate on the way (for a front). A limit nothing
        meets gets the fastest candidate.
        """
        out: list[_Sched] = []
        best: _Sched | None = None
        for limit in limits:
            out.append(self.step(limit, best, seen))
            if _within(out[-1], limit):
                best = out[-1]
        return out

    def step(self, limit: float, prior: _Sched | None = None, seen: list[_Sched] | None = None) -> _Sched:
        """The cheapest plan within ``limit`` from this limit's candidates and ``prior`` (a plan
        that meets a tighter limit), refined by slack reclamation; the fastest candidate when
        none meets it. ``seen`` collects the candidates and the result."""
        g, eff = self.g, self.effort
        cands = self.candidates(limit)
        if seen is not None:
            seen += cands
        ok = [s for s in cands if _within(s, limit)]
        if prior is not None:
            ok.append(prior)
        if not ok:
            return min(cands, key=_by_makespan)
        starts = _distinct(sorted(ok, key=_by_cost))[: eff.starts]
        best = min((_reclaim(g, s, limit, eff.reclaim, eff.reclaim_steps) for s in starts), key=_by_cost)
        if seen is not None:
            seen.append(best)
        return best

    def within(self, limit: float) -> _Sched:
        """The cheapest plan that meets ``limit`` (or the fastest candidate when none does)."""
        if _within(self.cheap, limit):
            return self.cheap
        near = [limit * (1.0 - NEAR_STEP * m) for m in range(self.effort.near, 0, -1)]
        steps = sorted(t for t in self.ladder(self.effort.ladder) + near if self.fast.makespan <= t < limit * (1 - 1e-9))
        return self.walk(steps + [limit])[-1]

    def fastest_within_budget(self, budget: float, deadline: float | None) -> _Sched:
        g, fast, cheap = self.g, self.fast, self.cheap
        if _fits_budget(fast, budget):
            return fast
        if not _fits_budget(cheap, budget):
            return cheap
        # the smallest target whose plan fits the budget
        cands = [fast, cheap] + _bisect_target(
            g, _LFT, fast.makespan, max(cheap.makespan, fast.makespan), self.effort.rounds + 2,
            lambda s: not _fits_budget(s, budget),
        )
        ok = [s for s in cands if _fits_budget(s, budget)]
        if deadline is not None and any(_within(s, deadline) for s in ok):
            ok = [s for s in ok if _within(s, deadline)]
        return min(ok, key=_by_makespan)


def _polish(g: _Graph, s: _Sched) -> _Sched:
    """Re-time a plan searched without insertion with it (same pools, so the same cost)."""
    if g.insert:
        return s
    t = _schedule(g, _FIXED, s.pool, insert=True)
    return t if t.makespan <= s.makespan else s


def _choose(g: _Graph, objective: Objective) -> _Sched:
    mode = Mode(objective.mode)
    budget, deadline = objective.budget, objective.deadline
    if mode is Mode.FASTEST:
        return _schedule(g, _EFT, insert=True)
    if mode is Mode.CHEAPEST and deadline is None:
        return _polish(g, _schedule(g, _FIXED, _cheapest_pools(g)))
    search = _Search(g)
    if mode is Mode.CHEAPEST:
        return _polish(g, search.within(float(deadline)))  # type: ignore[arg-type]
    # balanced
    if budget is not None:
        return _polish(g, search.fastest_within_budget(float(budget), deadline))
    if deadline is not None:
        return _polish(g, search.within(max(float(deadline), search.fast.makespan)))
    eps = DEFAULT_TRADEOFF if objective.tradeoff is None else max(float(objective.tradeoff), 0.0)
    return _polish(g, search.within(search.fast.makespan * (1.0 + eps)))


def _reclaim(g: _Graph, s: _Sched, limit: float, rounds: int, steps: int = 8) -> _Sched:
    """Slack reclamation: move tasks back to cheaper pools while the plan still meets ``limit``.

    Each round computes every task's latest finish under ``limit`` (its children, and the next task
    on its worker while it stays there, must still start in time), picks for each task the cheapest
    pool whose longer run still lets its children start in time, and applies the moves in order of
    money saved: all of them if the rescheduled plan meets ``limit``, else the largest prefix found
    by bisection (``steps`` halvings at most).
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
            for _step in range(steps):
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
