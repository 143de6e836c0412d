"""Smoke tests of the throughput and scale benchmarks: each runs with ``--quick`` in a subprocess,
within 40 s, and writes its result JSON with the expected keys.

The numbers of a quick run mean nothing (tiny data); these tests only keep the scripts working.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
LIMIT_S = 40


def run_quick(script: str, result: str) -> dict:
    path = BENCHMARKS / "results" / f"{result}.json"
    start_wall, start = time.time(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True, text=True, timeout=3 * LIMIT_S, cwd=BENCHMARKS.parent,
    )
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, f"{script} --quick failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert seconds < LIMIT_S, f"{script} --quick took {seconds:.1f} s (limit {LIMIT_S} s)"
    assert path.exists() and path.stat().st_mtime >= start_wall - 1, f"{script} did not write {path}"
    return json.loads(path.read_text())


@pytest.mark.slow
def test_predict_throughput_quick():
    data = run_quick("bench_predict_throughput.py", "predict_throughput_quick")
    assert {"benchmark", "machine", "checks", "rows", "times_s", "rows_per_s", "paired_ratios", "target",
            "vs_one_booster", "auc_test", "store_check", "command"} <= data.keys()
    assert data["quick"] is True and data["rows"] == 200_000 and data["target"] == 0.9
    assert set(data["checks"]) == {"stacking_vs_numpy_blend", "ensemble_selection_vs_numpy_blend"}
    for check in data["checks"].values():
        assert set(check) == {"ratio", "target", "met"} and check["met"] == (check["ratio"] >= 0.9)
    assert {"daskcollab_stacking", "numpy_stacking", "daskcollab_ensemble_selection", "baseline",
            "naive"} <= data["rows_per_s"].keys()
    assert all(v > 0 for v in data["rows_per_s"].values())
    for blend in ("stacking", "ensemble_selection"):
        assert data["store_check"][blend] == {"complete": True, "chunks": [25_000], "rows": 200_000, "nan": 0}
        assert data["auc_test"][blend] > 0.7


@pytest.mark.slow
def test_scale_quick():
    data = run_quick("bench_scale.py", "scale_quick")
    assert {"benchmark", "machine", "scale", "memory", "targets", "params", "command"} <= data.keys()
    scale = data["scale"]
    assert {"rows", "times_s", "stage_times_s", "ratios", "met", "blend_auc"} <= scale.keys()
    assert set(scale["times_s"]) == {"1", "4", "10"} and set(scale["ratios"]) == {"4", "10"}
    memory = data["memory"]
    assert {"rows", "feature_bytes", "runs"} <= memory.keys() and memory["runs"]
    for run in memory["runs"].values():
        assert {"completed", "outcome", "seconds", "error", "memory_restarts", "unexpected_worker_removals",
                "peak_worker_memory", "worker_memory_limit", "total_worker_memory", "stage_times_s"} <= run.keys()
        assert run["completed"] is True, run["error"]  # tiny data on roomy workers: the machinery must work
