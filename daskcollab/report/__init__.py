"""Run reports: one self-contained HTML file per run (``daskcollab report RUN.json -o report.html``).

Examples
--------
>>> from daskcollab.report import write_report
>>> write_report(result, "report.html")  # doctest: +SKIP
'report.html'
"""

from daskcollab.report._html import load_result, render_report, write_report

__all__ = ["load_result", "render_report", "write_report"]
