"""Run bookkeeping: a workflow run's plan from its start to its end, and its budget and deadline verdicts (pure).

``daskcollab.run`` registers each run with the placement plugin before its tasks exist
(:meth:`Runs.start`, with the run's stage graph, a :class:`~daskcollab.placement.RunSpec`), reports
its stages' states (:meth:`Runs.stage_event`) and ends it (:meth:`Runs.finish`). In between:

* one plan for the whole run, made by a :class:`Planner` over the pools of the moment, checked
  against the run's budget and deadline (``on-budget-miss``: warn, or refuse the run);
* re-plans of the stages not started yet when the run drifts (a stage finished, a pool appeared or
  lost its last worker, the elastic pools changed), keeping what ran or runs where it is;
* while it goes, its spend and elapsed time against its budget and deadline (:meth:`Runs.verdicts`);
* a run given up or over its budget is *failed*: the plugin errs its waiting and new tasks.

Everything is plain data: :class:`~daskcollab.placement.RunLedger` records in the
:class:`~daskcollab.placement.Ledger`, plans and specs by run id, times as arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from daskcollab._errors import BudgetError, DaskCollabError, workflow_message
from daskcollab._types import RunStatus, StageState
from daskcollab.placement._cost_model import CostModel
from daskcollab.placement._feasibility import Verdict, feasibility, unplaceable_message
from daskcollab.placement._ledger import Decision, Ledger
from daskcollab.placement._runplan import Fleet, RunPlan, RunSpec, plan_with_model
from daskcollab.placement._settings import BudgetAction, BudgetBasis, Settings
from daskcollab.placement._spec import Pool

#: Failed runs remembered at most (their new tasks err at once); the oldest is forgotten first.
MAX_FAILED_RUNS = 1_000


class StartKind(str, Enum):
    """Why a run was refused at its start (the ``kind`` of :meth:`Runs.start`'s ``error`` reply)."""

    UNPLACEABLE = "unplaceable"  # a stage no current or declared pool can ever run
    BUDGET = "budget"  # the plan misses the budget or deadline and on-budget-miss is fail


@dataclass(frozen=True)
class Planner:
    """What planning a run needs: the pools to plan on, the declared pools without workers, what
    the cost model learned, and the settings (mode, tradeoff, default work)."""

    pools: Sequence[Pool]
    declared: Sequence[Pool]
    model: CostModel
    settings: Settings
    fleet: Fleet | None = None  # which pools follow the plan (elastic), and their workers up now

    def plan(self, spec: RunSpec, *, origin: float = 0.0,
             fixed: Mapping[str, tuple[str, float, float]] | None = None) -> RunPlan | None:
        """Plan a run (None without pools). Stages only plain workers outside every pool can run are
        left out of the plan: Dask places their tasks."""
        if not self.pools:
            return None
        if spec.spot_policy is None:
            spec = dataclasses.replace(spec, spot_policy=self.settings.spot_policy.value)
        keep = {s.name for s in spec.stages
                if feasibility(s.resources, s.pool, self.pools, self.declared).verdict is not Verdict.NEVER}
        if len(keep) < len(spec.stages):
            stages = tuple(dataclasses.replace(s, inputs=tuple(i for i in s.inputs if i in keep))
                           for s in spec.stages if s.name in keep)
            spec = dataclasses.replace(spec, stages=stages)
        fixed = {k: v for k, v in (fixed or {}).items() if k in keep} or None
        s = self.settings
        return plan_with_model(spec, list(self.pools), self.model, mode=s.mode, tradeoff=s.tradeoff,
                               default_work=s.default_work, declared=list(self.declared), origin=origin, fixed=fixed,
                               fleet=self.fleet, basis=s.budget_counts)


@dataclass(frozen=True)
class Alert:
    """A run found over its budget or past its deadline while it goes."""

    run_id: str
    reason: str  # "over-budget" | "over-deadline"
    message: str


@dataclass
class Runs:
    """The active runs' specs and plans, and the failed runs (see the module docstring)."""

    ledger: Ledger
    specs: dict[str, RunSpec] = field(default_factory=dict)
    plans: dict[str, RunPlan] = field(default_factory=dict)
    failed: dict[str, tuple[type[Exception], str]] = field(default_factory=dict)  # run -> (error, message)

    def start(self, spec: RunSpec, planner: Planner, check: tuple[Sequence[Pool], Sequence[Pool]],
              now: float) -> dict[str, Any]:
        """Register a run and plan it: ``{"plan", "warnings"}``, or ``{"error", "kind"}`` (a
        :class:`StartKind`) when it cannot start; ``check`` is (live, declared) pools for feasibility."""
        live, declared = check
        for stage in spec.stages:
            verdict = feasibility(stage.resources, stage.pool, live, declared)
            if verdict.verdict is Verdict.NEVER:
                return {"error": unplaceable_message(stage.name, stage.resources, stage.pool, verdict.missing,
                                                     [*live, *declared]), "kind": StartKind.UNPLACEABLE.value}
        record = self.ledger.start_run(spec.run_id, spec.workflow, budget=spec.budget, deadline=spec.deadline, now=now)
        self.specs[spec.run_id] = spec
        plan = planner.plan(spec)
        if plan is None:
            return {"plan": None, "warnings": ["no worker of any pool yet: the run is planned when one joins"]}
        self.plans[spec.run_id] = plan
        record.plan = plan.to_dict()
        settings = planner.settings
        basis = plan.held_cost if settings.budget_counts is BudgetBasis.HELD else plan.cost
        problems = []
        if spec.budget is not None and basis > spec.budget + 1e-12:
            costs = ", ".join(f"{n} ${p.cost:.4f}" for n, p in plan.stages.items())
            problems.append(f"budget ${spec.budget:g} but the plan of the whole run costs ${basis:.4f} "
                            f"({settings.budget_counts.value}; busy per stage: {costs})")
        if plan.meets_deadline is False:
            problems.append(f"deadline {spec.deadline:g} s but the plan of the whole run takes {plan.makespan:.1f} s")
        if not problems:
            return {"plan": plan.to_dict(), "warnings": []}
        message = workflow_message(spec.workflow, "budget" if "budget" in problems[0] else "deadline",
                                   "; ".join(problems), "raise the budget/deadline, add workers to a pool, or choose "
                                                        "another mode (fastest|cheapest|balanced)")
        self.ledger.record_decision(Decision(now, spec.workflow, None, None, len(spec.stages), "budget",
                                             mode=plan.objective.mode.value, estimated_makespan=plan.makespan,
                                             estimated_cost=plan.cost, message=message, run=spec.run_id))
        if settings.on_budget_miss is BudgetAction.FAIL:
            self.end(spec.run_id, RunStatus.FAILED, now)
            return {"error": message, "kind": StartKind.BUDGET.value, "plan": plan.to_dict()}
        record.alerts.append(message)
        return {"plan": plan.to_dict(), "warnings": [message]}

    def plan_missing(self, run_ids: Iterable[str], planner: Planner) -> None:
        """Plan the given runs that started before any pool worker joined."""
        for run_id in set(run_ids):
            if run_id in self.specs and run_id not in self.plans:
                plan = planner.plan(self.specs[run_id])
                if plan is not None:
                    self.plans[run_id] = plan
                    self.ledger.runs[run_id].plan = plan.to_dict()

    def replan(self, run_id: str, why: str, planner: Planner, now: float, unfix: frozenset[str] = frozenset()) -> str | None:
        """Re-plan the stages of a run that have not started, keeping what ran or runs (but the
        ``unfix`` stages, moved elsewhere); returns a warning when it cannot (e.g. a pool gone for
        good: the watchdog errs its tasks later)."""
        spec, record = self.specs.get(run_id), self.ledger.runs.get(run_id)
        if spec is None or record is None or record.finished is not None:
            return None
        old = self.plans.get(run_id)
        elapsed = now - record.started
        fixed = {}
        for name, s in record.stages.items():
            if old is None or name not in old.stages or name in unfix:
                continue
            # a stage ran when it is over, or once a task of it computed: "running" alone only says its
            # work was submitted (a whole run is submitted at once), its tasks may still wait for inputs
            if s.state in (StageState.DONE, StageState.REUSED, StageState.FAILED) or (
                    s.state == StageState.RUNNING and s.first_start is not None):
                planned = old.stages[name]
                began = s.first_start if s.first_start is not None else s.started
                start = (began - record.started) if began is not None else planned.start
                end = (s.finished - record.started) if s.finished is not None else max(planned.finish, elapsed)
                fixed[name] = (planned.pool, start, max(end, start))
        try:
            plan = planner.plan(spec, origin=elapsed if fixed else 0.0, fixed=fixed or None)
        except DaskCollabError as exc:
            return f"cannot re-plan run {run_id} ({why}): {exc}"
        if plan is None:
            self.plans.pop(run_id, None)
            return None
        if old is not None and {n: p.pool for n, p in plan.stages.items()} != {n: p.pool for n, p in old.stages.items()}:
            record.replans += 1
            self.ledger.record_decision(Decision(now, spec.workflow, None, None, len(spec.stages), "replan",
                                                 mode=plan.objective.mode.value, estimated_makespan=plan.makespan,
                                                 estimated_cost=plan.cost, message=why, run=run_id))
        self.plans[run_id] = plan
        record.plan = plan.to_dict()
        return None

    def move_off_spot(self, run_id: str, stages: frozenset[str], why: str, planner: Planner, now: float) -> str | None:
        """Plan ``stages`` of a run on on-demand pools from now on (their progress fell behind the
        deadline, see :mod:`._spot`), and re-plan the rest of the run; returns a warning when it cannot."""
        spec = self.specs.get(run_id)
        if spec is None or stages <= spec.off_spot:
            return None
        self.specs[run_id] = dataclasses.replace(spec, off_spot=spec.off_spot | stages)
        return self.replan(run_id, why, planner, now, unfix=stages)

    def replan_all(self, why: str, planner: Planner, now: float) -> list[str]:
        return [w for run_id in list(self.specs) if (w := self.replan(run_id, why, planner, now))]

    def stage_event(self, run_id: str, stage: str, state: str, now: float) -> bool:
        """A stage changed state (reported by the runner); True when the run should be re-planned."""
        record = self.ledger.runs.get(run_id)
        if record is None:
            return False
        state = StageState(state)
        s = record.stage(stage)
        s.state = state
        if state is StageState.RUNNING:
            s.started = now
        elif state in (StageState.DONE, StageState.FAILED, StageState.REUSED):
            s.finished = now
            if s.started is None:
                s.started = now
            return state is StageState.DONE
        return False

    def finish(self, run_id: str, status: str, now: float) -> tuple[Any, RunPlan | None] | None:
        """End a run: ``(its RunLedger, its last plan)``, or None for a run never started here."""
        record = self.ledger.runs.get(run_id)
        if record is None:
            return None
        plan = self.plans.get(run_id)
        self.end(run_id, RunStatus(status), now)
        return record, plan

    def end(self, run_id: str, status: RunStatus, now: float) -> None:
        record = self.ledger.runs.get(run_id)
        if record is not None and record.finished is None:
            record.finished = now
            if record.status != RunStatus.OVER_BUDGET:  # a run failed for its budget stays marked so
                record.status = status
        self.specs.pop(run_id, None)
        self.plans.pop(run_id, None)

    def fail(self, run_id: str, message: str, error: type[Exception] = BudgetError,
             status: RunStatus = RunStatus.OVER_BUDGET) -> None:
        """Mark a run failed with ``error(message)``: the plugin errs its waiting and new tasks."""
        self.failed[run_id] = (error, message)
        record = self.ledger.runs.get(run_id)
        if record is not None and record.status == RunStatus.RUNNING:
            record.status = status
        while len(self.failed) > MAX_FAILED_RUNS:
            self.failed.pop(next(iter(self.failed)))

    def error_of(self, run_id: str | None) -> Exception | None:
        """The error a task of ``run_id`` gets (None: the run did not fail)."""
        failed = self.failed.get(run_id) if run_id is not None else None
        return None if failed is None else failed[0](failed[1])

    def verdicts(self, basis: BudgetBasis, now: float) -> list[Alert]:
        """Compare every active run's spend and elapsed time with its budget and deadline; each
        alert is raised once per run (recorded in its ledger and the decisions)."""
        out = []
        for run_id, record in list(self.ledger.runs.items()):
            if record.finished is not None or (record.budget is None and record.deadline is None):
                continue
            spend = self.ledger.run_spend(record, now)[basis.value]
            problems = []
            if record.budget is not None and spend > record.budget and "over-budget" not in record.flags:
                problems.append(("over-budget", f"spent ${spend:.4f} ({basis.value}) of a "
                                                f"${record.budget:g} budget after {record.elapsed(now):.1f} s"))
            if record.deadline is not None and record.elapsed(now) > record.deadline \
                    and "over-deadline" not in record.flags:
                problems.append(("over-deadline", f"running {record.elapsed(now):.1f} s, past its "
                                                  f"{record.deadline:g} s deadline"))
            for reason, problem in problems:
                message = workflow_message(record.workflow, "budget" if reason == "over-budget" else "deadline",
                                           f"run {run_id}: {problem}",
                                           "raise the budget/deadline or make the workflow cheaper/faster")
                record.flags.add(reason)
                record.alerts.append(message)
                self.ledger.record_decision(Decision(now, record.workflow, None, None, 0, reason, message=message,
                                                     run=run_id))
                out.append(Alert(run_id, reason, message))
        return out
