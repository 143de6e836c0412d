"""``daskcollab.run``: run a workflow on a given client or on an embedded LocalCluster."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from distributed import Client, LocalCluster

from daskcollab import _config
from daskcollab._result import RunResult
from daskcollab.compile import CompiledStage, CompiledWorkflow
from daskcollab.workflow._stage import StageKind
from daskcollab.workflow._workflow import Workflow


def run(
    workflow: Workflow | CompiledWorkflow,
    client: Client | None = None,
    *,
    progress: bool | None = None,
) -> RunResult:
    """Run ``workflow`` and return its :class:`RunResult`.

    Parameters
    ----------
    workflow
        A :class:`Workflow` (compiled here) or an already compiled one.
    client
        A connected ``distributed.Client``. ``None`` starts an embedded ``LocalCluster``
        (worker processes, one thread each; see the ``collab.local-cluster`` config) and
        closes it when the run ends.
    progress
        Print stage lines and progress bars; defaults to config ``collab.progress``.

    Examples
    --------
    >>> result = daskcollab.run(workflow)  # doctest: +SKIP
    >>> print(result.table())  # doctest: +SKIP
    """
    compiled = workflow.compile() if isinstance(workflow, Workflow) else workflow
    show = bool(_config.get("progress", progress))
    metrics: dict[str, Any] = {}
    weights: dict[str, Any] = {}
    blends: dict[str, Any] = {}
    models: dict[str, Any] = {}
    timings: dict[str, float] = {}
    outputs: dict[str, str] = {}

    def record(step: CompiledStage, output: Any, seconds: float) -> None:
        stage = step.stage
        timings[stage.name] = round(seconds, 3)
        if stage.kind is StageKind.EVALUATE:
            metrics.update(output)
        elif stage.kind is StageKind.MODEL:
            models[stage.name] = dict(output.details)
        elif stage.kind is StageKind.ENSEMBLE:
            weights[stage.name] = dict(output.details.get("weights", {}))
            blends[stage.name] = {k: v for k, v in output.details.items() if k != "weights"}
        elif stage.kind is StageKind.SINK:
            outputs[stage.name] = str(output)

    with _client(client, show) as c:
        compiled.run(c, show_progress=show, on_stage_done=record)
    return RunResult(compiled.workflow.name, metrics, weights, blends, models, timings, outputs)


@contextlib.contextmanager
def _client(client: Client | None, show: bool) -> Iterator[Client]:
    if client is not None:
        _install_page(client, show)
        yield client
        return
    with local_cluster() as cluster, Client(cluster) as c:
        _install_page(c, show)
        yield c


def _install_page(client: Client, show: bool) -> None:
    """Add the daskcollab page to the scheduler's dashboard (needs daskcollab on the scheduler)."""
    from daskcollab.dashboard import dashboard_url

    try:
        client.run_on_scheduler(_install_on_scheduler)
    except Exception as exc:  # e.g. daskcollab not importable on a remote scheduler
        if show:
            print(f"(daskcollab dashboard page not installed on the scheduler: {exc})", flush=True)
        return
    url = dashboard_url(client)
    if show and url:
        print(f"Dask dashboard: {client.dashboard_link}  daskcollab page: {url}", flush=True)


def _install_on_scheduler(dask_scheduler) -> str:
    from daskcollab.dashboard import install_dashboard

    return install_dashboard(dask_scheduler)


def local_cluster(**overrides: Any) -> LocalCluster:
    """The embedded LocalCluster: worker processes sized from the ``collab.local-cluster`` config.

    Examples
    --------
    >>> with local_cluster(n_workers=2) as cluster:  # doctest: +SKIP
    ...     print(len(cluster.workers))
    2
    """
    n_workers = _config.get("local-cluster.n-workers", overrides.pop("n_workers", None))
    if n_workers is None:
        n_workers = max(2, os.cpu_count() or 2)
    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=_config.get("local-cluster.threads-per-worker", overrides.pop("threads_per_worker", None)),
        memory_limit=_config.get("local-cluster.memory-limit", overrides.pop("memory_limit", None)),
        dashboard_address=overrides.pop("dashboard_address", _config.get("local-cluster.dashboard-address")),
        processes=True,
        **overrides,
    )
