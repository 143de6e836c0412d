"""Worker preload: retire gracefully when told to stop (SIGTERM), the way Kubernetes and spot reclaim nodes.

Usage::

    dask worker tcp://scheduler:8786 --preload daskcollab.deploy.preemption

(``daskcollab.deploy.worker`` installs it too). On SIGTERM the worker process

1. logs a ``daskcollab-preemption`` event ``{"worker", "name", "grace"}`` on the scheduler, so the
   runner counts the loss against the stage's *preemption* budget
   (:mod:`daskcollab._recovery`), not its ``retries``;
2. retires (``Worker.close_gracefully``: no new tasks, its unique data moved to peers) and exits,
   within ``collab.preemption.grace-period`` (default 25 s, inside GCP's and Azure's 30 s); past it
   the worker closes at once.

Without this Dask's worker process dies on SIGTERM and every result it held is recomputed.
The handler needs the worker's event loop in its process's main thread (``dask worker`` and
nanny-spawned workers; not a threaded in-process worker).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import dask

from daskcollab import _config
from daskcollab._contract import PREEMPTION_TOPIC

logger = logging.getLogger("daskcollab.preemption")


def install(worker: Any, grace: float | str | None = None) -> bool:
    """Make ``worker`` retire gracefully on SIGTERM; False when no handler can be installed here."""
    seconds = float(dask.utils.parse_timedelta(_config.get("preemption.grace-period", grace)))
    try:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(retire(worker, seconds)))
    except (RuntimeError, ValueError, NotImplementedError) as exc:  # not the main thread, or no loop
        logger.debug("no SIGTERM handler for %s: %s", getattr(worker, "name", worker), exc)
        return False
    return True


async def retire(worker: Any, grace: float) -> None:
    """Log the preemption, retire within ``grace`` seconds, then close (the nanny too: the node is going)."""
    if getattr(worker, "_daskcollab_preempted", False):
        return
    worker._daskcollab_preempted = True
    logger.warning("worker %s told to stop (SIGTERM): retiring within %g s", worker.address, grace)
    worker.log_event(PREEMPTION_TOPIC, {"worker": worker.address, "name": str(worker.name), "grace": grace})
    try:
        await asyncio.wait_for(worker.close_gracefully(restart=False, reason="preempted (SIGTERM)"), grace)
    except Exception as exc:  # grace period over, or the scheduler went away: go now
        logger.warning("worker %s: graceful retirement did not finish (%s); closing", worker.address, exc)
        await worker.close(nanny=True, reason="preempted: grace period over")


def dask_setup(worker: Any) -> None:
    """Preload entry point: ``--preload daskcollab.deploy.preemption``."""
    install(worker)
