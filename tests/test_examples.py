"""The examples run as documented (the own-data one end to end; the flights one is built and validated)."""

from __future__ import annotations

import pathlib
import runpy
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"


def test_flights_example_builds_a_valid_workflow():
    module = runpy.run_path(str(EXAMPLES / "flights_python_api.py"))
    workflow = module["build_workflow"]()
    assert [s.name for s in workflow.stages][-2:] == ["evaluate", "predictions"]


@pytest.mark.slow
def test_own_data_example_runs(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "own_data.py")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "blend 'blend' (weighted_average) weights" in done.stdout
    assert (tmp_path / "data" / "breast-cancer.zarr").is_dir()
