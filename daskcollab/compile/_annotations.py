"""The annotations every task of a stage carries (pure).

Standard Dask keys: ``resources`` (the stage's own abstract resources, e.g. ``{"GPU": 1}``),
``priority`` and ``retries``. One namespaced custom key, ``collab``, carries what the placement
plugin and the dashboard need: workflow, run, stage, kind, cost and pool. The pool travels once,
as ``collab.pool``: the placement plugin turns it (or its own choice) into a pool-label resource
restriction. The run's budget and deadline reach the scheduler once, with the run's stage graph.
"""

from __future__ import annotations

from typing import Any

from daskcollab._contract import ANNOTATION_KEY
from daskcollab.workflow import Stage


def stage_annotations(workflow: str, stage: Stage, *, run: str | None = None) -> dict[str, Any]:
    """The ``dask.annotate`` keyword arguments for every task of ``stage``.

    Examples
    --------
    >>> from daskcollab import ZarrSource
    >>> ann = stage_annotations("wf", ZarrSource("x.zarr", pool="cpu-spot", retries=2, resources={"GPU": 1}))
    >>> ann["resources"], ann["retries"], ann["collab"]["stage"], ann["collab"]["pool"]
    ({'GPU': 1}, 2, 'zarr_source', 'cpu-spot')
    """
    resources = dict(stage.resources or {})
    collab = {
        "workflow": workflow,
        "run": run,
        "stage": stage.name,
        "kind": stage.kind.value,
        "cost": None if stage.cost is None else float(stage.cost),
        "pool": stage.pool,
    }
    annotations: dict[str, Any] = {ANNOTATION_KEY: collab}
    if resources:
        annotations["resources"] = resources
    if stage.priority is not None:
        annotations["priority"] = stage.priority
    if stage.retries is not None:
        annotations["retries"] = stage.retries
    return annotations
