"""Worker preload: join a placement pool.

Usage::

    dask worker tcp://scheduler:8786 --nthreads 1 --resources GPU=1 \\
        --preload daskcollab.deploy.worker --pool gpu --price 2.50 --speed 1.0

or with the environment (handy in Kubernetes pod specs)::

    DASKCOLLAB_POOL=cpu-spot DASKCOLLAB_PRICE=0.10 DASKCOLLAB_SPEED=1.0 \\
        dask worker tcp://scheduler:8786 --preload daskcollab.deploy.worker

The preload runs before the worker registers. It

* adds the resource label ``pool-<name>`` (quantity 1,000,000, so it never limits concurrency)
  unless the worker already advertises it: tasks are restricted to a pool by this label, which
  survives worker restarts (a restarted worker gets a new address);
* sets ``worker.startup_information["daskcollab"]`` to ``{"pool", "price_per_hour", "speed"}``,
  which the scheduler stores as ``WorkerState.extra["daskcollab"]`` before plugins see the worker;
* makes the worker retire gracefully on SIGTERM (:mod:`daskcollab.deploy.preemption`).
"""

from __future__ import annotations

from typing import Any

import click

from daskcollab._errors import DaskCollabError, stage_message
from daskcollab.placement import METADATA_KEY, POOL_LABEL_QUANTITY, pool_resource, worker_metadata


def join_pool(worker: Any, pool: str, price: float, speed: float = 1.0) -> dict[str, Any]:
    """Make ``worker`` (not yet registered) a member of ``pool``; return its metadata."""
    meta = worker_metadata(pool, price, speed)
    label = pool_resource(pool)
    state = worker.state
    if label not in state.total_resources:
        state.total_resources[label] = POOL_LABEL_QUANTITY
        state.available_resources[label] = POOL_LABEL_QUANTITY
    worker.startup_information[METADATA_KEY] = lambda _worker, _meta=dict(meta): dict(_meta)
    return meta


@click.command()
@click.option("--pool", envvar="DASKCOLLAB_POOL", default=None, help="Pool name (env DASKCOLLAB_POOL).")
@click.option(
    "--price", envvar="DASKCOLLAB_PRICE", type=float, default=None, help="Price per hour in $ (env DASKCOLLAB_PRICE)."
)
@click.option(
    "--speed", envvar="DASKCOLLAB_SPEED", type=float, default=1.0, show_default=True,
    help="Relative speed, 1.0 = reference (env DASKCOLLAB_SPEED).",
)
def dask_setup(worker: Any, pool: str | None, price: float | None, speed: float) -> None:
    """Preload entry point: ``--preload daskcollab.deploy.worker --pool NAME --price $/h``."""
    if not pool:
        raise DaskCollabError(
            stage_message(
                "worker",
                "pool",
                f"expected a pool name from --pool or DASKCOLLAB_POOL, got {pool!r}",
                "start the worker with --preload daskcollab.deploy.worker --pool cpu-spot --price 0.10",
            )
        )
    if price is None:
        raise DaskCollabError(
            stage_message(
                "worker",
                "price",
                f"expected a price per hour from --price or DASKCOLLAB_PRICE for pool {pool!r}, got None",
                "pass --price 0.10 (dollars per hour; 0 for free hardware)",
            )
        )
    join_pool(worker, pool, price, speed)
    from daskcollab.deploy.preemption import install

    install(worker)
