"""One run as the dashboard page, the Prometheus collector and the HTML report show it (pure).

:func:`run_view` turns a run's plain data into the numbers every view shows, so the page, the
metrics and the report cannot disagree:

* the run as the stage monitor follows it (graph, states, outcome), or as a ``RunResult``
  recorded it (:func:`run_from_result`);
* the run's ledger from the placement plugin (``PlacementPlugin.snapshot(run=...)``, which
  ``RunResult.placements`` holds): money, compute intervals, the plan.

Percent complete counts stages and the plan's work, never tasks (a stage that is still
submitting has a task count that grows).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from enum import Enum
from typing import Any

from daskcollab._types import RunStatus, StageState

#: Stage states, in the order the page lists them.
STAGE_STATES = tuple(s.value for s in (StageState.PENDING, StageState.RUNNING, StageState.SUBMITTED, StageState.DONE,
                                        StageState.REUSED, StageState.FAILED))
FINISHED = (StageState.DONE.value, StageState.REUSED.value)
STATE_COLOURS = {"pending": "#9e9e9e", "running": "#1f77b4", "submitted": "#6baed6", "done": "#2ca02c",
                 "reused": "#17becf", "failed": "#d62728"}
#: Bokeh's Category20: a stage has the same colour on the page and in the report.
PALETTE = ("#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd",
           "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d",
           "#17becf", "#9edae5")


def stage_colours(stages: list[str] | tuple[str, ...]) -> dict[str, str]:
    """A stable colour per stage, in graph order."""
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(stages)}


class BudgetState(str, Enum):
    """Money against the budget."""

    NONE = "no budget"
    WITHIN = "within budget"
    OVER = "over budget"


class DeadlineState(str, Enum):
    """Elapsed time against the deadline."""

    NONE = "no deadline"
    WITHIN = "within deadline"
    OVER = "over deadline"


def fmt_money(value: float | None) -> str:
    """``$0.0012``, ``-$0.0001``, ``-`` for unknown: money as every view prints it."""
    if value is None:
        return "-"
    return f"{'-' if value < 0 else ''}${abs(value):.4f}"


def fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def run_from_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """The stage monitor's view of a run, rebuilt from a ``RunResult.to_dict()``."""
    graph = dict(result.get("graph") or {})
    states = dict(result.get("stage_states") or {})
    order = [*graph, *(s for s in states if s not in graph)]
    return {
        "run_id": result.get("run_id"), "workflow": result.get("workflow"),
        "started": result.get("started_at"), "finished": result.get("finished_at"),
        "status": _status_of(states), "graph": graph, "plan": result.get("plan") or None,
        "budget": (result.get("placements") or {}).get("budget"),
        "deadline": (result.get("placements") or {}).get("deadline"),
        "stages": {s: {"state": states.get(s, StageState.PENDING.value), "kind": (graph.get(s) or {}).get("kind")} for s in order},
        "outcome": {"metrics": result.get("metrics") or {}, "weights": result.get("weights") or {},
                    "blends": result.get("blends") or {}},
    }


def _status_of(states: Mapping[str, str]) -> str:
    if any(s == StageState.FAILED for s in states.values()):
        return RunStatus.FAILED.value
    done = states and all(s in FINISHED for s in states.values())
    return RunStatus.DONE.value if done else RunStatus.RUNNING.value


def run_view(run: Mapping[str, Any] | None, ledger: Mapping[str, Any] | None, *,
             now: float | None = None) -> dict[str, Any]:
    """Everything shown about one run, as plain data.

    Parameters
    ----------
    run
        The stage monitor's run (``StageMonitor.run_snapshot``) or :func:`run_from_result`;
        ``None`` when only the ledger is known.
    ledger
        The run's ledger (``PlacementPlugin.snapshot(run=...)``); ``None`` or ``{}`` without the
        placement plugin (no money, no Gantt).
    now
        Unix time for a running run's elapsed time (default: now).

    Returns
    -------
    dict
        ``run_id, workflow, status, started, elapsed, stages`` (list of per-stage dicts),
        ``progress``, ``money``, ``time``, ``plan``, ``gantt``, ``pools``, ``outcome``, ``alerts``.
    """
    run = run or {}
    ledger = ledger or {}
    now = time.time() if now is None else now
    plan = run.get("plan") or ledger.get("plan") or {}  # the plan the run started with (re-plans replace the ledger's)
    planned = plan.get("stages") or {}
    led_stages = ledger.get("stages") or {}
    mon_stages = run.get("stages") or {}
    names = [*mon_stages, *(s for s in led_stages if s not in mon_stages), *(s for s in planned
                                                                         if s not in mon_stages and s not in led_stages)]
    started = ledger.get("started") or run.get("started")
    finished = ledger.get("finished") or run.get("finished")
    status = ledger.get("status") or run.get("status") or RunStatus.RUNNING.value
    elapsed = None if started is None else (finished or now) - started

    stages = []
    for name in names:
        m, s, p = mon_stages.get(name) or {}, led_stages.get(name) or {}, planned.get(name) or {}
        state = m.get("state") or s.get("state") or StageState.PENDING.value
        s_start, s_end = s.get("started") or m.get("started"), s.get("finished") or m.get("finished")
        stages.append({
            "stage": name, "kind": m.get("kind") or ((run.get("graph") or {}).get(name) or {}).get("kind"),
            "state": state, "inputs": list(((run.get("graph") or {}).get(name) or {}).get("inputs") or ()),
            "tasks_done": m.get("done", s.get("tasks")), "tasks_erred": m.get("erred"),
            "busy_seconds": s.get("busy_seconds"), "cost_busy": s.get("cost_busy"), "cost_held": s.get("cost_held"),
            "pools": sorted(s.get("pools") or {}),
            "planned_pool": p.get("pool"), "planned_work": p.get("work"),
            "planned_start": p.get("start"), "planned_finish": p.get("finish"), "planned_cost": p.get("cost"),
            "seconds": None if s_start is None else (s_end or now) - s_start,
            "start": None if s_start is None or started is None else s_start - started,
        })

    done = [st for st in stages if st["state"] in FINISHED]
    work_total = sum(st["planned_work"] or 0.0 for st in stages) if planned else None
    work_done = sum(st["planned_work"] or 0.0 for st in done) if planned else None
    progress = {
        "stages_total": len(stages), "stages_done": len(done),
        "stages_running": sum(st["state"] in (StageState.RUNNING, StageState.SUBMITTED) for st in stages),
        "stages_failed": sum(st["state"] == StageState.FAILED for st in stages),
        "by_stages": len(done) / len(stages) if stages else 0.0,
        "work_total": work_total, "work_done": work_done,
        "by_work": (work_done / work_total) if work_total else None,
    }

    budget = ledger.get("budget", run.get("budget"))
    busy, held = ledger.get("cost_busy"), ledger.get("cost_held")
    over = ledger.get("over_budget")
    if budget is None:
        budget_state = BudgetState.NONE
    elif over or status == RunStatus.OVER_BUDGET:
        budget_state = BudgetState.OVER
    else:
        budget_state = BudgetState.WITHIN
    busy_pool, held_pool = ledger.get("cost_busy_by_pool") or {}, ledger.get("cost_held_by_pool") or {}
    startup_pool = ledger.get("cost_startup_by_pool") or {}
    pools = sorted({*busy_pool, *held_pool, *startup_pool})
    money = {
        "busy": busy, "held": held, "budget": budget, "basis": "held",
        "held_spot": ledger.get("cost_held_spot"), "held_on_demand": ledger.get("cost_held_on_demand"),
        "remaining": None if budget is None or held is None else budget - held,
        "used": None if not budget or held is None else held / budget,
        "state": budget_state.value,
        "by_pool": {p: {"busy": busy_pool.get(p, 0.0), "held": held_pool.get(p, 0.0),
                        "busy_seconds": (ledger.get("busy_seconds_by_pool") or {}).get(p, 0.0),
                        "held_seconds": (ledger.get("held_seconds_by_pool") or {}).get(p, 0.0),
                        # part of held: billed from the request while the worker started
                        "startup": startup_pool.get(p, 0.0)} for p in pools},
    }

    deadline = ledger.get("deadline", run.get("deadline"))
    if deadline is None:
        deadline_state = DeadlineState.NONE
    elif ledger.get("over_deadline") or (elapsed is not None and elapsed > deadline):
        deadline_state = DeadlineState.OVER
    else:
        deadline_state = DeadlineState.WITHIN
    clock = {"elapsed": elapsed, "deadline": deadline, "state": deadline_state.value,
             "remaining": None if deadline is None or elapsed is None else deadline - elapsed,
             "margin": ledger.get("deadline_margin")}

    gantt = []
    for name in names:
        for start, stop, pool, worker in (led_stages.get(name) or {}).get("intervals") or ():
            if started is not None:
                gantt.append({"stage": name, "pool": pool, "worker": worker,
                              "start": start - started, "stop": stop - started})

    plan_vs_actual = None
    if plan:
        plan_vs_actual = {"mode": plan.get("mode"), "replans": ledger.get("replans", 0),
                          "makespan": {"planned": plan.get("makespan"), "actual": elapsed},
                          "cost_busy": {"planned": plan.get("cost"), "actual": busy},
                          "cost_held": {"planned": plan.get("held_cost"), "actual": held}}

    outcome = dict(run.get("outcome") or {})
    return {
        "run_id": ledger.get("run_id") or run.get("run_id"), "workflow": ledger.get("workflow") or run.get("workflow"),
        "status": status, "started": started, "finished": finished, "elapsed": elapsed,
        "stages": stages, "progress": progress, "money": money, "time": clock, "plan": plan_vs_actual,
        "gantt": gantt, "pools": pools, "outcome": outcome, "gains": gains_of(outcome),
        "alerts": list(ledger.get("alerts") or ()), "placement": bool(ledger),
    }


def gains_of(outcome: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{blend: {metric: {"gain", "best_member", "best_value", "blend_value"}}}`` of a run's outcome."""
    from daskcollab.evaluation import blend_gains

    metrics, weights, blends = (outcome.get(k) or {} for k in ("metrics", "weights", "blends"))
    out = {}
    for blend in {*blends, *weights}:
        members = list((blends.get(blend) or {}).get("models") or weights.get(blend) or ())
        gains = blend_gains(metrics, members, blend)
        if gains:
            out[blend] = {metric: g._asdict() for metric, g in gains.items()}
    return dict(sorted(out.items()))
