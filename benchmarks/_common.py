"""Shared benchmark plumbing: timing, result JSON, and the comparison line."""

from __future__ import annotations

import json
import os
import pathlib
import platform
import statistics
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


def write_result(name: str, payload: dict) -> pathlib.Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def verdict(ratio: float, target: float, *, lower_is_better: bool = True) -> str:
    met = ratio <= target if lower_is_better else ratio >= target
    sign = "<=" if lower_is_better else ">="
    return f"{ratio:.3f}x (target {sign} {target}x: {'MET' if met else 'MISSED'})"
