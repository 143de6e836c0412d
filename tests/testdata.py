"""Small Zarr stores for tests (a module with a unique name: importable from any test folder)."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np

import daskcollab as dc
from daskcollab.data._builders import sensor_block


def make_classification_store(path, rows=6_000, chunk_rows=1_000, seed=0):
    """A small sensor-fusion style store (28 features, 0/1 label)."""
    table = sensor_block(seed, 0, rows)
    return dc.write_zarr_dataset(path, table[:, :-1], table[:, -1], chunk_rows=chunk_rows)


def make_regression_store(path, rows=6_000, chunk_rows=1_000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 6))
    y = 2 * X[:, 0] - X[:, 1] + np.sin(3 * X[:, 2]) + 0.1 * rng.normal(size=rows)
    return dc.write_zarr_dataset(path, X, y.astype("float32"), chunk_rows=chunk_rows)


def benchmark_module(name):
    """A module of ``benchmarks/`` (benchmark-only helpers, e.g. ``_emulate``), loaded by its path."""
    if name in sys.modules:
        return sys.modules[name]
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
