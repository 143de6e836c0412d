"""One run as every view shows it (pure): the dashboard page, the Prometheus metrics and the HTML
report all read a run through :func:`run_view`, so they cannot disagree.

This package sits below :mod:`daskcollab.dashboard` and :mod:`daskcollab.report` and imports
neither. Names load on first use (see :mod:`daskcollab._lazy`).
"""

from daskcollab._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "FINISHED": "_run", "PALETTE": "_run", "STAGE_STATES": "_run", "STATE_COLOURS": "_run",
    "BudgetState": "_run", "DeadlineState": "_run",
    "fmt_money": "_run", "fmt_seconds": "_run", "gains_of": "_run", "run_from_result": "_run", "run_view": "_run",
    "stage_colours": "_run",
    "badge": "_html", "escape": "_html", "number": "_html", "outcome_tables": "_html", "table": "_html",
})
