"""Checks before a run submits anything: can every stage ever run here, with the one feasibility rule."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from distributed import Client

from daskcollab._errors import UnplaceableError, stage_message
from daskcollab.compile import CompiledWorkflow
from daskcollab.models import check_worker_memory
from daskcollab.placement import Pool, Verdict, feasibility, unplaceable_message, unpooled_workers
from daskcollab.runtime import _remote

logger = logging.getLogger("daskcollab")


@dataclass
class Preflight:
    """What the runner learned about the scheduler before the run."""

    remote: bool  # daskcollab is importable on the scheduler (plan, ledger, dashboard page)
    placement: bool  # the placement plugin runs there
    warnings: list[str] = field(default_factory=list)


def preflight(client: Client, compiled: CompiledWorkflow) -> Preflight:
    """Refuse, before anything is submitted, a stage no current or declared pool (or worker) can run.

    A stage only a declared pool without workers can run passes: it waits for that pool's workers
    (bounded by ``collab.placement.no-worker-timeout``).

    Raises
    ------
    UnplaceableError
        Naming the stage, what it requests and what the pools/workers offer; or a stage that names
        a ``pool`` on a scheduler without the placement plugin.
    """
    check_worker_memory(client)
    try:
        view: dict[str, Any] = client.run_on_scheduler(_remote.scheduler_view)
        remote = True
    except Exception as exc:  # daskcollab not importable on a remote scheduler
        logger.warning("daskcollab is not importable on the scheduler (%s): no placement plan, ledger or "
                       "dashboard page for this run", exc)
        workers = client.scheduler_info(n_workers=-1)["workers"]
        view = {"placement": False, "workers": {a: dict(w.get("resources") or {}) for a, w in workers.items()}}
        remote = False
    result = Preflight(remote, bool(view.get("placement")))
    if result.placement:
        live = [Pool(**p) for p in view["live"]] + [Pool(**p) for p in view["unpooled"]]
        declared = [Pool(**p) for p in view["declared"]]
    else:
        live, declared = unpooled_workers(view["workers"]), []
    for step in compiled.steps:
        stage = step.stage
        if stage.pool is not None and not result.placement:
            raise UnplaceableError(stage_message(
                stage.name, "pool", f"names pool {stage.pool!r}, but the scheduler runs no placement plugin, so no "
                                    "worker belongs to a pool",
                "start the scheduler with --preload daskcollab.deploy.scheduler (or the cluster with "
                "daskcollab.deploy.start_local_pools), or remove pool= from the stage",
            ))
        if not live and not declared:
            continue  # no worker yet: nothing to decide (Dask waits for workers)
        verdict = feasibility(stage.resources, stage.pool, live, declared)
        if verdict.verdict is Verdict.NEVER:
            raise UnplaceableError(unplaceable_message(stage.name, stage.resources, stage.pool, verdict.missing,
                                                       [*live, *declared]))
        if verdict.verdict is Verdict.LATER:
            logger.info("stage %s waits for a worker of pool(s) %s", stage.name, ", ".join(verdict.pools))
    wf = compiled.workflow
    if (wf.budget is not None or wf.deadline is not None) and not result.placement:
        result.warnings.append(
            f"workflow {wf.name!r}: budget/deadline not enforced: the scheduler runs no placement plugin, so no "
            "worker has a price. Fix: run on pools (daskcollab.deploy.start_local_pools or "
            "dask scheduler --preload daskcollab.deploy.scheduler)"
        )
        logger.warning("%s", result.warnings[-1])
    return result
