"""Shared fixtures: one real LocalCluster (2 single-thread worker processes) for the session,
and small Zarr stores written fresh per test."""

from __future__ import annotations

import numpy as np
import pytest
from distributed import Client, LocalCluster

import daskcollab as dc
from testdata import make_classification_store, make_regression_store


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


@pytest.fixture
def clf_store(tmp_path):
    return make_classification_store(tmp_path / "clf.zarr")


@pytest.fixture
def reg_store(tmp_path):
    return make_regression_store(tmp_path / "reg.zarr")
