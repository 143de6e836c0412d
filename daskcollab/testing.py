"""Helpers for testing code that runs on daskcollab's worker pools (public, like ``distributed.utils_test``).

::

    from daskcollab.testing import pools_cluster, use_placement_plugin

    with pools_cluster([Pool("spot", 0.1), Pool("fast", 0.4, 2.0)], cost_model_path=tmp / "cm.json") as cluster, \\
            Client(cluster) as client:
        use_placement_plugin(client, mode="cheapest", cost_model_path=tmp / "fresh.json")  # a fresh ledger
        result = daskcollab.run(workflow, client)

:class:`StageKiller` kills (SIGKILL) or preempts (SIGTERM) the worker process running a given
stage's tasks, while a run goes on in the calling thread: the fault injection of the recovery
tests and ``benchmarks/bench_chaos.py``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


def stage_workers(dask_scheduler: Any, stage: str, key: str = "") -> list[str]:
    """Addresses of the workers processing a task of ``stage`` (by its ``collab`` annotation) whose key
    contains ``key`` (run on the scheduler)."""
    found = set()
    for ts in dask_scheduler.tasks.values():
        if ts.state == "processing" and ts.processing_on is not None and key in str(ts.key) \
                and ((ts.annotations or {}).get("collab") or {}).get("stage") == stage:
            found.add(ts.processing_on.address)
    return sorted(found)


class StageKiller:
    """Kill one worker process while each of ``stages`` runs (in order), from a background thread.

    For every stage name (``"stage"``, or ``"stage:text"``: only tasks whose key contains ``text``,
    e.g. ``"xgb:xgboost-rank"`` for the ranks of a training collective), wait until a task of that
    stage is processing, then send ``sig``
    (``SIGKILL``: the worker dies; ``SIGTERM``: it is told to stop, as on a preempted node) to the
    process of one worker running it, and go on with the next stage. ``killed`` lists
    ``(stage, worker address)`` per signal sent. ``before`` is called with that worker's address just
    before the signal (e.g. :func:`keep_down`, so that its nanny does not restart it: the worker is
    gone for good). Use as a context manager around ``daskcollab.run``.
    """

    def __init__(self, client: Any, stages: Sequence[str], sig: int = signal.SIGKILL, delay: float = 0.0,
                 before: Callable[[str], None] | None = None) -> None:
        self.client, self.stages, self.sig, self.delay, self.before = client, list(stages), sig, delay, before
        self.killed: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="daskcollab-stage-killer")

    def __enter__(self) -> StageKiller:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        for entry in self.stages:
            stage, _, key = entry.partition(":")
            while not self._stop.is_set():
                try:
                    workers = self.client.run_on_scheduler(stage_workers, stage=stage, key=key)
                    if workers and self.delay:
                        time.sleep(self.delay)
                        workers = self.client.run_on_scheduler(stage_workers, stage=stage, key=key) or workers
                    if workers:
                        pid = self.client.run(os.getpid, workers=[workers[-1]])[workers[-1]]
                        if self.before is not None:
                            self.before(workers[-1])
                        os.kill(pid, self.sig)
                        logging.getLogger("daskcollab.testing").warning(
                            "sent signal %d to worker %s (pid %d) during stage %r", self.sig, workers[-1], pid, stage)
                        self.killed.append((stage, workers[-1]))
                        break
                except Exception:  # the worker left between the two calls: look again
                    pass
                time.sleep(0.02)


def keep_down(cluster: Any) -> Callable[[str], None]:
    """For :class:`StageKiller`'s ``before``: stop the nanny of the worker at an address of
    ``cluster`` (a ``LocalCluster`` / ``SpecCluster`` of nannies in this process) from restarting it."""

    def before(address: str) -> None:
        for nanny in list(cluster.workers.values()):
            if getattr(nanny, "worker_address", None) == address:
                nanny.close_gracefully(reason="daskcollab.testing: the worker is to stay down")  # closes once its worker exits

    return before


def chaos_workflow(store: str | os.PathLike, out: str | os.PathLike, *, rounds: int = 60, name: str = "chaos",
                   params: Mapping[str, Any] | None = None) -> Any:
    """A workflow with every stage type the recovery tests and ``bench_chaos`` hit: a source (seeded
    row split), standardize, xgboost, logistic regression, a stacking blend (3 folds), evaluation and a
    sink writing ``blend``, ``xgb`` and ``logreg`` to ``out`` (overwrite)."""
    import daskcollab as dc

    src = dc.ZarrSource(store, name="src", split=dc.RowSplit(validation=0.25, test=0.25, seed=0))
    xgb = dc.XGBoostModel(src, name="xgb", params=dict(params or {"max_depth": 4, "eta": 0.3}), rounds=rounds)
    lin = dc.LinearModel(dc.Standardize(src, name="scaled"), name="logreg")
    blend = dc.Blend([xgb, lin], name="blend", method="stacking", folds=3)
    return dc.Workflow(name, [dc.Evaluate([xgb, lin, blend], name="eval"),
                              dc.ZarrSink([blend, xgb, lin], path=out, name="sink", overwrite=True)])
