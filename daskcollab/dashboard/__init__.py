"""The daskcollab page of the Dask dashboard ("Daskcollab Runs" in its "More" menu) and the
``dask_collab_*`` Prometheus metrics on the scheduler's ``/metrics``.

``daskcollab.run`` installs both on the scheduler it uses (the page at
``/individual-daskcollab-runs``; ``/daskcollab`` redirects there); ``dask scheduler --preload
daskcollab.dashboard`` installs them on a standalone scheduler (the placement preload does too).
"""

from typing import Any

from daskcollab.dashboard._bokeh import PAGE_ROUTE
from daskcollab.dashboard._install import ROUTE, dashboard_url, install_dashboard, run_views, snapshot
from daskcollab.dashboard._metrics import register_metrics
from daskcollab.dashboard._monitor import StageMonitor
from daskcollab.dashboard._view import BudgetState, DeadlineState, run_from_result, run_view

__all__ = ["PAGE_ROUTE", "ROUTE", "BudgetState", "DeadlineState", "StageMonitor", "dashboard_url",
           "install_dashboard", "register_metrics", "run_from_result", "run_view", "run_views", "snapshot"]


def dask_setup(scheduler: Any) -> None:
    """Scheduler preload entry point."""
    install_dashboard(scheduler)
