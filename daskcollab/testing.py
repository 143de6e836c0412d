"""Helpers for testing code that runs on daskcollab's worker pools (public, like ``distributed.utils_test``).

::

    from daskcollab.testing import pools_cluster, use_placement_plugin

    with pools_cluster([Pool("spot", 0.1), Pool("fast", 0.4, 2.0)], cost_model_path=tmp / "cm.json") as cluster, \\
            Client(cluster) as client:
        use_placement_plugin(client, mode="cheapest", cost_model_path=tmp / "fresh.json")  # a fresh ledger
        result = daskcollab.run(workflow, client)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from daskcollab.placement import PLUGIN_NAME, PlacementPlugin, Pool


@contextlib.contextmanager
def pools_cluster(pools: Iterable[Pool | Mapping[str, Any]], *, cost_model_path: str | os.PathLike,
                  **plugin_options: Any) -> Iterator[Any]:
    """A local cluster of worker-process pools (``daskcollab.deploy.start_local_pools``) with the
    placement plugin, its cost model kept at ``cost_model_path`` (never the user's own file)."""
    from daskcollab.deploy import start_local_pools

    with start_local_pools(list(pools), plugin=PlacementPlugin(cost_model_path=cost_model_path,
                                                               **plugin_options)) as cluster:
        yield cluster


def use_placement_plugin(client: Any, plugin: PlacementPlugin | None = None, **options: Any) -> None:
    """Replace the scheduler's placement plugin with ``plugin`` (or ``PlacementPlugin(**options)``):
    a fresh ledger and cost model, as after a scheduler restart. ``plugin=None`` and no options
    installs a default plugin; pass ``plugin=False`` to only remove it."""
    if PLUGIN_NAME in client.run_on_scheduler(_plugin_names):
        client.unregister_scheduler_plugin(PLUGIN_NAME)
    if plugin is not False:
        client.register_plugin(plugin if plugin is not None else PlacementPlugin(**options))


def _plugin_names(dask_scheduler: Any) -> list[str]:
    return list(dask_scheduler.plugins)
