"""The examples run as documented (the own-data one end to end; the flights one is built and validated)."""

from __future__ import annotations

import os
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


@pytest.mark.slow
def test_readme_python_snippet_runs_as_a_script(tmp_path):
    """The README's Python API block, saved as a file and run with ``python``, as a reader would
    (its ``if __name__ == "__main__":`` guard lets the embedded LocalCluster start its workers);
    only the number of boosting rounds is lowered to keep the test short."""
    readme = (EXAMPLES.parent / "README.md").read_text()
    snippet = readme.split("## Python API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert 'if __name__ == "__main__":' in snippet
    assert "rounds=200" in snippet
    (tmp_path / "snippet.py").write_text(snippet.replace("rounds=200", "rounds=5"))
    env = {**os.environ, "DASK_COLLAB__LOCAL_CLUSTER__N_WORKERS": "2",
           "PYTHONPATH": os.pathsep.join([str(EXAMPLES.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Nanny failed to start" not in done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("blend ") for line in lines)  # the metrics table
    auc = float(lines[-1].split()[0])
    assert 0.5 < auc <= 1.0  # result.metrics["blend"]["auc"], then the weights
    assert (tmp_path / "out" / "predictions.zarr").is_dir()
