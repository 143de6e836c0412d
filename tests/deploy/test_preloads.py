"""The scheduler and worker preloads under their names, old and new, and the package boundary."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from distributed import Scheduler, Worker

from daskcollab.deploy import SCALING_PLUGIN_NAME
from daskcollab.placement import PLUGIN_NAME


@pytest.mark.parametrize(("scheduler_preload", "worker_preload"), [
    ("daskcollab.deploy.scheduler", "daskcollab.deploy.worker"),
    ("daskcollab.placement", "daskcollab.placement.worker"),  # the names existing deployments use
])
def test_preloads_install_the_plugins_and_join_the_pool(scheduler_preload, worker_preload):
    async def main():
        async with Scheduler(port=0, dashboard_address="127.0.0.1:0", preload=[scheduler_preload],
                             preload_argv=[["--placement-mode", "cheapest"]]) as scheduler:
            assert {PLUGIN_NAME, SCALING_PLUGIN_NAME} <= set(scheduler.plugins)
            async with Worker(scheduler.address, nthreads=1, preload=[worker_preload],
                              preload_argv=[["--pool", "spot", "--price", "0.1"]]) as worker:
                ws = scheduler.workers[worker.address]
                return ws.extra["daskcollab"], dict(ws.resources)

    if scheduler_preload == "daskcollab.placement":  # the old names work, and say they are deprecated
        with pytest.warns(FutureWarning, match="deprecated; use --preload daskcollab.deploy") as caught:
            meta, resources = asyncio.run(main())
        assert {str(w.message).split(";")[0] for w in caught} == {
            "--preload daskcollab.placement is deprecated", "--preload daskcollab.placement.worker is deprecated"}
    else:
        meta, resources = asyncio.run(main())
    assert meta == {"pool": "spot", "price_per_hour": 0.1, "speed": 1.0} and "pool-spot" in resources


def test_placement_does_not_import_deploy():
    code = ("import sys, daskcollab.placement; "
            "print(sorted(m for m in sys.modules if m.startswith('daskcollab.deploy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
