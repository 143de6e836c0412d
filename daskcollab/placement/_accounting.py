"""Decisions and money: what the placement plugin decided and what the run cost (pure).

The plugin feeds a :class:`Ledger`; the run report, the dashboard and the tests read
:meth:`Ledger.snapshot`. Money is *busy* worker-seconds (the compute time of finished tasks,
from the workers' ``startstops``) times the pool's price per hour / 3600. Provisioned
(alive) worker-seconds are tracked too, for clusters that are paid while idle.

:func:`plan_report` prints what each mode would do with a set of tasks and pools, for the
``daskcollab plan`` CLI.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from daskcollab.placement._planning import Mode, Objective, Pool, TaskSpec, lower_bounds, plan

UNANNOTATED = "(unannotated)"


@dataclass(frozen=True)
class Decision:
    """One placement decision of the plugin, per stage and submission.

    ``reason`` is one of ``"plan"`` (the policy chose), ``"pinned"`` (the stage named its
    pool), ``"replan"`` (the chosen pool lost its workers), ``"unplaceable"``, ``"budget"``.
    """

    time: float
    workflow: str | None
    stage: str | None
    pool: str | None
    ntasks: int
    reason: str
    mode: str | None = None
    estimated_work: float | None = None
    estimated_makespan: float | None = None
    estimated_cost: float | None = None
    message: str | None = None


@dataclass
class _Totals:
    tasks: int = 0
    busy_seconds: float = 0.0
    cost: float = 0.0


@dataclass
class Ledger:
    """Running totals of decisions, busy seconds and money per pool and per stage.

    Examples
    --------
    >>> ledger = Ledger()
    >>> ledger.record_task("x-1", stage="fit", pool="gpu", duration=36.0, price_per_hour=2.5)
    >>> round(ledger.snapshot()["cost"], 4)
    0.025
    """

    max_decisions: int = 10_000
    max_tasks: int = 200_000
    decisions: deque[Decision] = field(default_factory=deque)
    by_pool: dict[str, _Totals] = field(default_factory=dict)
    by_stage: dict[str, _Totals] = field(default_factory=dict)
    ran_on: dict[Hashable, tuple[str, str | None]] = field(default_factory=dict)
    alive_seconds: dict[str, float] = field(default_factory=dict)
    _alive_since: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    budget: float | None = None
    deadline: float | None = None

    def record_decision(self, decision: Decision) -> None:
        self.decisions.append(decision)
        while len(self.decisions) > self.max_decisions:
            self.decisions.popleft()

    def record_task(
        self,
        key: Hashable,
        *,
        stage: str | None,
        pool: str | None,
        duration: float,
        price_per_hour: float,
        worker: str | None = None,
    ) -> None:
        """Account one finished task: ``duration`` busy seconds on a worker of ``pool``."""
        cost = duration * price_per_hour / 3600.0
        for table, name in ((self.by_pool, pool), (self.by_stage, stage)):
            totals = table.get(name or UNANNOTATED)
            if totals is None:
                totals = table[name or UNANNOTATED] = _Totals()
            totals.tasks += 1
            totals.busy_seconds += duration
            totals.cost += cost
        if len(self.ran_on) < self.max_tasks:
            self.ran_on[key] = (worker or "", pool)

    def worker_up(self, address: str, pool: str, price_per_hour: float, now: float | None = None) -> None:
        self._alive_since[address] = (pool, price_per_hour, time.time() if now is None else now)

    def worker_down(self, address: str, now: float | None = None) -> None:
        entry = self._alive_since.pop(address, None)
        if entry is not None:
            pool, _, since = entry
            self.alive_seconds[pool] = self.alive_seconds.get(pool, 0.0) + (time.time() if now is None else now) - since

    @property
    def cost(self) -> float:
        return sum(t.cost for t in self.by_pool.values())

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Plain-data view for the run report and the dashboard (JSON-serialisable)."""
        now = time.time() if now is None else now
        alive = dict(self.alive_seconds)
        alive_cost: dict[str, float] = {}
        for pool, price, since in self._alive_since.values():
            alive[pool] = alive.get(pool, 0.0) + now - since
        prices = {pool: price for pool, price, _ in self._alive_since.values()}
        for pool, seconds in alive.items():
            if pool in prices:
                alive_cost[pool] = seconds * prices[pool] / 3600.0
        cost = self.cost
        return {
            "cost": cost,
            "budget": self.budget,
            "over_budget": None if self.budget is None else cost > self.budget,
            "cost_by_pool": {k: v.cost for k, v in self.by_pool.items()},
            "busy_seconds_by_pool": {k: v.busy_seconds for k, v in self.by_pool.items()},
            "tasks_by_pool": {k: v.tasks for k, v in self.by_pool.items()},
            "cost_by_stage": {k: v.cost for k, v in self.by_stage.items()},
            "busy_seconds_by_stage": {k: v.busy_seconds for k, v in self.by_stage.items()},
            "alive_seconds_by_pool": alive,
            "alive_cost_by_pool": alive_cost,
            "decisions": [asdict(d) for d in self.decisions],
        }


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def plan_report(
    tasks: Sequence[TaskSpec],
    pools: Iterable[Pool],
    budget: float | None = None,
    deadline: float | None = None,
    modes: Iterable[Mode] = tuple(Mode),
) -> str:
    """A plain-text table of what each mode would do: makespan, cost, budget/deadline, per pool.

    Examples
    --------
    >>> from daskcollab.placement import Pool, TaskSpec
    >>> pools = [Pool("spot", 0.1, 1.0, 2), Pool("fast", 0.4, 2.0, 1)]
    >>> tasks = [TaskSpec(i, work=10.0) for i in range(4)]
    >>> print(plan_report(tasks, pools).splitlines()[0])  # doctest: +NORMALIZE_WHITESPACE
    mode       makespan_s   cost_$     SLR  budget  deadline  per pool (busy s / $)
    """
    pools = list(pools)
    tasks = list(tasks)
    bounds = lower_bounds(tasks, pools)
    header = f"{'mode':<10} {'makespan_s':>10} {'cost_$':>8} {'SLR':>7}  {'budget':<6}  {'deadline':<8}  per pool (busy s / $)"
    lines = [header]
    for mode in modes:
        p = plan(tasks, pools, Objective(mode=Mode(mode), budget=budget, deadline=deadline))
        slr = p.makespan / bounds.makespan if bounds.makespan > 0 else float("nan")
        per_pool = ", ".join(
            f"{name}: {p.busy_seconds_by_pool.get(name, 0.0):.1f} s / ${p.cost_by_pool.get(name, 0.0):.4f}"
            for name in sorted(p.cost_by_pool)
        )
        ok_b = "-" if p.meets_budget is None else ("ok" if p.meets_budget else "MISS")
        ok_d = "-" if p.meets_deadline is None else ("ok" if p.meets_deadline else "MISS")
        lines.append(
            f"{Mode(mode).value:<10} {p.makespan:>10.2f} {p.cost:>8.4f} {slr:>7.3f}  {ok_b:<6}  {ok_d:<8}  {per_pool}"
        )
    lines.append(
        f"lower bounds: makespan {bounds.makespan:.2f} s (critical path {bounds.critical_path:.2f} s, "
        f"work/speed {bounds.work_over_speed:.2f} s), cost ${bounds.cost:.4f}"
        + (f"; budget ${_fmt(budget, '.4f')}" if budget is not None else "")
        + (f"; deadline {_fmt(deadline, '.1f')} s" if deadline is not None else "")
    )
    return "\n".join(lines)


def summarize_plans(tasks: Sequence[TaskSpec], pools: Iterable[Pool], **objective: Any) -> dict[str, Mapping[str, Any]]:
    """Per mode: makespan, cost and per-pool cost as plain data (the machine-readable plan_report)."""
    pools = list(pools)
    out: dict[str, Mapping[str, Any]] = {}
    for mode in Mode:
        p = plan(list(tasks), pools, Objective(mode=mode, **objective))
        out[mode.value] = {
            "makespan": p.makespan,
            "cost": p.cost,
            "cost_by_pool": dict(p.cost_by_pool),
            "busy_seconds_by_pool": dict(p.busy_seconds_by_pool),
            "meets_budget": p.meets_budget,
            "meets_deadline": p.meets_deadline,
        }
    return out
