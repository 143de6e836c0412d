"""Static SVG charts of a run (pure): the workflow DAG and the Gantt of its tasks by pool and worker."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from daskcollab._types import StageState
from daskcollab.view import STATE_COLOURS, stage_colours


def _e(text: Any) -> str:
    return html.escape(str(text))


def layers(graph: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each stage's column: the length of the longest path of inputs leading to it."""
    depth: dict[str, int] = {}

    def visit(stage: str, seen: tuple[str, ...] = ()) -> int:
        if stage in depth:
            return depth[stage]
        if stage in seen:  # a cycle cannot come from a validated workflow; draw it flat
            return 0
        inputs = [i for i in graph.get(stage, ()) if i in graph]
        depth[stage] = 1 + max((visit(i, (*seen, stage)) for i in inputs), default=-1)
        return depth[stage]

    for stage in graph:
        visit(stage)
    return depth


def dag_svg(stages: Sequence[Mapping[str, Any]]) -> str:
    """The workflow DAG: one box per stage (coloured by state), columns by depth, arrows for inputs."""
    graph = {s["stage"]: list(s.get("inputs") or ()) for s in stages}
    if not graph:
        return "<p>No stages.</p>"
    depth = layers(graph)
    columns: dict[int, list[str]] = {}
    for s in graph:
        columns.setdefault(depth[s], []).append(s)
    box_w, box_h, gap_x, gap_y = 150, 42, 60, 18
    pos = {s: (20 + d * (box_w + gap_x), 20 + i * (box_h + gap_y)) for d, col in columns.items()
           for i, s in enumerate(col)}
    width = 40 + (max(columns) + 1) * (box_w + gap_x) - gap_x
    height = 40 + max(len(c) for c in columns.values()) * (box_h + gap_y) - gap_y
    by_name = {s["stage"]: s for s in stages}
    parts = [f"<svg class='dag' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' font-family='sans-serif' font-size='12'>",
             "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' markerHeight='7' "
             "orient='auto'><path d='M0,0 L10,5 L0,10 z' fill='#555'/></marker></defs>"]
    for stage, inputs in graph.items():
        x2, y2 = pos[stage]
        for i in inputs:
            if i in pos:
                x1, y1 = pos[i]
                ax, ay, bx, by = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
                mid = (ax + bx) / 2
                parts.append(f"<path d='M{ax},{ay} C{mid},{ay} {mid},{by} {bx},{by}' fill='none' stroke='#555' "
                             f"marker-end='url(#arrow)'/>")
    for stage, (x, y) in pos.items():
        s = by_name[stage]
        state = s.get("state") or StageState.PENDING.value
        colour = STATE_COLOURS.get(state, "#9e9e9e")
        parts.append(f"<g class='stage' data-stage='{_e(stage)}' data-state='{_e(state)}'>"
                     f"<title>{_e(stage)} ({_e(s.get('kind') or '')}): {_e(state)}</title>"
                     f"<rect x='{x}' y='{y}' width='{box_w}' height='{box_h}' rx='5' fill='white' stroke='{colour}' "
                     f"stroke-width='3'/><text x='{x + 8}' y='{y + 17}' font-weight='bold'>{_e(stage)[:20]}</text>"
                     f"<text x='{x + 8}' y='{y + 33}' fill='{colour}'>{_e(s.get('kind') or '')} · {_e(state)}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def gantt_svg(rows: Sequence[Mapping[str, Any]], stages: Sequence[str], *, width: int = 1000,
              planned: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """Tasks as bars on one lane per ``pool worker``, coloured by stage; x in seconds since the run started."""
    if not rows:
        return "<p>No task intervals (the run's ledger comes from the placement plugin).</p>"
    colours = stage_colours(stages)
    lanes = sorted({f"{r['pool']} {r['worker']}" for r in rows})
    left, lane_h, top = 230, 22, 10
    end = max(r["stop"] for r in rows)
    if planned:
        end = max(end, max((p.get("finish") or 0.0) for p in planned.values()))
    end = end or 1.0
    plot_w = width - left - 20
    height = top + len(lanes) * lane_h + 60
    x = lambda t: left + plot_w * max(t, 0.0) / end  # noqa: E731
    parts = [f"<svg class='gantt' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' font-family='sans-serif' font-size='11'>"]
    for i, lane in enumerate(lanes):
        y = top + i * lane_h
        parts.append(f"<rect x='{left}' y='{y}' width='{plot_w}' height='{lane_h}' fill='{'#f7f7f7' if i % 2 else 'white'}'/>"
                     f"<text x='{left - 6}' y='{y + 15}' text-anchor='end'>{_e(lane)[:38]}</text>")
    index = {lane: i for i, lane in enumerate(lanes)}
    for r in rows:
        y = top + index[f"{r['pool']} {r['worker']}"] * lane_h + 3
        x0, x1 = x(r["start"]), x(r["stop"])
        parts.append(f"<rect class='task' data-stage='{_e(r['stage'])}' x='{x0:.1f}' y='{y}' "
                     f"width='{max(x1 - x0, 0.5):.1f}' height='{lane_h - 6}' fill='{colours.get(r['stage'], '#999')}'>"
                     f"<title>{_e(r['stage'])} on {_e(r['worker'])}: {r['stop'] - r['start']:.3f} s</title></rect>")
    axis_y = top + len(lanes) * lane_h
    for k in range(6):
        t = end * k / 5
        parts.append(f"<line x1='{x(t):.1f}' y1='{axis_y}' x2='{x(t):.1f}' y2='{axis_y + 4}' stroke='#333'/>"
                     f"<text x='{x(t):.1f}' y='{axis_y + 16}' text-anchor='middle'>{t:.1f} s</text>")
    lx = left
    for stage in stages:
        if any(r["stage"] == stage for r in rows):
            parts.append(f"<rect x='{lx}' y='{axis_y + 26}' width='10' height='10' fill='{colours[stage]}'/>"
                         f"<text x='{lx + 14}' y='{axis_y + 35}'>{_e(stage)}</text>")
            lx += 24 + 7 * len(stage)
    parts.append("</svg>")
    return "".join(parts)


def bar_svg(values: Mapping[str, float], *, limit: float | None = None, width: int = 480, unit: str = "$",
            over: bool = False) -> str:
    """Horizontal bars (``{label: value}``) with an optional limit line (the budget)."""
    if not values:
        return ""
    top = max([*values.values(), limit or 0.0]) or 1.0
    left, bar_h = 90, 22
    height = len(values) * (bar_h + 6) + 10
    parts = [f"<svg class='bars' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"font-family='sans-serif' font-size='11'>"]
    for i, (label, value) in enumerate(values.items()):
        y = 5 + i * (bar_h + 6)
        w = (width - left - 110) * value / top
        fill = "#d62728" if over and label == "held" else "#1f77b4"
        parts.append(f"<text x='{left - 6}' y='{y + 15}' text-anchor='end'>{_e(label)}</text>"
                     f"<rect x='{left}' y='{y}' width='{w:.1f}' height='{bar_h}' fill='{fill}'/>"
                     f"<text x='{left + w + 4:.1f}' y='{y + 15}'>{unit}{value:.4f}</text>")
    if limit is not None:
        lx = left + (width - left - 110) * limit / top
        parts.append(f"<line x1='{lx:.1f}' y1='0' x2='{lx:.1f}' y2='{height}' stroke='#333' stroke-dasharray='4 3'/>"
                     f"<text x='{lx + 3:.1f}' y='{height - 2}'>budget</text>")
    parts.append("</svg>")
    return "".join(parts)

