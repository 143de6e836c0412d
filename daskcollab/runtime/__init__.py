"""Running workflows: the whole workflow submitted at once, stages side by side, one run on the scheduler.

``run``, ``connect``, ``local_cluster`` and :class:`RunResult` are re-exported by :mod:`daskcollab`;
:class:`StageContext` is what a stage's ``run`` receives (it lives in :mod:`daskcollab._context`,
below the stages and the models, which use it). Names load on first use (see :mod:`daskcollab._lazy`).
"""

from daskcollab._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "StageContext": "daskcollab._context",
    "StageState": "daskcollab._types",
    "RunResult": "_result", "library_versions": "_result",
    "connect": "_runner", "local_cluster": "_runner", "run": "_runner",
})
