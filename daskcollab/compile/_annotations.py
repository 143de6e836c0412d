"""The annotations every task of a stage carries (pure).

Standard Dask keys: ``resources`` (plus the pool label ``pool-<name>`` when a stage names a
pool), ``priority`` and ``retries``. One namespaced custom key, ``collab``, carries what the
placement plugin and the dashboard need: workflow, stage, kind, cost, pool, budget, deadline.
"""

from __future__ import annotations

from typing import Any

from daskcollab._contract import ANNOTATION_KEY, pool_resource
from daskcollab.workflow._stage import Stage

def stage_annotations(
    workflow: str, stage: Stage, *, budget: float | None = None, deadline: float | None = None
) -> dict[str, Any]:
    """The ``dask.annotate`` keyword arguments for every task of ``stage``.

    Examples
    --------
    >>> from daskcollab import ZarrSource
    >>> ann = stage_annotations("wf", ZarrSource("x.zarr", pool="cpu-spot", retries=2))
    >>> ann["resources"], ann["retries"], ann["collab"]["stage"], ann["collab"]["kind"]
    ({'pool-cpu-spot': 1}, 2, 'zarr_source', 'source')
    """
    resources = dict(stage.resources or {})
    if stage.pool is not None:
        resources[pool_resource(stage.pool)] = 1
    collab = {
        "workflow": workflow,
        "stage": stage.name,
        "kind": stage.kind.value,
        "cost": None if stage.cost is None else float(stage.cost),
        "pool": stage.pool,
        "budget": budget,
        "deadline": deadline,
    }
    annotations: dict[str, Any] = {ANNOTATION_KEY: collab}
    if resources:
        annotations["resources"] = resources
    if stage.priority is not None:
        annotations["priority"] = stage.priority
    if stage.retries is not None:
        annotations["retries"] = stage.retries
    return annotations
