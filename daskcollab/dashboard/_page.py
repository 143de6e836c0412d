"""The daskcollab dashboard page: stages, placements and money, rendered from plain data (pure)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any


def render_page(stages: Sequence[Mapping[str, Any]], placement: Mapping[str, Any] | None, *, refresh_s: int = 2) -> str:
    """An HTML page (refreshing itself) with the stage table and, if placement runs, its ledger."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<meta http-equiv='refresh' content='{refresh_s}'><title>daskcollab</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}th{background:#eef}"
        "td:first-child,td:nth-child(2),td:nth-child(3){text-align:left}</style></head><body>",
        "<h1>daskcollab</h1><h2>Stages</h2>",
    ]
    if stages:
        rows = [[s["workflow"], s.get("run") or "", s["stage"], s.get("kind") or "", s.get("state") or "",
                 s["submitted"], s["done"], s["erred"], f"{s['compute_s']:.1f}", _span(s)] for s in stages]
        parts.append(_table(["workflow", "run", "stage", "kind", "state", "tasks", "done", "erred", "compute s",
                             "wall s"], rows))
    else:
        parts.append("<p>No workflow tasks seen yet.</p>")
    parts.append("<h2>Placement and money</h2>")
    if placement is None:
        parts.append("<p>The placement plugin is not installed on this scheduler "
                     "(<code>dask scheduler --preload daskcollab.deploy.scheduler</code>).</p>")
    else:
        parts.append(f"<p>Spent so far: <b>${placement.get('cost', 0.0):.4f}</b>"
                     + (f" of a ${placement['budget']:.4f} budget" if placement.get("budget") else "") + "</p>")
        costs = placement.get("cost_by_pool") or {}
        busy = placement.get("busy_seconds_by_pool") or {}
        ntasks = placement.get("tasks_by_pool") or {}
        held_s, held = placement.get("alive_seconds_by_pool") or {}, placement.get("alive_cost_by_pool") or {}
        startup = placement.get("startup_cost_by_pool") or {}
        workers, booting = placement.get("workers_by_pool") or {}, placement.get("booting_by_pool") or {}
        parts.append(_table(  # held: the bill, every worker-second from join (or request) to leave
            ["pool", "workers", "starting", "tasks", "busy s", "busy $", "held s", "held $", "start-up $"],
            [[p, workers.get(p, 0), booting.get(p, 0), ntasks.get(p, 0), f"{busy.get(p, 0.0):.1f}",
              f"{costs.get(p, 0.0):.4f}", f"{held_s.get(p, 0.0):.1f}", f"{held.get(p, 0.0):.4f}",
              f"{startup.get(p, 0.0):.4f}"] for p in sorted({*costs, *held, *booting})]))
        decisions = list(placement.get("decisions") or [])[-20:]
        if decisions:
            parts.append("<h3>Latest placement decisions</h3>")
            parts.append(_table(["stage", "pool", "tasks", "mode", "reason"],
                                [[d.get("stage"), d.get("pool"), d.get("ntasks"), d.get("mode") or "", d.get("reason")]
                                 for d in decisions]))
    parts.append("</body></html>")
    return "".join(parts)


def _span(stage: Mapping[str, Any]) -> str:
    if stage.get("first") is None or stage.get("last") is None:
        return "-"
    return f"{stage['last'] - stage['first']:.1f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
