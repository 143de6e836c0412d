"""Serve the daskcollab page from the scheduler's own HTTP server (next to the Dask dashboard)."""

from __future__ import annotations

import json
from typing import Any

from tornado import web

from daskcollab.dashboard._monitor import MONITOR_NAME, StageMonitor
from daskcollab.dashboard._page import render_page

ROUTE = "/daskcollab"


def snapshot(scheduler: Any) -> dict[str, Any]:
    """Stages (from the stage monitor) and placement ledger (if the placement plugin runs)."""
    from daskcollab.placement import PLUGIN_NAME

    monitor = scheduler.plugins.get(MONITOR_NAME)
    placement = scheduler.plugins.get(PLUGIN_NAME)
    return {
        "stages": monitor.snapshot() if monitor is not None else [],
        "placement": placement.snapshot() if placement is not None else None,
    }


class _Page(web.RequestHandler):
    def initialize(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def get(self) -> None:
        data = snapshot(self.scheduler)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(render_page(data["stages"], data["placement"]))


class _Json(_Page):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(snapshot(self.scheduler), default=str))


def install_dashboard(scheduler: Any) -> str:
    """Add the stage monitor and the ``/daskcollab`` page (and ``/daskcollab/json``) to a running
    scheduler; idempotent. Returns the route.

    Use from a scheduler preload, in-process (``cluster.scheduler``), or remotely with
    ``client.run_on_scheduler(lambda dask_scheduler: install_dashboard(dask_scheduler))``.
    """
    if MONITOR_NAME not in scheduler.plugins:
        scheduler.add_plugin(StageMonitor(scheduler))
    app = getattr(scheduler, "http_application", None)
    if app is not None and not getattr(scheduler, "_daskcollab_page", False):
        app.add_handlers(r".*", [(ROUTE, _Page, {"scheduler": scheduler}),
                                 (ROUTE + "/json", _Json, {"scheduler": scheduler})])
        scheduler._daskcollab_page = True
    return ROUTE


def dashboard_url(client: Any) -> str | None:
    """The page's address for this client's scheduler, when it has a dashboard."""
    link = client.dashboard_link
    if not link:
        return None
    return link.rsplit("/", 1)[0] + ROUTE
