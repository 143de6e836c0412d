"""Run reports: one self-contained HTML file per run (``daskcollab report RUN.json -o report.html``).

Names load on first use (see :mod:`daskcollab._lazy`).

Examples
--------
>>> from daskcollab.report import write_report
>>> write_report(result, "report.html")  # doctest: +SKIP
'report.html'
"""

from daskcollab._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "load_result": "_html", "render_report": "_html", "write_report": "_html",
})
