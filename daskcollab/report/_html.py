"""A run's report as one self-contained HTML file (pure): inline CSS and static SVG, no script, no network."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from daskcollab._types import StageState
from daskcollab.report._svg import bar_svg, dag_svg, gantt_svg
from daskcollab.view import badge as _badge
from daskcollab.view import escape as _e
from daskcollab.view import fmt_money, outcome_tables, run_from_result, run_view
from daskcollab.view import number as _num
from daskcollab.view import table as _table

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em 2em;color:#222}
h1{margin-bottom:.1em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#eef}td:first-child,th:first-child{text-align:left}
.badge{color:white;border-radius:3px;padding:1px 6px;font-weight:bold;font-size:.85em}
.bad{background:#d62728}.good{background:#2ca02c}.none{background:#777}
.muted{color:#666}.alert{color:#d62728}
"""


def render_report(result: Any) -> str:
    """The HTML report of a run: a :class:`~daskcollab.RunResult` or its ``to_dict()`` / JSON file content.

    Shows the workflow DAG, the Gantt of tasks by pool and worker, cost per stage and pool (busy
    and held), plan vs actual, metrics per model and blend with each blend's gain over its best
    member, blend weights, and the stages' states (failed, reused). The numbers are those of
    :func:`daskcollab.dashboard._view.run_view`, as on the dashboard page.
    """
    data = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    view = run_view(run_from_result(data), data.get("placements") or {}, now=data.get("finished_at"))
    if data.get("makespan_s") is not None and not view["placement"]:
        view["elapsed"] = view["time"]["elapsed"] = data["makespan_s"]
    m, t, p = view["money"], view["time"], view["plan"]
    title = f"{view['workflow']} — run {view['run_id']}"
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{_e(view['workflow'])}</h1><p class='muted'>run {_e(view['run_id'])} · status "
             f"<b class='status'>{_e(view['status'])}</b> · {view['progress']['stages_done']}/"
             f"{view['progress']['stages_total']} stages done · elapsed <span class='elapsed'>"
             f"{_num(t['elapsed'], '.1f')} s</span></p>"]
    parts += [f"<p class='alert'>{_e(a)}</p>" for a in view["alerts"]]
    for w in data.get("warnings") or ():
        if w not in view["alerts"]:
            parts.append(f"<p class='alert'>warning: {_e(w)}</p>")

    parts.append("<h2>Workflow</h2>" + dag_svg(view["stages"]))

    parts.append("<h2>Money and time</h2>")
    if view["placement"]:
        budget = "" if m["budget"] is None else f" of a <span class='budget'>{fmt_money(m['budget'])}</span> budget " \
                                                f"(remaining <span class='remaining'>{fmt_money(m['remaining'])}</span>)"
        parts.append(f"<p>{_badge(m['state'], m['state'] == 'over budget')} spent <span class='busy'>"
                     f"{fmt_money(m['busy'])}</span> busy, <span class='held'>{fmt_money(m['held'])}</span> held{budget}"
                     + ("" if not m.get("held_spot") else f" (spot <span class='spot'>{fmt_money(m['held_spot'])}</span>, "
                        f"on-demand <span class='on-demand'>{fmt_money(m['held_on_demand'])}</span>)") + ". "
                     f"{_badge(t['state'], t['state'] == 'over deadline')} "
                     + ("" if t["deadline"] is None else f"deadline {t['deadline']:g} s")
                     + ("" if t.get("margin") is None else f", margin <span class='margin'>{t['margin']:.1f} s</span>")
                     + "</p>")
        bars = {"busy": m["busy"] or 0.0, "held": m["held"] or 0.0}
        parts.append(bar_svg(bars, limit=m["budget"], over=m["state"] == "over budget"))
        parts.append("<h3>Cost per pool</h3>" + _table(
            ["pool", "busy s", "held s", "$ busy", "$ held", "$ start-up (of held)"],
            [[_e(pool), _num(x["busy_seconds"], ".1f"), _num(x["held_seconds"], ".1f"), fmt_money(x["busy"]),
              fmt_money(x["held"]), fmt_money(x["startup"])] for pool, x in m["by_pool"].items()], "pools"))
    else:
        parts.append("<p class='muted'>No money: the run had no placement plugin (start the scheduler with "
                     "<code>--preload daskcollab.deploy.scheduler</code>).</p>")

    if p is not None:
        parts.append(f"<h2>Plan vs actual</h2><p class='muted'>mode {_e(p['mode'])}, {p['replans']} re-plans</p>"
                     + _table(["", "planned", "actual", "actual / planned"], [
                         [label, fmt(p[key]["planned"]), fmt(p[key]["actual"]), _ratio(p[key])]
                         for label, key, fmt in (("makespan (s)", "makespan", lambda v: _num(v, ".1f")),
                                                 ("cost, busy", "cost_busy", fmt_money),
                                                 ("cost, held", "cost_held", fmt_money))], "plan"))

    parts.append("<h2>Tasks by pool and worker</h2>"
                 + gantt_svg(view["gantt"], [s["stage"] for s in view["stages"]]))

    parts.append("<h2>Stages</h2>" + _table(
        ["stage", "kind", "state", "ran on", "planned pool", "planned s", "wall s", "busy s", "$ busy", "$ held"],
        [[_e(s["stage"]), _e(s["kind"] or ""), f"<span class='state-{_e(s['state'])}'>{_e(s['state'])}</span>",
          _e(", ".join(s["pools"])), _e(s["planned_pool"] or "-"),
          _num(None if s["planned_finish"] is None else s["planned_finish"] - s["planned_start"], ".1f"),
          _num(s["seconds"] if s["seconds"] is not None else (data.get("timings") or {}).get(s["stage"]), ".1f"),
          _num(s["busy_seconds"], ".1f"), fmt_money(s["cost_busy"]), fmt_money(s["cost_held"])] for s in view["stages"]],
        "stages"))
    reused = [s["stage"] for s in view["stages"] if s["state"] == StageState.REUSED]
    failed = [s["stage"] for s in view["stages"] if s["state"] == StageState.FAILED]
    parts.append(f"<p>Reused (not recomputed): {_e(', '.join(reused) or 'none')}. "
                 f"Failed: {_e(', '.join(failed) or 'none')}.</p>")

    outcome = outcome_tables(view)
    if outcome:
        parts.append("<h2>Models and blends</h2>" + outcome)
    outputs = data.get("outputs") or {}
    if outputs:
        parts.append("<h2>Outputs</h2>" + _table(["sink", "path"], [[_e(k), _e(v)] for k, v in outputs.items()]))
    parts.append("<script type='application/json' id='run-view'>"
                 + json.dumps(_summary(view)).replace("</", "<\\/") + "</script>")
    parts.append("</body></html>")
    return "".join(parts)


def _ratio(pair: Mapping[str, float | None]) -> str:
    a, b = pair.get("actual"), pair.get("planned")
    return "-" if a is None or not b else f"{a / b:.2f}"


def _summary(view: Mapping[str, Any]) -> dict[str, Any]:
    """The report's headline numbers, machine-readable (what tests compare with the page and metrics)."""
    return {"run_id": view["run_id"], "status": view["status"], "money": view["money"],
            "stages": {s["stage"]: s["state"] for s in view["stages"]}, "gantt_tasks": len(view["gantt"]),
            "progress": view["progress"]}


def write_report(result: Any, path: str | os.PathLike) -> str:
    """Write :func:`render_report` of ``result`` (a RunResult, its dict, or a path to its JSON) to ``path``."""
    if isinstance(result, (str, os.PathLike)):
        result = load_result(result)
    text = render_report(result)
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return os.fspath(path)


def load_result(path: str | os.PathLike) -> dict[str, Any]:
    """A ``RunResult`` JSON file (``daskcollab run --json``, ``RunResult.to_json()``) as a dict
    (``RunResult.to_dict()``), read and checked by :meth:`RunResult.from_json`."""
    from daskcollab._errors import DataError, stage_message
    from daskcollab.runtime import RunResult

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, ValueError) as exc:
        raise DataError(stage_message("report", "RUN.json", f"expected a RunResult JSON file, got {exc}",
                                      "pass the file written by `daskcollab run --json RUN.json`")) from exc
    try:
        return RunResult.from_json(text).to_dict()
    except DataError as exc:
        raise DataError(f"daskcollab report: {path}: {exc}") from exc
