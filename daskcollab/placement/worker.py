"""Deprecated alias of the worker preload :mod:`daskcollab.deploy.worker`, kept for existing deployments.

``dask worker ... --preload daskcollab.placement.worker --pool NAME --price P`` keeps working (with a
``FutureWarning``); new deployments write ``--preload daskcollab.deploy.worker``. The preload is
resolved on first use, so importing this module does not import :mod:`daskcollab.deploy`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["dask_setup", "join_pool"]  # noqa: F822  (resolved by __getattr__ below)


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib
        import warnings

        from daskcollab._contract import WORKER_PRELOAD

        warnings.warn(f"--preload daskcollab.placement.worker is deprecated; use --preload {WORKER_PRELOAD}",
                      FutureWarning, stacklevel=2)
        value = globals()[name] = getattr(importlib.import_module(WORKER_PRELOAD), name)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
