"""The "Daskcollab Runs" page of the Dask dashboard: a Bokeh document, built like Dask's own pages.

One run at a time (a selector lists every run the scheduler knows, newest first): a Gantt of
the run's tasks by pool and worker coloured by stage, every stage's state, percent complete by
stages and by planned work, money (busy and held) against the budget, elapsed time against the
deadline, the plan beside the actual, and the metrics, blend weights and gains once the run ends.
Everything shown comes from :func:`~daskcollab.dashboard._view.run_view` over the stage monitor
and the placement plugin's public ``snapshot(run=...)``.
"""

from __future__ import annotations

import html
from typing import Any

from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    DataTable,
    Div,
    FactorRange,
    HoverTool,
    HTMLTemplateFormatter,
    NumberFormatter,
    NumeralTickFormatter,
    Select,
    TableColumn,
)
from bokeh.plotting import figure
from distributed.dashboard.components import add_periodic_callback
from distributed.dashboard.components.shared import DashboardComponent
from distributed.dashboard.utils import update
from distributed.utils import log_errors

from daskcollab._types import RunStatus
from daskcollab.view import (
    STATE_COLOURS,
    BudgetState,
    DeadlineState,
    fmt_money,
    fmt_seconds,
    run_view,
    stage_colours,
)

PAGE_ROUTE = "/individual-daskcollab-runs"
#: The most task intervals drawn in the Gantt (the newest are kept).
MAX_GANTT = 20_000

_STATE_CELL = ("<span style=\"font-weight:bold;color:<%= {" + ", ".join(f"'{k}': '{v}'" for k, v in STATE_COLOURS.items())
               + "}[value] || '#333' %>\"><%= value %></span>")
_GANTT_COLUMNS = ("left", "right", "y", "stage", "pool", "worker", "duration", "color")


def _badge(text: str, bad: bool, name: str) -> str:
    colour = "#d62728" if bad else ("#2ca02c" if not text.startswith("no ") else "#777")
    return (f"<span class='daskcollab-{name}' style='background:{colour};color:white;border-radius:3px;"
            f"padding:1px 6px;font-weight:bold'>{html.escape(text.upper())}</span>")


class RunsPage(DashboardComponent):
    """The page's models and their periodic update (every ``update`` re-reads the scheduler)."""

    def __init__(self, scheduler: Any, width: int = 1200) -> None:
        self.scheduler = scheduler
        self.run_id: str | None = None
        self.select = Select(title="Run", options=[], name="daskcollab-run", width=420)
        self.select.on_change("value", self._on_select)
        self.header = Div(name="daskcollab-header", width=width)
        self.progress = Div(name="daskcollab-progress", width=width // 2)
        self.money = Div(name="daskcollab-money", width=width // 2)
        self.clock = Div(name="daskcollab-time", width=width // 2)
        self.plan = Div(name="daskcollab-plan", width=width // 2)
        self.outcome = Div(name="daskcollab-outcome", width=width)

        self.gantt_source = ColumnDataSource({k: [] for k in _GANTT_COLUMNS}, name="daskcollab-gantt-source")
        self.gantt = figure(name="daskcollab-gantt", title="Tasks by pool and worker, coloured by stage",
                            y_range=FactorRange(), height=320, width=width, x_axis_label="seconds since the run started",
                            tools="xpan,xwheel_zoom,box_zoom,reset", toolbar_location="above")
        self.gantt.hbar(y="y", left="left", right="right", height=0.8, color="color", line_color="color",
                        legend_field="stage", source=self.gantt_source)
        self.gantt.add_tools(HoverTool(tooltips=[("stage", "@stage"), ("pool", "@pool"), ("worker", "@worker"),
                                                 ("duration", "@duration{0.000} s")]))
        self.gantt.legend.location = "top_left"
        self.gantt.legend.orientation = "horizontal"

        self.money_source = ColumnDataSource({"what": [], "dollars": [], "color": []}, name="daskcollab-money-source")
        self.money_plot = figure(name="daskcollab-money-plot", title="Money against the budget ($)",
                                 y_range=FactorRange(factors=["budget", "held", "busy"]), height=160,
                                 width=width // 2, tools="", toolbar_location=None)
        self.money_plot.hbar(y="what", right="dollars", height=0.7, color="color", source=self.money_source)
        self.money_plot.xaxis.formatter = NumeralTickFormatter(format="$0.0000")

        stage_columns = [TableColumn(field="stage", title="stage"), TableColumn(field="kind", title="kind"),
                         TableColumn(field="state", title="state", formatter=HTMLTemplateFormatter(template=_STATE_CELL)), TableColumn(field="pools", title="ran on"),
                         TableColumn(field="planned_pool", title="planned pool"),
                         TableColumn(field="tasks_done", title="tasks done"),
                         TableColumn(field="seconds", title="wall s", formatter=NumberFormatter(format="0.0")),
                         TableColumn(field="busy_seconds", title="busy s", formatter=NumberFormatter(format="0.0")),
                         TableColumn(field="cost_busy", title="$ busy", formatter=NumberFormatter(format="0.0000")),
                         TableColumn(field="cost_held", title="$ held", formatter=NumberFormatter(format="0.0000"))]
        self.stage_source = ColumnDataSource({c.field: [] for c in stage_columns}, name="daskcollab-stages-source")
        self.stages = DataTable(source=self.stage_source, columns=stage_columns, name="daskcollab-stages",
                                width=width, height=230, index_position=None)
        self.root = column(
            row(self.select, self.header),
            row(column(self.progress, self.clock, self.plan), column(self.money, self.money_plot)),
            self.gantt, self.stages, self.outcome,
            name="daskcollab-root",
        )

    def _on_select(self, attr: str, old: Any, new: Any) -> None:
        self.run_id = new or None
        self.update()

    def data(self) -> tuple[list[str], dict[str, Any] | None]:
        """The scheduler's runs (newest first) and the selected run's view."""
        from daskcollab.dashboard._install import run_data

        runs, monitor, ledger = run_data(self.scheduler, self.run_id)
        if self.run_id is None and runs:
            self.run_id = runs[0]
        if monitor is None and not ledger:
            return runs, None
        return runs, run_view(monitor, ledger)

    @log_errors
    def update(self) -> None:
        runs, view = self.data()
        if self.select.options != runs:
            self.select.options = runs
        if self.run_id is not None and self.select.value != self.run_id:
            self.select.value = self.run_id
        if view is None:
            self.header.text = ("<h2>No daskcollab run on this scheduler yet</h2><p>Runs of <code>daskcollab.run"
                                "</code> appear here as they start.</p>")
            return
        self._header(view)
        self._progress(view)
        self._money(view)
        self._clock(view)
        self._plan(view)
        self._gantt(view)
        self._stages(view)
        self._outcome(view)

    # -- panels ------------------------------------------------------------------------------
    def _header(self, v: dict[str, Any]) -> None:
        status = v["status"]
        self.header.text = (f"<h2 style='margin:4px 0'>{html.escape(str(v['workflow']))} "
                            f"<small>run {html.escape(str(v['run_id']))}</small> "
                            + _badge(status, status in (RunStatus.FAILED, RunStatus.OVER_BUDGET, RunStatus.CANCELLED), "status") + "</h2>"
                            + "".join(f"<div style='color:#d62728'>{html.escape(a)}</div>" for a in v["alerts"]))

    def _progress(self, v: dict[str, Any]) -> None:
        p = v["progress"]
        by_work = "-" if p["by_work"] is None else f"{100 * p['by_work']:.0f} %"
        counts = {s: sum(st["state"] == s for st in v["stages"]) for s in STATE_COLOURS}
        chips = " ".join(f"<span style='color:{STATE_COLOURS[s]}'>&#9632;</span> {s} {n}"
                         for s, n in counts.items() if n)
        self.progress.text = (
            f"<b>Complete</b>: <span class='daskcollab-by-stages'>{p['stages_done']}/{p['stages_total']} stages "
            f"({100 * p['by_stages']:.0f} %)</span>, <span class='daskcollab-by-work'>{by_work}</span> of the "
            f"planned work<br>{chips}")

    def _money(self, v: dict[str, Any]) -> None:
        m = v["money"]
        if not v["placement"]:
            self.money.text = ("<b>Money</b>: the placement plugin is not installed on this scheduler "
                               "(<code>dask scheduler --preload daskcollab.deploy.scheduler</code>)")
            update(self.money_source, {"what": [], "dollars": [], "color": []})
            return
        over = m["state"] == BudgetState.OVER.value
        budget = "" if m["budget"] is None else (
            f" of a <span class='daskcollab-budget'>{fmt_money(m['budget'])}</span> budget, "
            f"remaining <span class='daskcollab-remaining'>{fmt_money(m['remaining'])}</span>")
        pools = "".join(f"<tr><td>{html.escape(p)}</td><td>{fmt_money(x['busy'])}</td><td>{fmt_money(x['held'])}</td>"
                        f"<td>{fmt_money(x['startup'])}</td></tr>"
                        for p, x in m["by_pool"].items())
        self.money.text = (
            f"<b>Money</b> {_badge(m['state'], over, 'budget-state')}<br>spent "
            f"<span class='daskcollab-busy'>{fmt_money(m['busy'])}</span> busy, "
            f"<span class='daskcollab-held'>{fmt_money(m['held'])}</span> held{budget}"
            + ("" if not m.get("held_spot") else f"<br>held on spot <span class='daskcollab-spot'>"
               f"{fmt_money(m['held_spot'])}</span>, on-demand <span class='daskcollab-on-demand'>"
               f"{fmt_money(m['held_on_demand'])}</span>")
            + f"<table class='daskcollab-pools' style='margin-top:4px'><tr><th>pool</th><th>busy</th><th>held</th>"
            f"<th>of which start-up</th></tr>"
            f"{pools}</table>")
        bars = [("busy", m["busy"] or 0.0, "#1f77b4"), ("held", m["held"] or 0.0, "#d62728" if over else "#ff7f0e")]
        if m["budget"] is not None:
            bars.insert(0, ("budget", m["budget"], "#7f7f7f"))
        update(self.money_source, {"what": [b[0] for b in bars], "dollars": [b[1] for b in bars],
                                   "color": [b[2] for b in bars]})

    def _clock(self, v: dict[str, Any]) -> None:
        t = v["time"]
        over = t["state"] == DeadlineState.OVER.value
        deadline = "" if t["deadline"] is None else (
            f" of a <span class='daskcollab-deadline'>{fmt_seconds(t['deadline'])}</span> deadline")
        self.clock.text = (f"<b>Time</b> {_badge(t['state'], over, 'deadline-state')}<br>elapsed "
                           f"<span class='daskcollab-elapsed'>{fmt_seconds(t['elapsed'])}</span>{deadline}")

    def _plan(self, v: dict[str, Any]) -> None:
        p = v["plan"]
        if p is None:
            self.plan.text = "<b>Plan</b>: none (the placement plugin plans runs)"
            return
        rows = "".join(
            f"<tr><td>{label}</td><td>{fmt(p[key]['planned'])}</td><td>{fmt(p[key]['actual'])}</td></tr>"
            for label, key, fmt in (("makespan", "makespan", fmt_seconds), ("cost (busy)", "cost_busy", fmt_money),
                                    ("cost (held)", "cost_held", fmt_money)))
        self.plan.text = (f"<b>Plan</b> ({html.escape(str(p['mode']))}, {p['replans']} re-plans)"
                          f"<table class='daskcollab-plan-table'><tr><th></th><th>planned</th><th>actual</th></tr>"
                          f"{rows}</table>")

    def _gantt(self, v: dict[str, Any]) -> None:
        rows = v["gantt"][-MAX_GANTT:]
        colours = stage_colours([s["stage"] for s in v["stages"]])
        lanes = sorted({f"{r['pool']} {r['worker']}" for r in rows})
        if list(self.gantt.y_range.factors) != lanes:
            self.gantt.y_range.factors = lanes
        update(self.gantt_source, {
            "left": [r["start"] for r in rows], "right": [r["stop"] for r in rows],
            "y": [f"{r['pool']} {r['worker']}" for r in rows], "stage": [r["stage"] for r in rows],
            "pool": [r["pool"] for r in rows], "worker": [r["worker"] for r in rows],
            "duration": [r["stop"] - r["start"] for r in rows], "color": [colours[r["stage"]] for r in rows],
        })

    def _stages(self, v: dict[str, Any]) -> None:
        keys = [c.field for c in self.stages.columns]
        data = {k: [] for k in keys}
        for st in v["stages"]:
            for k in keys:
                value = st.get(k)
                data[k].append(", ".join(value) if k == "pools" else (float("nan") if value is None and k in (
                    "seconds", "busy_seconds", "cost_busy", "cost_held") else ("" if value is None else value)))
        update(self.stage_source, data)

    def _outcome(self, v: dict[str, Any]) -> None:
        from daskcollab.view import outcome_tables

        self.outcome.text = outcome_tables(v) or (
            "<i>Metrics and blend weights appear here when the run ends.</i>" if v["status"] == RunStatus.RUNNING else "")


@log_errors
def runs_doc(scheduler: Any, extra: dict[str, Any], doc: Any) -> None:
    """The Bokeh document of the page (``distributed.dashboard`` application signature)."""
    from distributed.dashboard.components.scheduler import BOKEH_THEME, env

    doc.title = "Dask: Daskcollab Runs"
    page = RunsPage(scheduler)
    page.update()
    add_periodic_callback(doc, page, 1000)
    doc.add_root(page.root)
    doc.template = env.get_template("simple.html")
    doc.template_variables.update(extra)
    doc.theme = BOKEH_THEME
