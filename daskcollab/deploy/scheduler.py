"""Scheduler preload: the placement plugin, per-pool scaling and the dashboard page.

Usage::

    dask scheduler --preload daskcollab.deploy.scheduler [--placement-mode cheapest] [--cost-model-path F]

or set ``distributed.scheduler.preload: [daskcollab.deploy.scheduler]`` in the Dask config.
``--preload daskcollab.placement`` is the same preload under its old name.

Installs :class:`~daskcollab.placement.PlacementPlugin`, :class:`~daskcollab.deploy.PoolScalingPlugin`
(a pool's scale-down retires only that pool's workers; declared pools keep their ``min``) and the
dashboard page.
"""

from __future__ import annotations

from typing import Any

import click

from daskcollab.placement import Mode


def install(scheduler: Any, placement_mode: str | None = None, cost_model_path: str | None = None) -> None:
    """Add daskcollab's scheduler plugins and dashboard page to ``scheduler`` (what the preload does)."""
    from daskcollab.dashboard import install_dashboard
    from daskcollab.deploy._scaling import PoolScalingPlugin
    from daskcollab.placement import PlacementPlugin

    scheduler.add_plugin(PlacementPlugin(mode=placement_mode, cost_model_path=cost_model_path))
    scheduler.add_plugin(PoolScalingPlugin())
    install_dashboard(scheduler)


@click.command()
@click.option("--placement-mode", type=click.Choice([m.value for m in Mode]), default=None,
              help="Default objective (config collab.placement.mode).")
@click.option("--cost-model-path", default=None, help="Learned cost model file (config collab.placement.cost-model-path).")
def dask_setup(scheduler: Any, placement_mode: str | None, cost_model_path: str | None) -> None:
    """Scheduler preload entry point (see the module docstring)."""
    install(scheduler, placement_mode, cost_model_path)
