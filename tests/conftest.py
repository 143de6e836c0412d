"""Shared fixtures: one real LocalCluster (2 single-thread worker processes) for the session,
and small Zarr stores written fresh per test."""

from __future__ import annotations

import numpy as np
import pytest
from distributed import Client, LocalCluster

import daskcollab as dc
from daskcollab.data._builders import sensor_block


@pytest.fixture(scope="session")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, resources={"GPU": 1}
    ) as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    with Client(cluster) as client:
        yield client


def make_classification_store(path, rows=6_000, chunk_rows=1_000, seed=0):
    """A small sensor-fusion style store (28 features, 0/1 label)."""
    table = sensor_block(seed, 0, rows)
    return dc.write_zarr_dataset(path, table[:, :-1], table[:, -1], chunk_rows=chunk_rows)


def make_regression_store(path, rows=6_000, chunk_rows=1_000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 6))
    y = 2 * X[:, 0] - X[:, 1] + np.sin(3 * X[:, 2]) + 0.1 * rng.normal(size=rows)
    return dc.write_zarr_dataset(path, X, y.astype("float32"), chunk_rows=chunk_rows)


@pytest.fixture
def clf_store(tmp_path):
    return make_classification_store(tmp_path / "clf.zarr")


@pytest.fixture
def reg_store(tmp_path):
    return make_regression_store(tmp_path / "reg.zarr")
