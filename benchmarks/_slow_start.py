"""Worker preload for ``bench_elastic.py``: emulate a node's start-up delay (a pod that boots and pulls its image).

The worker sleeps ``$DASKCOLLAB_EMULATED_STARTUP_S`` seconds (default 0) before it registers with
the scheduler (preloads run before registration), so a worker asked for joins that much later,
on top of this machine's own process start-up.
"""

from __future__ import annotations

import asyncio
import os


async def dask_setup(worker) -> None:  # noqa: ARG001 - the preload protocol passes the worker
    await asyncio.sleep(float(os.environ.get("DASKCOLLAB_EMULATED_STARTUP_S", "0")))
