"""The daskcollab page in the Dask dashboard: stages, placements and money spent.

``daskcollab.run`` installs it on the scheduler it uses (``/daskcollab`` beside Dask's own
``/status``); ``dask scheduler --preload daskcollab.dashboard`` installs it on a standalone
scheduler (the placement preload does too).
"""

from typing import Any

from daskcollab.dashboard._install import ROUTE, dashboard_url, install_dashboard, snapshot
from daskcollab.dashboard._monitor import StageMonitor
from daskcollab.dashboard._page import render_page

__all__ = ["ROUTE", "StageMonitor", "dashboard_url", "install_dashboard", "render_page", "snapshot"]


def dask_setup(scheduler: Any) -> None:
    """Scheduler preload entry point."""
    install_dashboard(scheduler)
