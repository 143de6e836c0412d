"""Count workflow tasks per stage and state on the scheduler (a tiny ``SchedulerPlugin``)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from daskcollab._contract import ANNOTATION_KEY

MONITOR_NAME = "daskcollab-stage-monitor"


class StageMonitor(SchedulerPlugin):
    """Per ``(workflow, stage)``: tasks submitted, tasks finished, erred, compute seconds.

    Reads only the ``collab`` annotation of each task as it finishes; O(1) per transition.
    """

    name = MONITOR_NAME

    def __init__(self, scheduler: Any = None) -> None:
        self.scheduler = scheduler
        self.stages: dict[tuple[str, str], dict[str, Any]] = defaultdict(
            lambda: {"kind": None, "submitted": 0, "done": 0, "erred": 0, "compute_s": 0.0, "first": None, "last": None}
        )

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def update_graph(self, scheduler: Any, *, tasks=None, annotations=None, **kwargs: Any) -> None:
        collab = (annotations or {}).get(ANNOTATION_KEY) or {}
        for key, ann in collab.items():
            if isinstance(ann, dict) and ann.get("stage"):
                row = self.stages[(ann.get("workflow") or "", ann["stage"])]
                row["kind"] = ann.get("kind")
                row["submitted"] += 1

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if finish not in ("memory", "erred") or self.scheduler is None:
            return
        ts = self.scheduler.tasks.get(key)
        ann = ((ts.annotations or {}).get(ANNOTATION_KEY) if ts is not None else None) or {}
        if not ann.get("stage"):
            return
        row = self.stages[(ann.get("workflow") or "", ann["stage"])]
        row["done" if finish == "memory" else "erred"] += 1
        for ss in kwargs.get("startstops") or ():
            if ss.get("action") == "compute":
                row["compute_s"] += ss["stop"] - ss["start"]
                row["first"] = ss["start"] if row["first"] is None else min(row["first"], ss["start"])
                row["last"] = ss["stop"] if row["last"] is None else max(row["last"], ss["stop"])

    def snapshot(self) -> list[dict[str, Any]]:
        return [{"workflow": wf, "stage": stage, **row} for (wf, stage), row in self.stages.items()]
