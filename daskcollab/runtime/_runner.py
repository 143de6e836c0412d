"""``daskcollab.run``: submit a whole workflow on a given client or on an embedded LocalCluster."""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from distributed import Client, LocalCluster

from daskcollab import _config
from daskcollab._errors import BudgetError, ClusterError, UnplaceableError
from daskcollab._types import RunStatus, StageState
from daskcollab.compile import CompiledWorkflow
from daskcollab.placement import StartKind
from daskcollab.runtime import _remote
from daskcollab.runtime._executor import StageRun, execute
from daskcollab.runtime._preflight import preflight
from daskcollab.runtime._progress import Progress
from daskcollab.runtime._result import RunResult, library_versions
from daskcollab.runtime._resume import ResumeStore
from daskcollab.workflow import StageKind, Workflow

logger = logging.getLogger("daskcollab")


def run(
    workflow: Workflow | CompiledWorkflow,
    client: Client | None = None,
    *,
    progress: bool | None = None,
    concurrency: int | None = None,
    run_id: str | None = None,
    recompute: bool = False,
) -> RunResult:
    """Run ``workflow`` and return its :class:`RunResult`.

    The whole workflow reaches the scheduler as one run: its stage graph (stages, edges, resources,
    pools, cost hints, budget, deadline) first, so the placement plugin plans every stage at once;
    then every stage as soon as its inputs are submitted, each in its own thread, so stages with
    no path between them run side by side (see :mod:`daskcollab.runtime._executor` for the few
    points where a stage waits for values).

    Parameters
    ----------
    workflow
        A :class:`Workflow` (compiled here) or an already compiled one.
    client
        A connected ``distributed.Client``. ``None`` starts an embedded ``LocalCluster``
        (worker processes, one thread each; see the ``collab.local-cluster`` config) and
        closes it when the run ends.
    progress
        Show a live line of running stages on stderr (only when stderr is a terminal); defaults to
        config ``collab.progress``. Stage start/end lines always go to the ``daskcollab`` logger.
    concurrency
        How many stages may run at once (config ``collab.concurrency``; default: no limit).
        ``1`` runs stage after stage, each finished before the next starts.
    run_id
        Identifies the run on the scheduler (its plan and ledger); default ``<workflow>-<random>``.
    recompute
        Reuse no stage of an earlier run (see config ``collab.resume``: by default the trained
        models and written stores of a run that did not finish are reused when the same workflow
        runs again with unchanged inputs; :attr:`RunResult.reused` lists them).

    Raises
    ------
    UnplaceableError
        Before anything runs, when a stage can never run on this cluster.
    BudgetError
        With ``collab.placement.on-budget-miss: fail``: before anything runs when the run's plan
        misses its budget or deadline, or while it runs when the money spent exceeds the budget.

    Examples
    --------
    >>> result = daskcollab.run(workflow)  # doctest: +SKIP
    >>> print(result.table())  # doctest: +SKIP
    """
    compiled = workflow.compile() if isinstance(workflow, Workflow) else workflow
    show = bool(_config.get("progress", progress))
    limit = _config.get("concurrency", concurrency)
    run_id = run_id or f"{compiled.workflow.name}-{uuid.uuid4().hex[:8]}"
    started_at = time.time()
    with _client(client) as c:
        check = preflight(c, compiled)
        remote = _Remote(c, run_id, check.remote)
        answer = remote.start(compiled)
        warnings = [*check.warnings, *answer.get("warnings", [])]
        status = RunStatus.FAILED
        start = time.perf_counter()
        display = Progress(len(compiled.steps), enabled=show)
        resume = ResumeStore(compiled.workflow.name, recompute=recompute)
        resume.begin(run_id)
        try:
            with display:
                runs = execute(compiled, c, run_id=run_id, concurrency=limit, show_progress=show, resume=resume,
                               on_change=lambda r, state: (display(r, state), remote.stage_event(r, state)))
            status = RunStatus.DONE
            resume.finish(status.value)
        except BaseException as exc:
            resume.finish(RunStatus.FAILED.value)
            remote.cancel(f"run {run_id} was cancelled after an error: {type(exc).__name__}: {exc}"[:2000])
            ledger = remote.finish(status.value)
            if ledger and ledger.get("status") == RunStatus.OVER_BUDGET and not isinstance(exc, BudgetError):
                # the plugin erred the run's tasks for its budget; libraries may re-raise that as their own error
                raise BudgetError(ledger["alerts"][-1]) from exc
            raise
        makespan = time.perf_counter() - start
        outcome = _outcome(runs)
        ledger = remote.finish(status.value, {k: outcome[k] for k in ("metrics", "weights", "blends")})
    return _result(compiled, outcome, runs, run_id=run_id, plan=answer.get("plan"), ledger=ledger,
                   makespan=makespan, started_at=started_at, warnings=warnings)


class _Remote:
    """The run's calls to the scheduler (no-ops when daskcollab is not importable there)."""

    #: The stage states the scheduler hears of (``submitted`` is the client's own).
    REPORTED = frozenset({StageState.RUNNING, StageState.DONE, StageState.FAILED, StageState.REUSED})

    def __init__(self, client: Client, run_id: str, enabled: bool) -> None:
        self.client, self.run_id, self.enabled = client, run_id, enabled

    def start(self, compiled: CompiledWorkflow) -> dict[str, Any]:
        if not self.enabled:
            return {}
        answer = self.client.run_on_scheduler(_remote.start_run, compiled.run_spec(self.run_id).to_dict())
        if "error" in answer:
            cls = BudgetError if answer.get("kind") == StartKind.BUDGET else UnplaceableError
            raise cls(answer["error"])
        return answer

    def stage_event(self, run: StageRun, new: StageState) -> None:
        state = StageState(new).value
        if self.enabled and new in self.REPORTED:
            try:
                self.client.run_on_scheduler(_remote.stage_event, self.run_id, run.name, state)
            except Exception as exc:  # reporting must never break the run
                logger.debug("stage event %s/%s not delivered: %r", run.name, state, exc)

    def cancel(self, reason: str) -> None:
        if self.enabled:
            try:
                self.client.run_on_scheduler(_remote.cancel_run, self.run_id, reason)
            except Exception as exc:  # the cluster may be gone after a failure
                logger.debug("run %s not cancelled on the scheduler: %r", self.run_id, exc)

    def finish(self, status: str, outcome: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        try:
            return self.client.run_on_scheduler(_remote.finish_run, self.run_id, status, outcome)
        except Exception as exc:  # the cluster may be gone after a failure
            logger.debug("run %s not closed on the scheduler: %r", self.run_id, exc)
            return None


def _outcome(runs: Mapping[str, StageRun]) -> dict[str, Any]:
    """What the stages produced: metrics, blend weights and methods, model details, outputs, timings."""
    out: dict[str, dict[str, Any]] = {k: {} for k in ("metrics", "weights", "blends", "models", "outputs", "timings")}
    for name, r in runs.items():
        stage, output = r.step.stage, r.output
        out["timings"][name] = round(r.seconds or 0.0, 3)
        if stage.kind is StageKind.EVALUATE:
            out["metrics"].update(output)
        elif stage.kind is StageKind.MODEL:
            out["models"][name] = dict(output.details)
        elif stage.kind is StageKind.ENSEMBLE:
            out["weights"][name] = dict(output.details.get("weights", {}))
            out["blends"][name] = {k: v for k, v in output.details.items() if k != "weights"}
        elif stage.kind is StageKind.SINK:
            out["outputs"][name] = os.path.abspath(str(output))
    return out


def _result(compiled: CompiledWorkflow, outcome: Mapping[str, Any], runs: Mapping[str, StageRun], *, run_id: str,
            plan: Any, ledger: Mapping[str, Any] | None, makespan: float, started_at: float,
            warnings: list[str]) -> RunResult:
    cost: dict[str, Any] = {}
    if ledger:
        cost = {"busy": ledger["cost_busy"], "held": ledger["cost_held"],
                "busy_by_pool": ledger["cost_busy_by_pool"], "held_by_pool": ledger["cost_held_by_pool"],
                "startup": ledger.get("cost_startup", 0.0), "startup_by_pool": ledger.get("cost_startup_by_pool", {}),
                "held_seconds_by_pool": ledger.get("held_seconds_by_pool", {}),
                "busy_by_stage": {s: v["cost_busy"] for s, v in ledger["stages"].items()},
                "held_by_stage": {s: v["cost_held"] for s, v in ledger["stages"].items()},
                "held_spot": ledger.get("cost_held_spot", 0.0), "held_on_demand": ledger.get("cost_held_on_demand", 0.0),
                "deadline_margin": ledger.get("deadline_margin"),
                "over_budget": ledger["over_budget"]}
        warnings = [*warnings, *(a for a in ledger.get("alerts", []) if a not in warnings)]
    recoveries = {name: tuple(loss.describe() for loss in r.losses) for name, r in runs.items() if r.losses}
    warnings = [*warnings, *(f"stage {name!r} recovered: {line}" for name, lines in recoveries.items() for line in lines)]
    return RunResult(
        compiled.workflow.name, outcome["metrics"], outcome["weights"], outcome["blends"], outcome["models"],
        outcome["timings"], outcome["outputs"],
        placements=dict(ledger or {}), run_id=run_id, plan=plan or {}, cost=cost, makespan_s=round(makespan, 3),
        started_at=started_at, finished_at=time.time(), warnings=tuple(warnings),
        stage_states={name: r.state.value for name, r in runs.items()}, recoveries=recoveries,
        versions=library_versions(),
        graph={step.stage.name: {"kind": step.stage.kind.value, "inputs": list(step.inputs)} for step in compiled.steps},
    )


def connect(address: str, timeout: float | str | None = None) -> Client:
    """A ``Client`` of the scheduler at ``address``; :class:`~daskcollab.ClusterError` when it cannot
    be reached or does not answer (TCP connect and Dask handshake) within ``timeout`` (config
    ``collab.connect-timeout``, default 5 s), instead of a long untyped ``OSError`` or a hang."""
    import threading

    import dask

    limit = float(dask.utils.parse_timedelta(_config.get("connect-timeout", timeout)))
    made: dict[str, Any] = {}

    def make() -> None:  # Client's own timeout does not bound a scheduler that accepts and never answers
        try:
            with dask.config.set({"distributed.comm.timeouts.connect": limit}):
                made["client"] = Client(address, timeout=limit)
        except BaseException as exc:  # noqa: BLE001 - reported below
            made["error"] = exc

    thread = threading.Thread(target=make, daemon=True, name="daskcollab-connect")
    thread.start()
    thread.join(limit + 1.0)
    if "client" in made:
        return made["client"]
    error = made.get("error")
    if error is not None and not isinstance(error, (OSError, TimeoutError)):
        raise error
    raise ClusterError(
        f"scheduler, field 'address': no Dask scheduler answered at {address!r} within {limit:g} s "
        f"({type(error).__name__ if error else 'no handshake'}). Fix: start the scheduler (`dask scheduler`) or "
        "correct the address; on a slow network raise config collab.connect-timeout")


@contextlib.contextmanager
def _client(client: Client | None) -> Iterator[Client]:
    if client is not None:
        _install_page(client)
        yield client
        return
    from daskcollab._logging import quiet_close

    quiet_close()  # the nanny's "still alive, killing" when this embedded cluster closes
    with local_cluster() as cluster, Client(cluster) as c:
        _install_page(c)
        yield c


def _install_page(client: Client) -> None:
    """Add the daskcollab page to the scheduler's dashboard (needs daskcollab on the scheduler)."""
    from daskcollab.dashboard import dashboard_url

    try:
        client.run_on_scheduler(_install_on_scheduler)
    except Exception as exc:  # e.g. daskcollab not importable on a remote scheduler
        logger.warning("daskcollab dashboard page not installed on the scheduler: %s", exc)
        return
    url = dashboard_url(client)
    if url:
        logger.info("Dask dashboard: %s  daskcollab page: %s", client.dashboard_link, url)


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
