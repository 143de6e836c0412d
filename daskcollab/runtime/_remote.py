"""The runner's calls to the scheduler: register a run, report stage states, end the run.

Each function runs *on the scheduler* (``client.run_on_scheduler``) and hands the call to the
daskcollab plugins installed there: the placement plugin (plans, places, accounts money) and the
dashboard's stage monitor (stage states for the page). Either may be absent; the functions then
do what the present one does. They need daskcollab importable on the scheduler; the runner
works without (no plan, no page) and says so. (``run_on_scheduler`` passes the scheduler as the
keyword ``dask_scheduler``, after the positional arguments.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daskcollab._contract import MONITOR_PLUGIN, PLACEMENT_PLUGIN
from daskcollab._logging import quiet_run_calls

# Unpickling the first call on the scheduler imports this module before Dask logs the call: from
# then on Dask's "Run out-of-band function" INFO line for these calls stays out of its log.
quiet_run_calls()

#: Scheduler plugins that take part in runs, by name (placement plugin, stage monitor).
_PLACEMENT = PLACEMENT_PLUGIN
_MONITOR = MONITOR_PLUGIN


def _plugins(dask_scheduler: Any) -> list[Any]:
    return [p for name in (_PLACEMENT, _MONITOR) if (p := dask_scheduler.plugins.get(name)) is not None]


def scheduler_view(dask_scheduler: Any = None) -> dict[str, Any]:
    """What the runner's pre-flight check needs: is placement installed, live and declared pools,
    and each worker's resources."""
    placement = dask_scheduler.plugins.get(_PLACEMENT)
    workers = {addr: dict(ws.resources or {}) for addr, ws in dask_scheduler.workers.items()}
    if placement is None:
        return {"placement": False, "workers": workers, "live": [], "declared": [], "unpooled": []}
    view = placement.cluster_view()
    as_dicts = lambda pools: [{"name": p.name, "price_per_hour": p.price_per_hour, "speed": p.speed,  # noqa: E731
                               "workers": p.workers, "resources": dict(p.resources)} for p in pools]
    return {"placement": True, "workers": workers, "live": as_dicts(view.live.values()),
            "declared": as_dicts(p for n, p in view.declared.items() if n not in view.live),
            "unpooled": as_dicts(view.unpooled)}


def start_run(spec: Mapping[str, Any], dask_scheduler: Any = None) -> dict[str, Any]:
    """Register a run with every daskcollab plugin; the placement plugin's answer (plan or error)."""
    answer: dict[str, Any] = {"placement": False}
    for plugin in _plugins(dask_scheduler):
        if plugin.name == _PLACEMENT:
            answer = {"placement": True, **plugin.start_run(spec)}
            if "error" in answer:
                break
        else:  # the stage monitor keeps the plan the run started with (re-plans replace the ledger's)
            plugin.start_run(spec, plan=answer.get("plan"))
    return answer


def stage_event(run_id: str, stage: str, state: str, dask_scheduler: Any = None) -> None:
    for plugin in _plugins(dask_scheduler):
        plugin.stage_event(run_id, stage, state)


def finish_run(run_id: str, status: str, outcome: Mapping[str, Any] | None = None,
               dask_scheduler: Any = None) -> dict[str, Any] | None:
    """End a run everywhere; the placement plugin's ledger of the run (None without placement).

    ``outcome`` (``{"metrics", "weights", "blends"}`` of the run's result) goes to the stage
    monitor, which shows it on the dashboard page.
    """
    out = None
    for plugin in _plugins(dask_scheduler):
        if plugin.name == _PLACEMENT:
            out = plugin.finish_run(run_id, status)
        else:
            plugin.finish_run(run_id, status, outcome)
    return out


def cancel_run(run_id: str, reason: str, dask_scheduler: Any = None) -> None:
    """A run failed on the client: err its waiting and new tasks so its other stages stop."""
    placement = dask_scheduler.plugins.get(_PLACEMENT)
    if placement is not None:
        placement.cancel_run(run_id, reason)
