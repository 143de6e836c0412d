"""Count workflow tasks per run, stage and state on the scheduler (a tiny ``SchedulerPlugin``)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from daskcollab._contract import ANNOTATION_KEY

MONITOR_NAME = "daskcollab-stage-monitor"


def _row() -> dict[str, Any]:
    return {"kind": None, "state": "pending", "submitted": 0, "done": 0, "erred": 0, "compute_s": 0.0,
            "first": None, "last": None}


class StageMonitor(SchedulerPlugin):
    """Per ``(workflow, run, stage)``: state (from the runner), tasks submitted / finished / erred,
    compute seconds, first start and last stop.

    Reads only the ``collab`` annotation of each task as it finishes; O(1) per transition. Two
    runs of one workflow on one scheduler have separate rows (their run ids differ).
    """

    name = MONITOR_NAME

    def __init__(self, scheduler: Any = None) -> None:
        self.scheduler = scheduler
        self.stages: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.workflow_of: dict[str, str] = {}

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def _get(self, workflow: str, run: str, stage: str) -> dict[str, Any]:
        row = self.stages.get((workflow, run, stage))
        if row is None:
            row = self.stages[(workflow, run, stage)] = _row()
        return row

    # -- runs (called by daskcollab.runtime._remote) ----------------------------------------
    def start_run(self, spec: dict[str, Any]) -> None:
        self.workflow_of[spec["run_id"]] = spec["workflow"]
        for stage in spec["stages"]:
            self._get(spec["workflow"], spec["run_id"], stage["name"])["kind"] = stage.get("kind")

    def stage_event(self, run_id: str, stage: str, state: str) -> None:
        self._get(self.workflow_of.get(run_id, ""), run_id, stage)["state"] = state

    def finish_run(self, run_id: str, status: str) -> None:
        return None

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

    def snapshot(self) -> list[dict[str, Any]]:
        return [{"workflow": wf, "run": run, "stage": stage, **row} for (wf, run, stage), row in self.stages.items()]
