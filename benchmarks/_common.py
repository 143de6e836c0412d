"""Shared benchmark plumbing: timing, result JSON, and the comparison line."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

#: Where results are written: ``benchmarks/results`` (``$DASKCOLLAB_BENCH_RESULTS`` overrides it,
#: so the smoke tests write into a temporary folder instead of the repository).
RESULTS = pathlib.Path(os.environ.get("DASKCOLLAB_BENCH_RESULTS") or pathlib.Path(__file__).parent / "results")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def is_check(value: object) -> bool:
    """A check as every result JSON holds it: ``{"ratio": r, "target": t, "met": bool}``."""
    return isinstance(value, dict) and {"ratio", "target", "met"} <= value.keys()


def flat_checks(payload: dict) -> dict[str, dict]:
    """The run's ``checks`` map: ``payload["checks"]`` when the benchmark wrote one, else every
    ``checks`` map nested in it (per shape or part), named ``"<path>: <check>"``
    (``"workflows/blast@3s: fastest_follows_plan"``)."""
    top = payload.get("checks")
    if isinstance(top, dict) and all(is_check(c) for c in top.values()):
        return dict(top)
    out: dict[str, dict] = {}

    def walk(node: object, path: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key == "checks" and isinstance(value, dict) and all(is_check(c) for c in value.values()):
                prefix = "/".join(path)
                out.update({f"{prefix}: {k}" if prefix else k: dict(c) for k, c in value.items()})
            elif isinstance(value, dict):
                walk(value, (*path, str(key)))

    walk(payload, ())
    return out


def write_result(name: str, payload: dict) -> pathlib.Path:
    """Write ``results/NAME.json``: machine, the payload, and one top-level ``checks`` map
    (:func:`flat_checks`) that every benchmark's JSON has, whatever its nesting."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "command": " ".join(["python", *map(str, sys.argv)]),
        "commit": _commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m": os.getloadavg()[0]},
        **payload,
    }
    payload["checks"] = flat_checks(payload)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def _commit() -> str | None:
    """The checkout's commit (``+dirty`` with uncommitted changes to tracked files), None outside git."""
    here = pathlib.Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def verdict(ratio: float, target: float, *, lower_is_better: bool = True) -> str:
    met = ratio <= target if lower_is_better else ratio >= target
    sign = "<=" if lower_is_better else ">="
    return f"{ratio:.3f}x (target {sign} {target}x: {'MET' if met else 'MISSED'})"
