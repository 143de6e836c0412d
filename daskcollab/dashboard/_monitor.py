"""Follow workflow runs on the scheduler: stage states, task counts and outcomes (a tiny ``SchedulerPlugin``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from daskcollab._contract import ANNOTATION_KEY, MONITOR_PLUGIN
from daskcollab._types import RunStatus, StageState

MONITOR_NAME = MONITOR_PLUGIN
#: Runs kept (oldest finished runs are dropped first).
MAX_RUNS = 100


def _row() -> dict[str, Any]:
    return {"kind": None, "state": StageState.PENDING.value, "submitted": 0, "done": 0, "erred": 0, "compute_s": 0.0,
            "first": None, "last": None, "started": None, "finished": None}


class StageMonitor(SchedulerPlugin):
    """Per ``(workflow, run, stage)``: state (from the runner), tasks submitted / finished / erred,
    compute seconds, first start and last stop; per run: its stage graph, status and outcome.

    Reads only the ``collab`` annotation of each task as it finishes; O(1) per transition. Two
    runs of one workflow on one scheduler have separate rows (their run ids differ).
    """

    name = MONITOR_NAME

    def __init__(self, scheduler: Any = None) -> None:
        self.scheduler = scheduler
        self.stages: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.workflow_of: dict[str, str] = {}
        self.runs: dict[str, dict[str, Any]] = {}

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def _get(self, workflow: str, run: str, stage: str) -> dict[str, Any]:
        row = self.stages.get((workflow, run, stage))
        if row is None:
            row = self.stages[(workflow, run, stage)] = _row()
        return row

    # -- runs (called by daskcollab.runtime._remote) ----------------------------------------
    def start_run(self, spec: Mapping[str, Any], plan: Mapping[str, Any] | None = None) -> None:
        """A run begins: its stage graph (``RunSpec.to_dict()``: stages with kind and inputs) and,
        with the placement plugin, the plan it starts with."""
        run_id, workflow = spec["run_id"], spec["workflow"]
        while len(self.runs) >= MAX_RUNS:
            old = next((k for k, r in self.runs.items() if r["finished"] is not None), next(iter(self.runs)))
            self._forget(old)
        self.workflow_of[run_id] = workflow
        self.runs[run_id] = {
            "run_id": run_id, "workflow": workflow, "started": time.time(), "finished": None, "status": RunStatus.RUNNING.value,
            "budget": spec.get("budget"), "deadline": spec.get("deadline"),
            "graph": {s["name"]: {"kind": s.get("kind"), "inputs": list(s.get("inputs") or ())}
                      for s in spec["stages"]},
            "plan": dict(plan) if plan else None, "outcome": {},
        }
        for stage in spec["stages"]:
            self._get(workflow, run_id, stage["name"])["kind"] = stage.get("kind")

    def _forget(self, run_id: str) -> None:
        self.runs.pop(run_id, None)
        self.workflow_of.pop(run_id, None)
        for key in [k for k in self.stages if k[1] == run_id]:
            del self.stages[key]

    def stage_event(self, run_id: str, stage: str, state: str) -> None:
        row = self._get(self.workflow_of.get(run_id, ""), run_id, stage)
        row["state"] = state
        now = time.time()
        if state == StageState.RUNNING:
            row["started"] = now
        elif state in (StageState.DONE, StageState.FAILED, StageState.REUSED):
            row["finished"] = now
            row["started"] = row["started"] or now

    def finish_run(self, run_id: str, status: str, outcome: Mapping[str, Any] | None = None) -> None:
        """A run ended with ``status``; ``outcome``: ``{"metrics", "weights", "blends"}`` of its result."""
        run = self.runs.get(run_id)
        if run is None:
            return
        run["finished"] = time.time()
        run["status"] = status
        run["outcome"] = dict(outcome or {})

    # -- tasks --------------------------------------------------------------------------------
    def update_graph(self, scheduler: Any, *, tasks=None, annotations=None, **kwargs: Any) -> None:
        collab = (annotations or {}).get(ANNOTATION_KEY) or {}
        for key, ann in collab.items():
            if isinstance(ann, dict) and ann.get("stage"):
                row = self._get(ann.get("workflow") or "", ann.get("run") or "", ann["stage"])
                row["kind"] = ann.get("kind")
                row["submitted"] += 1

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if finish not in ("memory", "erred") or self.scheduler is None:
            return
        ts = self.scheduler.tasks.get(key)
        ann = ((ts.annotations or {}).get(ANNOTATION_KEY) if ts is not None else None) or {}
        if not ann.get("stage"):
            return
        row = self._get(ann.get("workflow") or "", ann.get("run") or "", ann["stage"])
        row["done" if finish == "memory" else "erred"] += 1
        for ss in kwargs.get("startstops") or ():
            if ss.get("action") == "compute":
                row["compute_s"] += ss["stop"] - ss["start"]
                row["first"] = ss["start"] if row["first"] is None else min(row["first"], ss["start"])
                row["last"] = ss["stop"] if row["last"] is None else max(row["last"], ss["stop"])

    # -- views ----------------------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        """One row per ``(workflow, run, stage)``."""
        return [{"workflow": wf, "run": run, "stage": stage, **row} for (wf, run, stage), row in self.stages.items()]

    def run_snapshot(self, run_id: str) -> dict[str, Any] | None:
        """One run: graph, status, times, outcome and ``stages`` (``{stage: row}``, in graph order)."""
        run = self.runs.get(run_id)
        if run is None:
            return None
        wf = run["workflow"]
        rows = {stage: dict(row) for (w, r, stage), row in self.stages.items() if r == run_id and w == wf}
        order = [*run["graph"], *(s for s in rows if s not in run["graph"])]
        return {**run, "stages": {s: rows.get(s) or _row() for s in order}}

    def run_ids(self) -> list[str]:
        """Runs known here, newest first."""
        return sorted(self.runs, key=lambda r: self.runs[r]["started"], reverse=True)
