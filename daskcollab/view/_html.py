"""HTML pieces both the dashboard page and the HTML report show (pure): escaping, tables, the outcome."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any


def escape(text: Any) -> str:
    return html.escape(str(text))


def number(v: Any, spec: str = ".4f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec) if isinstance(v, (int, float)) else escape(v)


def table(header: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table class='{cls}'><tr>{head}</tr>{body}</table>"


def badge(state: str, bad: bool) -> str:
    kind = "bad" if bad else ("none" if state.startswith("no ") else "good")
    return f"<span class='badge {kind}'>{escape(state.upper())}</span>"


def outcome_tables(view: Mapping[str, Any]) -> str:
    """Metrics per model and blend, each blend's gain over its best member, and blend weights (HTML)."""
    outcome = view.get("outcome") or {}
    metrics, weights, blends = (outcome.get(k) or {} for k in ("metrics", "weights", "blends"))
    parts = []
    if metrics:
        names = sorted({m for scores in metrics.values() for m in scores})
        parts.append("<h3>Metrics</h3>" + table(["model", *names], [
            [escape(model), *(number(scores.get(n)) for n in names)] for model, scores in metrics.items()], "metrics"))
    gains = view.get("gains") or {}
    if gains:
        rows = [[escape(blend), escape(metric), f"{g['gain']:+.4f}", escape(g["best_member"]), number(g["best_value"]),
                 number(g["blend_value"])] for blend, by_metric in gains.items() for metric, g in by_metric.items()]
        parts.append("<h3>Gain of each blend over its best member (positive = better)</h3>"
                     + table(["blend", "metric", "gain", "best member", "member", "blend"], rows, "gains"))
    for blend, w in weights.items():
        method = (blends.get(blend) or {}).get("method", "")
        parts.append(f"<h3>Blend {escape(blend)} <span class='muted'>({escape(method)})</span></h3>"
                     + table(["model", "weight"], [[escape(m), number(x)] for m, x in w.items()], "weights"))
    return "".join(parts)
