"""Running workflows: the whole workflow submitted at once, stages side by side, one run on the scheduler.

``run`` and ``local_cluster`` are re-exported by :mod:`daskcollab`; :class:`StageContext` is what a
stage's ``run`` receives. Imported lazily so that stage modules can import the context without
importing the runner.
"""

from __future__ import annotations

from typing import Any

from daskcollab.runtime._context import StageContext

__all__ = ["StageContext", "StageState", "local_cluster", "run"]


def __getattr__(name: str) -> Any:
    if name in ("run", "local_cluster"):
        from daskcollab.runtime import _runner

        return getattr(_runner, name)
    if name == "StageState":
        from daskcollab.runtime._executor import StageState

        return StageState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
