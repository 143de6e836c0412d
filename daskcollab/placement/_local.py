"""A local heterogeneous cluster of worker pools, for tests, benchmarks and laptops.

Each pool becomes ``pool.workers`` nanny-managed worker *processes* that load the worker preload
``daskcollab.placement.worker`` with the pool's name, price and speed (through the environment,
exactly as a ``dask worker`` command line in a real deployment would) and advertise the pool's
abstract resources. The scheduler runs in this process with the :class:`PlacementPlugin`
installed (unless ``plugin=False``), so tests can read its state directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from distributed import Nanny, Scheduler, SpecCluster

from daskcollab._errors import DaskCollabError, stage_message
from daskcollab.placement._planning import Pool
from daskcollab.placement._plugin import PlacementPlugin
from daskcollab.placement._pools import pool_from_mapping

WORKER_PRELOAD = "daskcollab.placement.worker"


def pool_worker_specs(
    pools: Iterable[Pool | Mapping[str, Any]],
    *,
    threads_per_worker: int = 1,
    memory_limit: str | int | None = "auto",
    worker_options: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """``SpecCluster`` worker specs for ``pools`` (pure; one entry per worker process).

    Examples
    --------
    >>> specs = pool_worker_specs([Pool("gpu", 2.5, workers=1, resources={"GPU": 1})])
    >>> specs["gpu-0"]["options"]["env"]["DASKCOLLAB_POOL"], specs["gpu-0"]["options"]["resources"]
    ('gpu', {'GPU': 1})
    """
    specs: dict[str, dict[str, Any]] = {}
    for pool in map(pool_from_mapping, pools):
        if pool.workers < 1:
            raise DaskCollabError(
                stage_message(
                    "local-pools", "workers", f"expected pool {pool.name!r} to have >= 1 worker, got {pool.workers!r}",
                    "give every local pool at least one worker, or leave it out and declare it in collab.placement.pools",
                )
            )
        for i in range(pool.workers):
            name = f"{pool.name}-{i}"
            if name in specs:
                raise DaskCollabError(
                    stage_message("local-pools", "name", f"expected unique pool names, got {pool.name!r} twice",
                                  "rename one of the pools")
                )
            specs[name] = {
                "cls": Nanny,
                "options": {
                    "nthreads": threads_per_worker,
                    "memory_limit": memory_limit,
                    "resources": dict(pool.resources),
                    "preload": [WORKER_PRELOAD],
                    "env": {
                        "DASKCOLLAB_POOL": pool.name,
                        "DASKCOLLAB_PRICE": repr(float(pool.price_per_hour)),
                        "DASKCOLLAB_SPEED": repr(float(pool.speed)),
                    },
                    **dict(worker_options or {}),
                },
            }
    return specs


def start_local_pools(
    pools: Iterable[Pool | Mapping[str, Any]],
    *,
    plugin: PlacementPlugin | bool = True,
    threads_per_worker: int = 1,
    memory_limit: str | int | None = None,
    dashboard_address: str | None = None,
    scheduler_options: Mapping[str, Any] | None = None,
    asynchronous: bool = False,
) -> SpecCluster:
    """Start a local cluster whose workers form the given pools.

    Parameters
    ----------
    pools : iterable of Pool or mapping
        One entry per pool; ``Pool.workers`` worker processes each.
    plugin : PlacementPlugin or bool
        ``True`` installs ``PlacementPlugin()`` (configured from ``collab.placement.*``), an
        instance installs that one, ``False`` runs plain Dask (a baseline).
    memory_limit : str or int, optional
        Per worker; default splits the machine's memory evenly between the workers.

    Examples
    --------
    >>> from distributed import Client
    >>> from daskcollab.placement import EXAMPLE_POOLS
    >>> with start_local_pools(EXAMPLE_POOLS) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    pools = [pool_from_mapping(p) for p in pools]
    n_workers = sum(p.workers for p in pools)
    if memory_limit is None:
        from distributed.system import MEMORY_LIMIT

        memory_limit = max(int(MEMORY_LIMIT // max(n_workers, 1)), 256 * 2**20)
    workers = pool_worker_specs(pools, threads_per_worker=threads_per_worker, memory_limit=memory_limit)
    options: dict[str, Any] = {"dashboard_address": dashboard_address, "port": 0}
    if plugin is True:
        plugin = PlacementPlugin()
    if plugin:
        options["plugins"] = [plugin]
    options.update(scheduler_options or {})
    if options.get("dashboard_address") is None:
        options["dashboard"] = False
        options.pop("dashboard_address")
    return SpecCluster(
        workers=workers,
        scheduler={"cls": Scheduler, "options": options},
        asynchronous=asynchronous,
        name="daskcollab-local-pools",
    )


def placement_plugin(cluster: SpecCluster) -> PlacementPlugin:
    """The placement plugin of a cluster started by :func:`start_local_pools` (same process)."""
    from daskcollab.placement._plugin import PLUGIN_NAME

    plugin = cluster.scheduler.plugins.get(PLUGIN_NAME)
    if plugin is None:
        raise DaskCollabError(
            stage_message("local-pools", "plugin", f"expected a {PLUGIN_NAME!r} plugin on the scheduler, got None",
                          "start the cluster with start_local_pools(pools, plugin=True)")
        )
    return plugin
