"""What a workflow run returns: metrics, blend weights, timings and outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`daskcollab.run`.

    Attributes
    ----------
    workflow
        Workflow name.
    metrics
        ``{model or blend stage: {metric: value}}`` from the Evaluate stages.
    weights
        ``{blend stage: {model stage: weight}}``: fitted simplex weights (weighted_average, on
        the validation rows), equal weights (voting), or the meta-learner's coefficients on the
        models' logits (stacking, on out-of-fold predictions).
    blends
        ``{blend stage: {"method": ..., ...}}``: how each blend was made.
    models
        ``{model stage: description}`` (parameters, coefficients, rounds).
    timings
        Wall seconds per stage, in run order.
    outputs
        ``{sink stage: path written}``.
    placements
        Placement records (stage, pool, $) when the placement plugin ran; empty otherwise.
    """

    workflow: str
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    blends: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    placements: Mapping[str, Any] = field(default_factory=dict)

    @property
    def wall_seconds(self) -> float:
        return float(sum(self.timings.values()))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def table(self) -> str:
        """Metrics, weights and timings as a plain-text table."""
        lines = [f"workflow {self.workflow!r}: {len(self.timings)} stages in {self.wall_seconds:.1f} s"]
        if self.metrics:
            names = sorted({m for scores in self.metrics.values() for m in scores})
            rows = [["model", *names]] + [
                [model, *(_fmt(scores.get(n)) for n in names)] for model, scores in self.metrics.items()
            ]
            lines += ["", *_grid(rows)]
        lines += _gain_lines(self.metrics, self.blends, self.weights)
        for blend, weights in self.weights.items():
            method = self.blends.get(blend, {}).get("method", "weighted_average")
            lines += ["", f"blend {blend!r} ({method}) {_WEIGHT_TITLES.get(method, 'weights')}:"]
            lines += [f"  {model:<20} {w:.4f}" for model, w in weights.items()]
        lines += ["", "stage timings:"]
        lines += [f"  {stage:<20} {seconds:8.2f} s" for stage, seconds in self.timings.items()]
        for sink, path in self.outputs.items():
            lines.append(f"output {sink!r}: {path}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


_WEIGHT_TITLES = {
    "weighted_average": "weights (fitted on validation rows)",
    "soft_voting": "weights (equal)",
    "hard_voting": "weights (equal)",
    "stacking": "meta-learner coefficients (fitted on out-of-fold predictions)",
    "ensemble_selection": "weights (greedy selection, share of the ensemble's members)",
}


def _gain_lines(metrics, blends, weights) -> list[str]:
    """Each evaluated blend's gain over its best member (positive = better), one line per blend."""
    from daskcollab.evaluation import blend_gains

    out = []
    for blend in blends:
        members = list(blends[blend].get("models") or weights.get(blend, {}))
        gains = blend_gains(metrics, members, blend)
        if gains:
            parts = [f"{metric} {g.gain:+.4f} (vs {g.best_member} {g.best_value:.4f})" for metric, g in gains.items()]
            out.append(f"  {blend:<20} " + ", ".join(parts))
    return ["", "gain over the best member (positive = better):", *out] if out else []


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _grid(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out
