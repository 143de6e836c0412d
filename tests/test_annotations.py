"""Every task of every stage reaches the real scheduler with its stage's annotations,
under default graph optimisation and with low-level fusion switched on."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import ClassVar

import dask
import numpy as np
import pytest
from distributed import futures_of
from distributed.diagnostics.plugin import SchedulerPlugin

import daskcollab as dc
from daskcollab.compile import stage_annotations
from daskcollab.workflow import StageContext
from daskcollab.workflow._constraints import edge
from daskcollab.workflow._stage import STAGE_TYPES


class AnnotationRecorder(SchedulerPlugin):
    """Records, per new task, the annotations the scheduler stored on its TaskState."""

    name = "annotation-recorder"

    def __init__(self):
        self.tasks: dict[str, dict] = {}

    def update_graph(self, scheduler, *, tasks=None, annotations=None, **kwargs):
        for key in tasks or ():
            ts = scheduler.tasks.get(key)
            if ts is not None and ts.state == "released":
                self.tasks[str(key)] = dict(ts.annotations or {})


@pytest.fixture
def delayed_sum():
    """A test stage built from dask.delayed (not arrays): sums each row chunk's labels (registered
    for this test only)."""

    @dataclass(eq=False)
    class DelayedSum(dc.Stage):
        data: dc.Stage = edge(dc.StageKind.SOURCE)
        kind: ClassVar[dc.StageKind] = dc.StageKind.PREPROCESS
        type_name: ClassVar[str] = "delayed_sum_for_test"

        def run(self, ctx: StageContext, data):
            parts = [dask.delayed(np.sum)(block) for block in data.y.to_delayed()]
            (total,) = ctx.persist(dask.delayed(sum)(parts))
            return total

    try:
        yield DelayedSum
    finally:
        STAGE_TYPES.pop("delayed_sum_for_test", None)


@pytest.fixture
def recorder(cluster):
    plugin = AnnotationRecorder()
    cluster.scheduler.add_plugin(plugin)
    yield plugin
    cluster.scheduler.remove_plugin(name=plugin.name)


@pytest.mark.parametrize("config", [{}, {"optimization.fuse.active": True}], ids=["default", "fuse-on"])
def test_every_task_of_array_delayed_and_model_stages_carries_its_annotations(client, recorder, clf_store, config,
                                                                            delayed_sum):
    src = dc.ZarrSource(clf_store, name="src", resources={"GPU": 1}, cost=3.0)
    scaled = dc.Standardize(src, name="scaled", priority=5)
    dsum = delayed_sum(src, name="dsum", retries=2)
    xgb = dc.XGBoostModel(scaled, name="xgb", rounds=5, pool=None, cost=10.0, retries=1)
    wf = dc.Workflow("annot", [dsum, xgb])
    with dask.config.set(config):
        result = dc.run(wf, client, progress=False)

    by_stage = defaultdict(list)
    for key, ann in recorder.tasks.items():
        assert "collab" in ann, f"task {key} reached the scheduler without the collab annotation"
        by_stage[ann["collab"]["stage"]].append((key, ann))
    assert set(by_stage) == {"src", "scaled", "dsum", "xgb"}

    for stage in (src, scaled, dsum, xgb):
        expected = stage_annotations("annot", stage, run=result.run_id)
        for key, ann in by_stage[stage.name]:
            for name, value in expected.items():
                if name == "retries" and str(key).startswith("xgboost-rank-"):
                    # a training rank is never retried alone (its peers would wait on it for ever):
                    # the stage retries the whole collective (daskcollab/_recovery.py)
                    assert ann.get(name) == 0, (stage.name, key)
                    continue
                assert ann.get(name) == value, (stage.name, key, name)
    # the source reads Zarr chunks (array tasks), dsum is delayed, xgb includes xgboost's own training tasks
    assert any("from-zarr" in k or "getitem" in k or "astype" in k for k, _ in by_stage["src"])
    assert any(k.startswith("('sum") or "sum-" in k for k, _ in by_stage["dsum"])
    # xgboost.dask submits its training tasks itself, pinned one per worker: they carry the stage too
    pinned = [k for k, ann in by_stage["xgb"] if ann.get("workers")]
    assert len(pinned) >= 1, sorted({k.split("-")[0] for k, _ in by_stage["xgb"]})
    assert by_stage["src"][0][1]["resources"] == {"GPU": 1}
    assert by_stage["src"][0][1]["collab"] == {
        "workflow": "annot", "run": result.run_id, "stage": "src", "kind": "source", "cost": 3.0, "pool": None,
    }
    assert by_stage["scaled"][0][1]["priority"] == 5
    assert by_stage["dsum"][0][1]["retries"] == 2


def test_scheduler_task_state_holds_the_annotations(client, cluster, clf_store):
    src = dc.ZarrSource(clf_store, name="src", pool=None, resources={"GPU": 1})
    wf = dc.Workflow("held", [src])
    [step] = wf.compile().steps
    with dask.annotate(**step.annotations("run-1")), client.as_current():
        data = src.run(StageContext(client, "held", "src", False))
    held = [cluster.scheduler.tasks[f.key] for f in futures_of(data.X)]
    assert held and all(ts.annotations["collab"]["stage"] == "src" for ts in held)
    assert all(ts.annotations["collab"]["run"] == "run-1" for ts in held)
    assert all(ts.resource_restrictions == {"GPU": 1} for ts in held)
