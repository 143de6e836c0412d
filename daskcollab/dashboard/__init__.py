"""The daskcollab page of the Dask dashboard ("Daskcollab Runs" in its "More" menu) and the
``dask_collab_*`` Prometheus metrics on the scheduler's ``/metrics``.

``daskcollab.run`` installs both on the scheduler it uses (the page at
``/individual-daskcollab-runs``; ``/daskcollab`` redirects there); ``dask scheduler --preload
daskcollab.dashboard`` installs them on a standalone scheduler (the placement preload does too).
The page, the metrics and the report draw one pure view of a run (:mod:`daskcollab.view`; its
names are re-exported here). Names load on first use (see :mod:`daskcollab._lazy`).
"""

from typing import Any

from daskcollab._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "PAGE_ROUTE": "_bokeh",
    "ROUTE": "_install", "dashboard_url": "_install", "install_dashboard": "_install", "run_views": "_install",
    "snapshot": "_install",
    "register_metrics": "_metrics",
    "StageMonitor": "_monitor",
    "BudgetState": "daskcollab.view", "DeadlineState": "daskcollab.view", "run_from_result": "daskcollab.view",
    "run_view": "daskcollab.view",
})


def dask_setup(scheduler: Any) -> None:
    """Scheduler preload entry point (``dask scheduler --preload daskcollab.dashboard``)."""
    from daskcollab.dashboard._install import install_dashboard

    install_dashboard(scheduler)
