"""Client-side helpers that ask the scheduler's placement plugin (thin Dask glue)."""

from __future__ import annotations

from typing import Any

from daskcollab._contract import PLACEMENT_PLUGIN, SCHEDULER_PRELOAD
from daskcollab._errors import DaskCollabError, stage_message


def _scheduler_snapshot(dask_scheduler: Any, run: str | None = None) -> dict[str, Any]:
    plugin = dask_scheduler.plugins.get(PLACEMENT_PLUGIN)
    if plugin is None:
        raise DaskCollabError(stage_message(
            "placement", None,
            f"expected the {PLACEMENT_PLUGIN!r} scheduler plugin, got plugins {sorted(dask_scheduler.plugins)!r}",
            f"start the scheduler with --preload {SCHEDULER_PRELOAD} or call client.register_plugin(PlacementPlugin())",
        ))
    return plugin.snapshot(run)


def placement_report(client: Any, run: str | None = None) -> dict[str, Any]:
    """Decisions, money per pool/stage/run and plugin overhead, fetched from the scheduler
    (``run``: one run's ledger, as ``RunResult.placements`` holds it).

    Examples
    --------
    >>> placement_report(client)["cost_by_pool"]  # doctest: +SKIP
    {'cpu-spot': 0.0012, 'cpu-ondemand': 0.0031}
    """
    return client.run_on_scheduler(_scheduler_snapshot, run=run)


def _save(dask_scheduler: Any) -> str | None:
    plugin = dask_scheduler.plugins.get(PLACEMENT_PLUGIN)
    path = plugin.save_cost_model() if plugin is not None else None
    return None if path is None else str(path)


def save_cost_model(client: Any) -> str | None:
    """Persist the scheduler's learned cost model now; returns the path (None if nothing new)."""
    return client.run_on_scheduler(_save)
