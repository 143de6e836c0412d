"""Put daskcollab's page, JSON and Prometheus metrics on a scheduler's own HTTP server.

Dask builds its dashboard's Bokeh applications (``distributed.dashboard.scheduler.applications``)
when the scheduler starts, so an entry added there later is never served. ``daskcollab.run``
meets schedulers that are already running (a ``LocalCluster``, a remote ``dask scheduler``), and
a preload's ``dask_setup`` also runs after the dashboard exists; :func:`install_dashboard`
therefore serves the page the same way in both cases: a Bokeh application of its own, built by
Dask's ``BokehApplication`` with the dashboard's template variables, added to the scheduler's
``http_application``, and an entry in the dashboard's "More" menu.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tornado import web

from daskcollab.dashboard._bokeh import PAGE_ROUTE
from daskcollab.dashboard._monitor import MONITOR_NAME, StageMonitor

logger = logging.getLogger("daskcollab.dashboard")

ROUTE = "/daskcollab"
MENU_ENTRY = {"url": PAGE_ROUTE.strip("/"), "name": "Daskcollab Runs"}


def _placement(scheduler: Any) -> Any:
    from daskcollab.placement import PLUGIN_NAME

    return scheduler.plugins.get(PLUGIN_NAME)


def snapshot(scheduler: Any) -> dict[str, Any]:
    """Stages (from the stage monitor) and placement ledger (if the placement plugin runs)."""
    monitor = scheduler.plugins.get(MONITOR_NAME)
    placement = _placement(scheduler)
    return {
        "stages": monitor.snapshot() if monitor is not None else [],
        "placement": placement.snapshot() if placement is not None else None,
    }


def run_data(scheduler: Any, run_id: str | None) -> tuple[list[str], dict[str, Any] | None, dict[str, Any]]:
    """Run ids (newest first), and for ``run_id`` (default: the newest) the stage monitor's run
    and the placement plugin's ledger of it (``{}`` without the plugin)."""
    monitor = scheduler.plugins.get(MONITOR_NAME)
    runs = monitor.run_ids() if monitor is not None else []
    run_id = run_id or (runs[0] if runs else None)
    if run_id is None:
        return runs, None, {}
    placement = _placement(scheduler)
    ledger = placement.snapshot(run=run_id) if placement is not None else {}
    return runs, monitor.run_snapshot(run_id) if monitor is not None else None, ledger


def run_views(scheduler: Any) -> dict[str, dict[str, Any]]:
    """Every run the stage monitor knows, as :func:`~daskcollab.dashboard._view.run_view` shows it."""
    from daskcollab.view import run_view

    monitor = scheduler.plugins.get(MONITOR_NAME)
    out = {}
    for run_id in monitor.run_ids() if monitor is not None else []:
        _, run, ledger = run_data(scheduler, run_id)
        out[run_id] = run_view(run, ledger)
    return out


class _Redirect(web.RequestHandler):
    def get(self) -> None:
        self.redirect(self.application_prefix + PAGE_ROUTE.lstrip("/"))

    def initialize(self, prefix: str) -> None:
        self.application_prefix = prefix


class _Json(web.RequestHandler):
    """``/daskcollab/json``: the raw snapshot and every run's view."""

    def initialize(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({**snapshot(self.scheduler), "runs": run_views(self.scheduler)}, default=str))


def _bokeh_apps(scheduler: Any) -> list[Any]:
    app = getattr(scheduler, "http_application", None)
    return [a for a in getattr(app, "applications", []) if hasattr(a, "app_paths")]


def _serve_page(scheduler: Any) -> bool:
    """Serve the Bokeh page on a scheduler whose dashboard runs; False when it has none."""
    try:
        from distributed.dashboard.core import BokehApplication
        from distributed.dashboard.scheduler import template_variables
        from tornado.ioloop import IOLoop
    except ImportError:  # bokeh missing or too old: Dask runs without a dashboard
        return False
    apps = _bokeh_apps(scheduler)
    if not apps:
        return False
    prefix = apps[0].prefix or ""
    if any(prefix.rstrip("/") + PAGE_ROUTE in a.app_paths for a in apps):
        return True  # registered before the scheduler started, or installed already
    from daskcollab.dashboard._bokeh import runs_doc

    variables = template_variables(scheduler)
    page = BokehApplication({PAGE_ROUTE: runs_doc}, scheduler, prefix=prefix, template_variables=variables)
    scheduler.http_application.add_application(page)
    page.initialize(IOLoop.current())
    page.start()
    # Dask's pages share this memoized list: the link appears in every page's "More" menu
    plots = variables.get("plots")
    if isinstance(plots, list) and MENU_ENTRY not in plots:
        plots.append(dict(MENU_ENTRY))
        plots.sort(key=lambda d: d["name"])
    return True


def install_dashboard(scheduler: Any) -> str:
    """Add the stage monitor, the "Daskcollab Runs" Bokeh page (``/individual-daskcollab-runs``,
    linked from the dashboard's "More" menu; ``/daskcollab`` redirects to it), ``/daskcollab/json``
    and the ``dask_collab_*`` Prometheus metrics to a running scheduler; idempotent. Returns the
    page's route.

    Use from a scheduler preload, in-process (``cluster.scheduler``, on its event loop), or
    remotely with ``client.run_on_scheduler(lambda dask_scheduler: install_dashboard(dask_scheduler))``.
    """
    from daskcollab.dashboard._metrics import register_metrics

    if MONITOR_NAME not in scheduler.plugins:
        scheduler.add_plugin(StageMonitor(scheduler))
    register_metrics(scheduler)
    app = getattr(scheduler, "http_application", None)
    if app is None or getattr(scheduler, "_daskcollab_page", False):
        return PAGE_ROUTE
    served = _serve_page(scheduler)
    prefix = (_bokeh_apps(scheduler)[0].prefix if served else "/") or "/"
    app.add_handlers(r".*", [(ROUTE + "/?", _Redirect, {"prefix": prefix if prefix.endswith("/") else prefix + "/"}),
                             (ROUTE + "/json", _Json, {"scheduler": scheduler})])
    scheduler._daskcollab_page = True
    return PAGE_ROUTE


def dashboard_url(client: Any) -> str | None:
    """The page's address for this client's scheduler, when it has a dashboard."""
    link = client.dashboard_link
    if not link:
        return None
    return link.rsplit("/", 1)[0] + PAGE_ROUTE
