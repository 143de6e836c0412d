"""One plan per workflow run: every stage on a pool, the critical path fast, slack cheap (pure).

A run reaches the scheduler as a :class:`RunSpec` (its stages, edges, resources, pins, cost hints,
budget, deadline) before any of its tasks. :func:`plan_run` schedules the stages as *moldable*
jobs (:class:`~daskcollab.placement._cost_model.StageEstimate`: a stage of work ``w``, width
``k`` and latency ``l`` takes ``l + w / (speed * min(k, workers))`` on a pool and holds that many of
its workers) with list scheduling over the pools' workers:

* ``fastest``: stages in decreasing upward rank, each on the option that finishes first;
* ``cheapest``: each stage on its cheapest option (busy worker-seconds x price); with a deadline,
  a slack-guided pass: each stage takes the cheapest option that still finishes by its latest
  finish time (the target minus the longest path after it at the fastest speeds), the target
  lowered until the whole plan meets the deadline;
* ``balanced``: the same slack-guided pass aiming at ``(1 + tradeoff)`` times the fastest plan's
  makespan (or the deadline, when given); with a budget, the fastest target whose plan fits it.

An option is one pool, or :data:`ALL_POOLS` (the stage spread over every pool that can run it,
left to Dask's own balancing) when more than one can. Stages pinned to a pool stay there; a stage
only a declared pool without workers can run is planned on it and waits for its workers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from daskcollab._errors import WorkflowError
from daskcollab.placement._billing import Lease, bill, kept_idle, slot_leases
from daskcollab.placement._cost_model import EstimateSource, StageEstimate
from daskcollab.placement._feasibility import can_run
from daskcollab.placement._planning import DEFAULT_TRADEOFF, CostBasis, Mode, Objective, Pool

#: The option "spread the stage over every pool that can run it" (no pool restriction).
ALL_POOLS = "*"
#: Seconds a stage planned on spot keeps in hand before its point of no return (see :mod:`._spot`).
SPOT_MARGIN = 1.0


@dataclass(frozen=True)
class StageSpec:
    """A stage as the planner sees it (plain data; what ``compile`` sends to the scheduler)."""

    name: str
    kind: str = "task"
    inputs: tuple[str, ...] = ()
    resources: Mapping[str, float] = field(default_factory=dict)
    pool: str | None = None
    cost: float | None = None
    priority: int = 0
    #: How many tasks (of about equal work) the stage has, when known: it never uses more workers,
    #: and its tasks are dealt to workers whole (a hint, like ``cost``).
    tasks: int | None = None


@dataclass(frozen=True)
class RunSpec:
    """A workflow run: its id, stages (inputs first) and the run's budget, deadline and intent."""

    run_id: str
    workflow: str
    stages: tuple[StageSpec, ...]
    budget: float | None = None
    deadline: float | None = None
    mode: str | None = None
    tradeoff: float | None = None
    #: Stages moved off spot pools (their progress fell behind the deadline): planned on on-demand pools.
    off_spot: frozenset[str] = frozenset()
    #: How the run uses spot pools with its deadline (:class:`~daskcollab.placement.SpotPolicy`; None:
    #: ``collab.placement.spot-policy``).
    spot_policy: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "off_spot": sorted(self.off_spot)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        stages = tuple(StageSpec(**{**s, "inputs": tuple(s.get("inputs", ())), "resources": dict(s.get("resources") or {})})
                       for s in data["stages"])
        return cls(**{**data, "stages": stages, "off_spot": frozenset(data.get("off_spot", ()))})


@dataclass(frozen=True)
class StagePlan:
    """Where and when one stage runs in a plan, and what it costs (busy $)."""

    stage: str
    pool: str
    start: float
    finish: float
    workers: int
    cost: float
    estimate: StageEstimate
    pinned: bool = False
    waits: bool = False  # only a declared pool without live workers can run it


@dataclass(frozen=True)
class Fleet:
    """How the pools are held while a run goes: which pools a controller grows and shrinks with the
    plan (``elastic``; the others hold every worker for the whole run once used), and how many
    workers of each are up when the plan starts (``live``; None: all of them; the others join
    ``Pool.startup`` seconds after they are asked for)."""

    elastic: frozenset[str] = frozenset()
    live: Mapping[str, int] | None = None


@dataclass(frozen=True)
class RunPlan:
    """The plan of a whole run: per stage a :class:`StagePlan`, the pool-size schedule, predicted
    makespan and money.

    ``cost`` is busy worker-seconds x price; ``held_cost`` the bill: what the pools bill while the
    plan holds their workers (:mod:`._billing`): an elastic pool's workers from their request
    (start-up paid) to their release, kept through short idle gaps (``leases``, per pool: the
    schedule a controller follows; ``holds``: the idle gaps it keeps), a static pool's every worker
    for the whole makespan once the plan uses it. Plans are chosen by ``held_cost`` (or by
    ``cost`` when the objective's ``basis`` is busy).
    """

    run_id: str
    workflow: str
    stages: Mapping[str, StagePlan]
    makespan: float
    cost: float
    held_cost: float
    objective: Objective
    meets_budget: bool | None
    meets_deadline: bool | None
    leases: Mapping[str, tuple[Lease, ...]] = field(default_factory=dict)
    holds: Mapping[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)

    @property
    def spend(self) -> float:
        """The money this plan is judged by: the bill, or busy money with a busy objective."""
        return self.cost if self.objective.basis is CostBasis.BUSY else self.held_cost

    def pool_of(self, stage: str) -> str | None:
        """The pool a stage's tasks are restricted to (None: spread over all, or not in the plan)."""
        p = self.stages.get(stage)
        return None if p is None or p.pool == ALL_POOLS else p.pool

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "workflow": self.workflow, "mode": self.objective.mode.value,
            "budget": self.objective.budget, "deadline": self.objective.deadline,
            "makespan": self.makespan, "cost": self.cost, "held_cost": self.held_cost,
            "meets_budget": self.meets_budget, "meets_deadline": self.meets_deadline, "basis": self.objective.basis.value,
            "schedule": {pool: [[lease.requested, lease.joined, lease.released] for lease in leases]
                         for pool, leases in self.leases.items()},
            "stages": {name: {"pool": p.pool, "start": p.start, "finish": p.finish, "workers": p.workers,
                              "cost": p.cost, "work": p.estimate.work, "width": p.estimate.width,
                              "latency": p.estimate.latency, "source": p.estimate.source.value,
                              "pinned": p.pinned, "waits": p.waits}
                       for name, p in self.stages.items()},
        }


def estimate_for(spec: StageSpec, learned: Mapping[str, StageEstimate], pool: str, default_work: float) -> StageEstimate:
    """A stage's estimate on ``pool``: learned there (with the money it cost per work-second there),
    else learned elsewhere (speed-normalised work, priced by ``pool``), else its ``cost`` hint, else
    ``default_work``."""
    if pool in learned:
        return replace(learned[pool], tasks=spec.tasks)
    if learned:  # the most conservative observation, priced by this option's own pools
        return replace(max(learned.values(), key=lambda e: e.work), price_per_work=None, tasks=spec.tasks)
    if spec.cost is not None:
        return StageEstimate(float(spec.cost), math.inf, 0.0, EstimateSource.HINT, tasks=spec.tasks)
    return StageEstimate(float(default_work), math.inf, 0.0, EstimateSource.DEFAULT, tasks=spec.tasks)


@dataclass
class _Option:
    name: str
    members: list[int]  # pool indices
    price_per_work: float  # $ per work-second at speed 1 (x 3600)
    speeds: list[float]  # worker speeds, fastest first


def _options(spec: StageSpec, pools: Sequence[Pool]) -> list[_Option]:
    eligible = [i for i, p in enumerate(pools) if can_run(spec.resources, spec.pool, p)]
    out = [_Option(pools[i].name, [i], pools[i].price_per_hour / pools[i].speed, [pools[i].speed] * max(pools[i].workers, 1))
           for i in eligible]
    if len(eligible) > 1 and spec.pool is None:
        capacity = sum(pools[i].speed * max(pools[i].workers, 1) for i in eligible)
        price = sum(pools[i].price_per_hour * max(pools[i].workers, 1) for i in eligible) / capacity
        speeds = sorted((pools[i].speed for i in eligible for _ in range(max(pools[i].workers, 1))), reverse=True)
        out.append(_Option(ALL_POOLS, eligible, price, speeds))
    return out


class _Run:
    """Inputs of one planning problem, indexed (stages in topological order)."""

    def __init__(self, spec: RunSpec, pools: Sequence[Pool], estimates: Mapping[str, Mapping[str, StageEstimate]],
                 default_work: float, fleet: Fleet | None = None) -> None:
        self.spec, self.pools = spec, list(pools)
        fleet = fleet or Fleet()
        self.elastic = [p.name in fleet.elastic for p in self.pools]
        live = fleet.live or {}
        self.live = [max(p.workers, 1) if fleet.live is None or not self.elastic[m] else int(live.get(p.name, 0))
                     for m, p in enumerate(self.pools)]
        self.stages = list(spec.stages)
        self.index = {s.name: i for i, s in enumerate(self.stages)}
        if len(self.index) != len(self.stages):
            raise WorkflowError(f"run {spec.run_id!r}: duplicate stage names in {[s.name for s in self.stages]!r}")
        for s in self.stages:
            for up in s.inputs:
                if self.index.get(up, len(self.stages)) >= self.index[s.name]:
                    raise WorkflowError(f"run {spec.run_id!r}, stage {s.name!r}: input {up!r} is not an earlier stage")
        self.options = [_options(s, self.pools) for s in self.stages]
        self.est = [{o.name: estimate_for(s, estimates.get(s.name, {}), o.name, default_work) for o in opts}
                    for s, opts in zip(self.stages, self.options)]
        self.succ: list[list[int]] = [[] for _ in self.stages]
        for i, s in enumerate(self.stages):
            for up in s.inputs:
                self.succ[self.index[up]].append(i)
        # fastest possible duration of each stage, and the longest path after it at those durations
        self.fast = [min((self._duration(i, o) for o in opts), default=math.inf)
                     for i, opts in enumerate(self.options)]
        self.tail = [0.0] * len(self.stages)
        for i in reversed(range(len(self.stages))):
            self.tail[i] = max((self.fast[j] + self.tail[j] for j in self.succ[i]), default=0.0)
        self.rank = [self.fast[i] + self.tail[i] for i in range(len(self.stages))]
        # spot pools: what redoing a stage on on-demand workers takes (start-up, duration), and the
        # longest path after it on on-demand pools alone (the deadline guarantee, see _spot_safe)
        self.has_spot = any(p.spot for p in self.pools)
        if self.has_spot:
            od = [[o for o in opts if not any(self.pools[m].spot for m in o.members)] for opts in self.options]
            self.od_fast = [min((self._duration(i, o) for o in opts), default=math.inf) for i, opts in enumerate(od)]
            self.od_startup = [min((0.0 if self.live[m] else self.pools[m].startup for o in opts for m in o.members),
                                   default=math.inf) for opts in od]
            self.od_tail = [0.0] * len(self.stages)
            for i in reversed(range(len(self.stages))):
                self.od_tail[i] = max((self.od_fast[j] + self.od_tail[j] for j in self.succ[i]), default=0.0)

    def _duration(self, i: int, option: _Option) -> float:
        e = self.est[i][option.name]
        used = e.workers_used(len(option.speeds))
        return e.latency + e.busy_time(option.speeds[:used])

    def spot_safe(self, i: int, option: _Option, start: float, end: float, deadline: float | None) -> bool:
        """May stage ``i`` run on ``option`` from ``start`` to ``end``? Always, unless the option uses a
        spot pool and the run has a deadline: then only when the stage starts before its point of no
        return (the whole stage on on-demand workers, after their start-up, and the rest of its path
        on on-demand pools would still end by the deadline, with a margin) and its spot finish leaves
        the rest of its path that much time. From there on the plugin watches its progress and moves
        it when it falls behind (:mod:`._spot`)."""
        if deadline is None or not self.has_spot or (self.spec.spot_policy or "plan") != "plan" \
                or not any(self.pools[m].spot for m in option.members):
            return True  # the other policies start on spot and move the whole run (see _spot)
        latest = deadline - self.od_tail[i]
        return start + self.od_startup[i] + self.od_fast[i] + SPOT_MARGIN <= latest + 1e-9 and end <= latest + 1e-9

    def first_free(self, m: int, w: int, origin: float) -> float:
        """When worker slot ``w`` of pool ``m`` can first work: a live worker at once, another after its start-up."""
        return origin if w < self.live[m] else origin + self.pools[m].startup


def _schedule(run: _Run, choose: str, target: float = math.inf, origin: float = 0.0,
              fixed: Mapping[str, tuple[str, float, float]] | None = None, price: str = "busy",
              deadline: float | None = None) -> tuple[dict[str, StagePlan], list[list[list[tuple[float, float]]]]]:
    """One list-scheduling pass: the stages and each worker slot's busy intervals. ``choose``:
    ``"fastest"``, ``"cheapest"`` or ``"slack"`` (cheapest within each stage's latest finish for
    ``target``). ``price``: ``"busy"`` (compute seconds x price) or ``"held"`` (what the stage adds
    to the bill of an elastic pool's workers: a start-up for a worker not asked for yet, an idle gap
    kept, a minimum period; then a stage may also run on fewer workers than it could use, packing
    work onto workers already paid for). ``fixed``: stages already placed ``{name: (option, start,
    finish)}`` (a re-plan keeps what ran or runs)."""
    free = [[run.first_free(m, w, origin) for w in range(max(p.workers, 1))] for m, p in enumerate(run.pools)]
    never = run.spec.spot_policy == "on-demand"
    off_spot = {s.name: {o.name for o in opts if any(run.pools[m].spot for m in o.members)}
                for s, opts in zip(run.stages, run.options) if never or s.name in run.spec.off_spot} if run.has_spot else {}
    busy: list[list[list[tuple[float, float]]]] = [[[] for _ in row] for row in free]
    finish: dict[int, float] = {}
    out: dict[str, StagePlan] = {}
    fixed = fixed or {}
    pinned_first = {run.index[n] for n in fixed}
    pending = sorted(range(len(run.stages)), key=lambda i: (i not in pinned_first, -run.rank[i], i))
    done: set[int] = set()

    def added(m: int, w: int, start: float, end: float) -> float:
        """$ a busy interval adds to the bill of slot ``w`` of elastic pool ``m``."""
        pool = run.pools[m]
        if w < pool.min_workers:
            return 0.0  # held for the whole run anyway
        live = w < run.live[m]
        before = sum(lease.cost(pool) for lease in slot_leases(busy[m][w], pool, origin=origin, live=live))
        after = sum(lease.cost(pool) for lease in slot_leases([*busy[m][w], (start, end)], pool, origin=origin, live=live))
        return after - before

    while pending:
        i = next(i for i in pending if i in pinned_first or all(run.index[u] in done for u in run.stages[i].inputs))
        pending.remove(i)
        spec = run.stages[i]
        ready = max([origin, *(finish[run.index[u]] for u in spec.inputs if run.index[u] in finish)])
        best = None
        for option, strict in [(o, True) for o in run.options[i]] + [(o, False) for o in run.options[i]]:
            if best is not None and not strict:
                break  # a spot option unsafe for the deadline only when nothing else can run the stage
            if spec.name in fixed and option.name != fixed[spec.name][0]:
                continue
            if spec.name not in fixed and option.name in off_spot.get(spec.name, ()):
                continue
            e = run.est[i][option.name]
            used = e.workers_used(len(option.speeds))
            slots = sorted((free[m][w], -run.pools[m].speed, m, w) for m in option.members for w in range(len(free[m])))
            choices = [slots[:used]]  # the workers free first (the fastest among equals)
            if price == "held" and spec.name not in fixed:
                if used > 1:
                    choices.append(slots[:1])  # packed onto one worker: longer, fewer workers paid
                paid = sorted(slots, key=lambda s: (s[3] >= run.live[s[2]] and not busy[s[2]][s[3]], s[0], s[1]))
                choices += [paid[:used], paid[:1]] if used > 1 else [paid[:1]]
            for chosen in choices:
                start = max(ready, max(s[0] for s in chosen))
                hold = e.busy_time([run.pools[s[2]].speed for s in chosen])  # compute: the workers are busy
                end = start + e.latency + hold  # latency (round trips, client work) leaves them free
                if spec.name in fixed:
                    start, end = fixed[spec.name][1], max(fixed[spec.name][2], ready)
                    hold = min(hold, end - start)
                # a spread stage costs what the pools' mix cost it when it was learned spread; one pool its price
                spread_price = e.price_per_work if option.name == ALL_POOLS else None
                cost = e.work * (option.price_per_work if spread_price is None else spread_price) / 3600.0
                if price == "held":  # elastic pools: what the bill grows by; static ones: their busy money
                    share = hold * sum(run.pools[s[2]].speed for s in chosen)
                    rate = cost / share if share > 0 else 0.0
                    judged = sum(added(m, w, start, start + hold) if run.elastic[m] else rate * hold * run.pools[m].speed
                                 for _, _, m, w in chosen)
                else:
                    judged = cost
                if strict and spec.name not in fixed and not run.spot_safe(i, option, start, end, deadline):
                    continue
                if choose == "fastest":
                    key = (end, judged)
                elif choose == "cheapest":
                    key = (judged, end)
                else:  # slack: cheapest that finishes by the latest finish time; else the earliest finish
                    late = end > target - run.tail[i] + 1e-9
                    key = (late, end if late else judged, judged)
                if best is None or key < best[0]:
                    best = (key, option, chosen, start, end, cost, len(chosen), e, hold)
        if best is None:
            raise WorkflowError(f"run {run.spec.run_id!r}, stage {spec.name!r}: no pool can run it")
        _, option, slots, start, end, cost, used, e, hold = best
        for _, _, m, w in slots:
            free[m][w] = start + hold
            if start + hold > origin + 1e-9:  # what ran before a re-plan's origin is history, not billed again
                busy[m][w].append((max(start, origin), start + hold))
        finish[i] = end
        done.add(i)
        out[spec.name] = StagePlan(spec.name, option.name, start, end, used, cost, e, pinned=spec.pool is not None)
    return {s.name: out[s.name] for s in run.stages}, busy


def _summary(run: _Run, scheduled: tuple[dict[str, StagePlan], list], objective: Objective, origin: float,
             waiting: frozenset[str]) -> RunPlan:
    stages, busy = scheduled
    makespan = max((p.finish for p in stages.values()), default=origin) - origin
    end = origin + makespan
    cost = sum(p.cost for p in stages.values())
    used: set[int] = set()
    for p in stages.values():
        used.update(next(o.members for o in run.options[run.index[p.stage]] if o.name == p.pool))
    leases: dict[str, tuple[Lease, ...]] = {}
    holds: dict[str, tuple[tuple[float, float], ...]] = {}
    static = 0.0
    for m, pool in enumerate(run.pools):
        if not run.elastic[m]:
            if m in used:  # held for the whole run: the cluster's own lease spans it
                static += makespan * pool.price_per_hour * max(pool.workers, 1) / 3600.0
            continue
        mine: list[Lease] = []
        gaps: list[tuple[float, float]] = []
        for w, intervals in enumerate(busy[m]):
            floor = end if w < pool.min_workers else None
            slot = slot_leases(intervals, pool, origin=origin, live=w < run.live[m], floor=floor)
            mine += slot
            gaps += kept_idle(slot, intervals) if floor is None else []
        if mine:
            leases[pool.name] = tuple(mine)
            holds[pool.name] = tuple(sorted(gaps))
    held = static + bill(leases, {p.name: p for p in run.pools})
    stages = {k: replace(v, waits=True) if k in waiting else v for k, v in stages.items()}
    spend = cost if objective.basis is CostBasis.BUSY else held
    return RunPlan(
        run.spec.run_id, run.spec.workflow, stages, makespan, cost, held, objective,
        None if objective.budget is None else spend <= objective.budget + 1e-12,
        None if objective.deadline is None else makespan <= objective.deadline + 1e-9,
        leases, holds,
    )


def plan_run(
    spec: RunSpec,
    pools: Sequence[Pool],
    *,
    estimates: Mapping[str, Mapping[str, StageEstimate]] | None = None,
    objective: Objective | None = None,
    default_work: float = 1.0,
    declared: Sequence[Pool] = (),
    origin: float = 0.0,
    fixed: Mapping[str, tuple[str, float, float]] | None = None,
    fleet: Fleet | None = None,
) -> RunPlan:
    """Plan every stage of ``spec`` on ``pools`` (see the module docstring).

    Parameters
    ----------
    estimates
        ``{stage: {pool: StageEstimate}}`` learned by the cost model; stages without one use their
        ``cost`` hint, else ``default_work``.
    objective
        Mode, budget, deadline, tradeoff, basis; default: from ``spec`` (``balanced`` when it names none).
    declared
        Pools without live workers; a stage only they can run is planned on them (it waits).
    origin, fixed
        Re-planning a run in progress: times count from ``origin``; ``fixed`` stages keep their
        ``(option, start, finish)``; the deadline counts from the run's start (``origin = 0``).
    fleet
        Which pools grow and shrink with the plan, and how many of their workers are up (default:
        every pool static, every worker up).

    Examples
    --------
    >>> pools = [Pool("spot", 0.1, 1.0, 1), Pool("fast", 0.4, 2.0, 1)]
    >>> spec = RunSpec("r", "wf", (StageSpec("a", cost=10.0), StageSpec("b", inputs=("a",), cost=10.0)))
    >>> fastest = plan_run(spec, pools, objective=Objective(Mode.FASTEST))
    >>> round(fastest.makespan, 2), fastest.stages["a"].pool  # spread over both pools: 10 / (1 + 2)
    (6.67, '*')
    >>> plan_run(spec, pools, objective=Objective(Mode.CHEAPEST)).pool_of("b")
    'spot'
    """
    objective = objective or Objective(Mode(spec.mode or Mode.BALANCED.value), spec.budget, spec.deadline, spec.tradeoff)
    live_names = {p.name for p in pools}
    extra = [p for p in declared if p.name not in live_names]
    all_pools = [*pools, *extra]
    waiting = frozenset(s.name for s in spec.stages
                        if not any(can_run(s.resources, s.pool, p) for p in pools) and any(can_run(s.resources, s.pool, p) for p in extra))
    # declared pools are options only for the stages that have no live pool
    run = _Run(spec, all_pools, estimates or {}, default_work, fleet)
    if extra:
        extra_idx = {i for i, p in enumerate(all_pools) if p.name not in live_names}
        run.options = [[o for o in opts if not set(o.members) & extra_idx] if s.name not in waiting else
                       [o for o in opts if o.name != ALL_POOLS] for s, opts in zip(run.stages, run.options)]
    for s, opts in zip(run.stages, run.options):
        if not opts:
            raise WorkflowError(f"run {spec.run_id!r}, stage {s.name!r}: no live or declared pool can run it "
                                f"(resources {dict(s.resources)!r}, pool {s.pool!r})")
    prices = ("busy",) if objective.basis is CostBasis.BUSY else ("busy", "held")

    def passes(choose: str, target: float = math.inf) -> list[RunPlan]:
        return [_summary(run, _schedule(run, choose, target, origin=origin, fixed=fixed, price=price,
                                        deadline=objective.deadline), objective, origin, waiting)
                for price in (prices if choose != "fastest" else ("busy",))]

    fastest = passes("fastest")[0]
    if objective.mode is Mode.FASTEST and objective.budget is None:
        return fastest
    cheap = [fastest, *passes("cheapest")]
    if objective.mode is Mode.CHEAPEST and objective.deadline is None:
        return min(cheap, key=lambda p: (p.spend, p.makespan))
    if objective.mode is Mode.BALANCED and objective.deadline is None and objective.budget is None:
        tradeoff = DEFAULT_TRADEOFF if objective.tradeoff is None else float(objective.tradeoff)
        return _cheapest_within(run, (1.0 + tradeoff) * fastest.makespan + origin, fastest, cheap, passes, origin)
    if objective.deadline is not None and objective.mode is not Mode.FASTEST:
        return _cheapest_within(run, float(objective.deadline), fastest, cheap, passes, origin)
    # a budget: the fastest plan whose money fits it (bisect the target between fastest and cheapest)
    cheapest = min(cheap, key=lambda p: (p.spend, p.makespan))
    if fastest.spend <= objective.budget + 1e-12:
        return fastest
    if cheapest.spend > objective.budget + 1e-12:
        return cheapest
    lo, hi, best = fastest.makespan + origin, cheapest.makespan + origin, cheapest
    for _ in range(20):
        mid = (lo + hi) / 2.0
        candidate = _cheapest_within(run, mid, fastest, cheap, passes, origin)
        if candidate.spend <= objective.budget + 1e-12:
            best, hi = (candidate if candidate.makespan < best.makespan else best), mid
        else:
            lo = mid
    return best


def _cheapest_within(run: _Run, limit: float, fastest: RunPlan, cheap: Sequence[RunPlan], passes,
                     origin: float) -> RunPlan:
    """The plan with the least money found with makespan <= ``limit - origin`` (the cheapest passes,
    then slack-guided passes with the target lowered towards the fastest plan); the fastest plan
    when none meets it."""
    def fits(p: RunPlan) -> bool:
        return p.makespan + origin <= limit + 1e-9

    if fastest.makespan + origin > limit + 1e-9:
        return fastest
    found = [p for p in cheap if fits(p)]
    target, floor = limit, fastest.makespan + origin
    for _ in range(12):
        candidates = passes("slack", target)
        found += [p for p in candidates if fits(p)]
        if all(fits(p) for p in candidates):
            break
        target = floor + (target - floor) * 0.7  # aim earlier: the pass slipped
    return min(found or [fastest], key=lambda p: (p.spend, p.makespan))


def plan_with_model(
    spec: RunSpec,
    pools: Sequence[Pool],
    model: Any,
    *,
    mode: Mode,
    tradeoff: float,
    default_work: float = 1.0,
    declared: Sequence[Pool] = (),
    origin: float = 0.0,
    fixed: Mapping[str, tuple[str, float, float]] | None = None,
    fleet: Fleet | None = None,
    basis: CostBasis = CostBasis.HELD,
) -> RunPlan:
    """:func:`plan_run` with the stage estimates a :class:`~daskcollab.placement.CostModel` learned,
    and the run's own mode, budget, deadline and tradeoff over the defaults ``mode`` / ``tradeoff``.

    The placement plugin plans every run with this function, and ``daskcollab plan`` too.
    """
    estimates = {s.name: model.stage_estimates(spec.workflow, s.name) for s in spec.stages}
    objective = Objective(Mode(spec.mode) if spec.mode else mode, spec.budget, spec.deadline,
                          tradeoff if spec.tradeoff is None else spec.tradeoff, basis=CostBasis(basis))
    return plan_run(spec, pools, estimates=estimates, objective=objective, default_work=default_work,
                    declared=declared, origin=origin, fixed=fixed, fleet=fleet)
