"""Err scheduler tasks from a plugin without corrupting scheduler state (thin Dask glue).

``update_graph`` runs before the scheduler transitions the new tasks, so a task erred inside it
would be undone: :func:`fail_soon` holds each task with a resource no worker has (so it waits in
``no-worker``, never on a worker) and errs it on the next turn of the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping
from typing import Any

from distributed.protocol import pickle

#: Resource no worker has; holds a task about to be erred in ``no-worker`` for one loop turn.
HOLD_RESOURCE = "daskcollab-hold"
#: States from which the plugin may err a task (it never touches running or finished ones).
ERRABLE = ("released", "waiting", "no-worker", "queued")


def fail_soon(scheduler: Any, failures: Mapping[Hashable, Exception], stimulus_id: str, failing: set) -> None:
    """Err ``failures`` right after the current scheduler step; ``failing`` tracks them meanwhile."""
    failing.update(failures)
    for key in failures:
        ts = scheduler.tasks.get(key)
        if ts is not None and ts.state == "released":
            ts.resource_restrictions = {**(ts.resource_restrictions or {}), HOLD_RESOURCE: 1}
    asyncio.get_running_loop().call_soon(fail_now, scheduler, dict(failures), f"{stimulus_id}-daskcollab-fail", failing)


def fail_now(scheduler: Any, failures: Mapping[Hashable, Exception], stimulus_id: str, failing: set | None = None) -> None:
    """Err each task of ``failures`` that is still waiting (released, waiting, no-worker, queued)."""
    recommendations: dict[Hashable, str] = {}
    for key, exc in failures.items():
        if failing is not None:
            failing.discard(key)
        ts = scheduler.tasks.get(key)
        if ts is None or ts.state not in ERRABLE:
            continue
        blob = pickle.dumps(exc)
        text = str(exc)
        if ts.state in ("no-worker", "queued"):
            recommendations.update(
                scheduler.transition(key, "erred", stimulus_id, exception=blob, cause=key, exception_text=text)
            )
            continue
        ts.exception, ts.exception_text, ts.traceback, ts.exception_blame = blob, text, None, ts
        if ts.state == "waiting":
            recommendations.update(scheduler.transition(key, "released", stimulus_id))
            recommendations.pop(key, None)
        recommendations.update(scheduler.transition(key, "erred", stimulus_id))
    if recommendations:
        scheduler.transitions(recommendations, stimulus_id)
