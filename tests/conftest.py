"""Shared fixtures: one real LocalCluster (2 single-thread worker processes) for the session,
and small Zarr stores written fresh per test."""

from __future__ import annotations

import pytest
from distributed import Client, LocalCluster

from daskcollab import testing
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


@pytest.fixture(scope="module")
def pools_cluster(request, tmp_path_factory):
    """A cluster of the test module's ``POOLS`` (worker processes per pool, the placement plugin
    installed, its cost model in a temporary folder), shared by the module's tests."""
    with testing.pools_cluster(request.module.POOLS,
                               cost_model_path=tmp_path_factory.mktemp("cm") / "cost-model.json") as cluster:
        yield cluster


@pytest.fixture
def pools_client(request, pools_cluster):
    """A client of :func:`pools_cluster` once every worker of the module's ``POOLS`` has joined."""
    with Client(pools_cluster) as client:
        client.wait_for_workers(sum(p.workers for p in request.module.POOLS), timeout=60)
        yield client


@pytest.fixture
def clf_store(tmp_path):
    return make_classification_store(tmp_path / "clf.zarr")


@pytest.fixture
def reg_store(tmp_path):
    return make_regression_store(tmp_path / "reg.zarr")


@pytest.fixture(autouse=True)
def _restore_dask_logging_env():
    """``daskcollab.cli.main`` called in-process sets ``DASK_LOGGING__DISTRIBUTED`` for the processes
    it starts; undo it so a later test's subprocesses (e.g. the emulated pods) log as usual."""
    import os

    before = os.environ.get("DASK_LOGGING__DISTRIBUTED")
    yield
    if before is None:
        os.environ.pop("DASK_LOGGING__DISTRIBUTED", None)
    else:
        os.environ["DASK_LOGGING__DISTRIBUTED"] = before
