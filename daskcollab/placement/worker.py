"""Alias of the worker preload :mod:`daskcollab.deploy.worker`, kept for existing deployments.

``dask worker ... --preload daskcollab.placement.worker --pool NAME --price P`` keeps working;
new deployments should write ``--preload daskcollab.deploy.worker``.
"""

from __future__ import annotations

from daskcollab.deploy.worker import dask_setup, join_pool

__all__ = ["dask_setup", "join_pool"]
