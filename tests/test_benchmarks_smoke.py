"""Smoke tests of the throughput and scale benchmarks: each runs with ``--quick`` in a subprocess
and writes its result JSON with the expected keys (into a temporary folder, not the repository).

The numbers of a quick run mean nothing (tiny data); these tests only keep the scripts working.
Speed is the benchmarks' business, never a test's: the subprocess timeout is a hang guard only.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
HANG_GUARD_S = 900


def run_quick(script: str, result: str, results_dir: pathlib.Path) -> dict:
    path = results_dir / f"{result}.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True, text=True, timeout=HANG_GUARD_S, cwd=BENCHMARKS.parent,
        env={**os.environ, "DASKCOLLAB_BENCH_RESULTS": str(results_dir)},
    )
    assert proc.returncode == 0, f"{script} --quick failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert path.exists(), f"{script} did not write {path}"
    return json.loads(path.read_text())


@pytest.mark.slow
def test_predict_throughput_quick(tmp_path):
    data = run_quick("bench_predict_throughput.py", "predict_throughput_quick", tmp_path)
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
def test_scale_quick(tmp_path):
    data = run_quick("bench_scale.py", "scale_quick", tmp_path)
    assert {"benchmark", "machine", "scale", "memory", "targets", "params", "command", "checks"} <= data.keys()
    assert set(data["checks"]) == {"scale: t(4x)/t(1x)", "scale: t(10x)/t(1x)"}
    scale = data["scale"]
    assert {"rows", "times_s", "stage_times_s", "ratios", "met", "blend_auc"} <= scale.keys()
    assert set(scale["times_s"]) == {"1", "4", "10"} and set(scale["ratios"]) == {"4", "10"}
    memory = data["memory"]
    assert {"rows", "feature_bytes", "runs"} <= memory.keys() and memory["runs"]
    for run in memory["runs"].values():
        assert {"completed", "outcome", "seconds", "error", "memory_restarts", "unexpected_worker_removals",
                "peak_worker_memory", "worker_memory_limit", "total_worker_memory", "stage_times_s"} <= run.keys()
        assert run["completed"] is True, run["error"]  # tiny data on roomy workers: the machinery must work


def test_every_result_has_one_top_level_checks_map(monkeypatch, tmp_path):
    """write_result lifts checks nested per shape into the top-level map; a benchmark's own map wins."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import _common

    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    check = {"ratio": 0.9, "target": 1.0, "met": True}
    nested = {"workflows": {"blast@3s": {"checks": {"fastest": check}}}, "overhead": {"checks": {"wall": check}}}
    data = json.loads(_common.write_result("nested", nested).read_text())
    assert data["checks"] == {"workflows/blast@3s: fastest": check, "overhead: wall": check}
    own = {"checks": {"a": check}, "parts": {"x": {"checks": {"b": check}}}}
    assert json.loads(_common.write_result("own", own).read_text())["checks"] == {"a": check}
    results = sorted((BENCHMARKS / "results").glob("*.json"))
    assert results and all(isinstance(json.loads(f.read_text()).get("checks"), dict) for f in results)
