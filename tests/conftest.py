"""Shared fixtures: one real LocalCluster (2 single-thread worker processes) for the session,
and small Zarr stores written fresh per test."""

from __future__ import annotations

import logging
import traceback

import pytest
from distributed import Client, LocalCluster
from testdata import make_classification_store, make_regression_store

from daskcollab import testing


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


class _PluginErrors(logging.Handler):
    """Records of an exception raised in daskcollab code that the scheduler only logged: Dask logs,
    and otherwise ignores, what a plugin hook raises (``transition`` even at INFO level)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[2] is not None:
            frames = traceback.extract_tb(record.exc_info[2])
            if any("/daskcollab/" in f.filename for f in frames):
                self.failures.append("".join(traceback.format_exception(*record.exc_info)))


@pytest.fixture(autouse=True)
def _no_exception_in_scheduler_plugins():
    """Fail a test during which a daskcollab scheduler plugin hook raised (in this process' scheduler)."""
    handler = _PluginErrors()
    loggers = [logging.getLogger(name) for name in ("distributed.scheduler", "daskcollab")]
    for logger in loggers:
        logger.addHandler(handler)
    yield
    for logger in loggers:
        logger.removeHandler(handler)
    if handler.failures:
        pytest.fail("a daskcollab scheduler plugin raised (Dask only logged it):\n" + handler.failures[0])
