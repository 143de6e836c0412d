"""What a workflow run returns: metrics, blend weights, timings and outputs."""

from __future__ import annotations

import datetime
import importlib
import json
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from daskcollab._errors import DataError
from daskcollab._types import StageState

#: Libraries whose versions a run records (import names).
RECORDED_LIBRARIES = ("dask", "distributed", "dask_ml", "xgboost", "sklearn", "numpy", "zarr", "skops")
#: Version of the JSON layout :meth:`RunResult.to_json` writes.
JSON_FORMAT = 1
#: Keys :meth:`RunResult.to_json` adds that are derived from the fields (ignored when read back).
_DERIVED = ("format", "started_at_utc", "finished_at_utc")


def library_versions() -> dict[str, str]:
    """Versions of Python, daskcollab and :data:`RECORDED_LIBRARIES` in this process
    (``"not installed"`` for a missing one)."""
    from daskcollab import __version__

    out = {"python": platform.python_version(), "daskcollab": __version__}
    for name in RECORDED_LIBRARIES:
        try:
            out[name] = str(importlib.import_module(name).__version__)
        except ImportError:
            out[name] = "not installed"
    return out


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
        Wall seconds per stage (from its start to its last future), in run order; stages overlap.
    outputs
        ``{sink stage: absolute path written}``.
    placements
        The run's ledger from the placement plugin (decisions, stage states, busy and held money
        per pool and stage, budget and deadline); empty when the plugin does not run.
    run_id
        The run's id on the scheduler.
    plan
        The run's plan when it started (per stage: pool, start, finish, work estimate and its
        source; predicted makespan, busy and held cost); empty without the placement plugin.
    cost
        ``{"busy", "held", "startup", "busy_by_pool", "held_by_pool", "startup_by_pool",
        "held_seconds_by_pool", "busy_by_stage", "held_by_stage", "over_budget"}`` in $ (seconds for
        ``held_seconds_by_pool``). *held* is what a cloud bills: every worker-second from join to leave,
        busy or idle, and from the request for workers an elastic controller asked for (a pod is paid
        while it boots); *startup* is that boot time's part of it. Empty without the placement plugin.
    makespan_s
        Wall seconds of the whole run (stages overlap, so less than the sum of ``timings``).
    started_at, finished_at
        Unix timestamps of the run.
    warnings
        Budget/deadline alerts and checks that could not be made.
    stage_states
        ``{stage: "done" | "reused" | ...}``.
    graph
        ``{stage: {"kind": ..., "inputs": [stage, ...]}}``: the workflow's DAG, in run order.
    versions
        Python, daskcollab and library versions of the process that ran the workflow
        (:func:`library_versions`).

    :meth:`to_json` writes every field plus ``format`` and the timestamps in ISO 8601 UTC;
    :meth:`from_json` reads it back into an equal result.
    recoveries
        ``{stage: (loss, ...)}``: the workers a stage lost (died or preempted) and recovered from.
    """

    workflow: str
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    blends: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    placements: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    plan: Mapping[str, Any] = field(default_factory=dict)
    cost: Mapping[str, Any] = field(default_factory=dict)
    makespan_s: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    warnings: tuple[str, ...] = ()
    stage_states: Mapping[str, str] = field(default_factory=dict)
    graph: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    recoveries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def reused(self) -> tuple[str, ...]:
        """The stages rebuilt from what an earlier run of the workflow kept (see ``collab.resume``)."""
        return tuple(name for name, state in self.stage_states.items() if state == StageState.REUSED)

    @property
    def wall_seconds(self) -> float:
        """The run's wall time (``makespan_s``; the sum of stage timings for results without it)."""
        return float(self.makespan_s if self.makespan_s is not None else sum(self.timings.values()))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """The result as JSON: every field, ``format`` and ISO 8601 UTC timestamps."""
        out = {"format": JSON_FORMAT, **self.to_dict(), "started_at_utc": _iso(self.started_at),
               "finished_at_utc": _iso(self.finished_at)}
        return json.dumps(out, indent=2, default=str)

    @classmethod
    def from_json(cls, text: str) -> RunResult:
        """Read a result written by :meth:`to_json` (a string; e.g. ``Path("run.json").read_text()``).

        Raises
        ------
        DataError
            Not JSON, another format, no ``workflow``, or keys no :class:`RunResult` has.

        Examples
        --------
        >>> r = RunResult("w", metrics={"xgb": {"auc": 0.9}}, warnings=("late",))
        >>> RunResult.from_json(r.to_json()) == r
        True
        """
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise DataError(f"RunResult.from_json: not valid JSON ({exc}). Fix: pass the text RunResult.to_json "
                            "wrote") from exc
        if not isinstance(data, dict) or not isinstance(data.get("workflow"), str):
            raise DataError("RunResult.from_json: expected a JSON object with a 'workflow' name. Fix: pass the text "
                            "RunResult.to_json wrote")
        if data.get("format", JSON_FORMAT) != JSON_FORMAT:
            raise DataError(f"RunResult.from_json: format {data.get('format')!r}, expected {JSON_FORMAT}. Fix: read "
                            "it with the daskcollab version that wrote it")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - set(_DERIVED))
        if unknown:
            raise DataError(f"RunResult.from_json: unknown keys {unknown!r}. Fix: pass the text RunResult.to_json "
                            "wrote")
        values = {k: v for k, v in data.items() if k in known}
        values["warnings"] = tuple(values.get("warnings") or ())
        return cls(**values)

    def table(self) -> str:
        """Metrics, weights and timings as a plain-text table."""
        lines = [f"workflow {self.workflow!r}: {len(self.timings)} stages in {self.wall_seconds:.1f} s"
                 + (f" (run {self.run_id})" if self.run_id else "")]
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
        lines += ["", *self._stage_lines()]
        if self.cost:
            startup = self.cost.get("startup_by_pool") or {}
            lines += ["", f"cost: ${self.cost['busy']:.4f} busy, ${self.cost['held']:.4f} held"
                          + (f" (${self.cost.get('startup', 0.0):.4f} of it start-up)" if startup else "")
                          + (f" (plan: {self.plan['makespan']:.1f} s, ${self.plan['cost']:.4f} busy, "
                             f"${self.plan['held_cost']:.4f} held)" if self.plan else "")]
            held = self.cost.get("held_by_pool") or {}
            lines += [f"  {pool:<20} ${self.cost['busy_by_pool'].get(pool, 0.0):.4f} busy  ${held.get(pool, 0.0):.4f} held"
                      + (f"  ${startup[pool]:.4f} start-up" if pool in startup else "")
                      for pool in sorted({*self.cost["busy_by_pool"], *held})]
            if self.cost.get("held_spot"):
                lines.append(f"  held on spot pools ${self.cost['held_spot']:.4f}, on on-demand pools "
                             f"${self.cost.get('held_on_demand', 0.0):.4f}")
            if self.cost.get("deadline_margin") is not None:
                margin = self.cost["deadline_margin"]
                lines.append(f"  deadline: met with {margin:.1f} s to spare" if margin >= 0
                             else f"  deadline: missed by {-margin:.1f} s")
        for warning in self.warnings:
            lines.append(f"warning: {warning}")
        for sink, path in self.outputs.items():
            lines.append(f"output {sink!r}: {path}")
        return "\n".join(lines)

    def _stage_lines(self) -> list[str]:
        """Per stage: wall seconds, and with a plan the pool it ran on and its planned window."""
        planned = (self.plan or {}).get("stages", {})
        pools = {s: ", ".join(sorted(v.get("pools", {}))) for s, v in (self.placements or {}).get("stages", {}).items()}
        head = "stage timings" + (" (measured s; planned pool, start-finish s, estimate)" if planned else "") + ":"
        out = [head]
        for stage, seconds in self.timings.items():
            line = f"  {stage:<20} {seconds:8.2f} s"
            state = self.stage_states.get(stage)
            if state and state != StageState.DONE:
                line += f"  [{state}]"
            p = planned.get(stage)
            if p:
                ran = pools.get(stage) or "-"
                line += f"  ran on {ran}; planned {p['pool']} {p['start']:.1f}-{p['finish']:.1f} s ({p['source']})"
            out.append(line)
        return out

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


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).isoformat()


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _grid(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out
