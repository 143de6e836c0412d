"""Run a compiled workflow's stages side by side: each in its own thread, as soon as its inputs exist.

A stage *starts* when every input stage has returned its output (its Dask work submitted, not
necessarily finished), so later stages chain onto earlier ones' futures and the scheduler sees the
work of every started stage at once. A stage is *done* when its ``run`` returned and every future
it persisted finished. Stages with no path between them run at the same time; ``concurrency``
bounds how many run at once, and ``concurrency=1`` is the old stage-by-stage order (each stage
done before the next starts).

Where a stage's thread blocks (the few places the client needs a value): a source's label check,
fitted preprocessing statistics, model training (``xgboost.dask.train``, dask-ml fits), blend
weights (validation or out-of-fold predictions), evaluation metrics, and a sink's write. Each
blocks only its own stage.

A stage whose work is lost (a worker died or was preempted under it; see
:mod:`daskcollab._recovery`) is retried as a unit while its budget allows: once its input
stages have settled (they may be re-running the tasks it lost), its erred tasks run again in place
when it had returned its output, else its ``run`` runs again (on the last-attempt pool for the last
attempt, if configured). Recoveries are logged and listed in the run's warnings.

When a stage fails, no new stage starts; the error reported is that of the earliest failed stage
in dependency order (a downstream stage fails too when an input's tasks err), and the run's
remaining futures are cancelled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dask
from distributed import Client, span, wait
from distributed.client import FutureCancelledError

from daskcollab._context import StageContext, reset_context, set_context
from daskcollab._contract import ANNOTATION_KEY
from daskcollab._errors import RecoveryError, RunCancelledError
from daskcollab._recovery import Loss, budget_for, classify, loss_of, preempted_workers, reset_budget, set_budget
from daskcollab._types import StageState
from daskcollab.compile import CompiledStage, CompiledWorkflow
from daskcollab.runtime._resume import ResumeStore

logger = logging.getLogger("daskcollab")

#: After the first failure, how long to wait for the failed stage's inputs to report their own
#: failure (the usual root cause) before cancelling the run.
ROOT_CAUSE_GRACE_S = 2.0
#: How long a run given up waits for its stages' threads to stop (an xgboost collective cancels its
#: ranks and frees its worker locks) before it raises, so the next run finds the workers free.
GIVE_UP_JOIN_S = 10.0


@dataclass
class StageRun:
    """One stage's state in a run (read by the progress display and the result)."""

    step: CompiledStage
    state: StageState = StageState.PENDING
    output: Any = None
    error: BaseException | None = None
    started: float | None = None
    finished: float | None = None
    ctx: StageContext | None = None
    thread: threading.Thread | None = field(default=None, repr=False)
    recoveries: list[str] = field(default_factory=list)  # one line per loss the stage recovered from
    losses: list[Loss] = field(default_factory=list)  # every loss it recovered from (collectives' too)
    reused: bool = False  # rebuilt from what an earlier run kept

    @property
    def name(self) -> str:
        return self.step.stage.name

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.perf_counter()) - self.started


#: Called with a stage and its new state, before the state is set (so a listener is never late).
Listener = Callable[[StageRun, "StageState"], None]


def execute(
    compiled: CompiledWorkflow,
    client: Client,
    *,
    run_id: str,
    concurrency: int | None = None,
    on_change: Listener | None = None,
    show_progress: bool = False,
    resume: ResumeStore | None = None,
) -> dict[str, StageRun]:
    """Run every stage of ``compiled``; return ``{stage: StageRun}`` (outputs, timings, states).

    With ``resume``, a stage an earlier run kept (:mod:`daskcollab.runtime._resume`) is rebuilt from
    it and ends ``REUSED``; a finished model or sink stage is kept for later runs.

    Raises the root-cause error of the earliest failed stage (see the module docstring).
    """
    runs = {step.stage.name: StageRun(step) for step in compiled.steps}
    cond = threading.Condition()
    limit = max(1, int(concurrency)) if concurrency else len(runs) or 1

    def changed(run: StageRun, state: StageState) -> None:
        # report first, then let the main thread see the state: when it sees every stage done, every
        # listener (e.g. the scheduler's stage states) has heard of it
        if on_change is not None:
            on_change(run, state)
        with cond:
            run.state = state
            cond.notify_all()

    def body(run: StageRun) -> None:
        step = run.step
        budget = budget_for(step.stage)
        token = set_budget(budget)
        pool: str | None = None  # the pool of a last attempt (collab.recovery.last-attempt-pool)
        since = time.time()
        try:
            submitted = False
            while True:
                try:
                    if not submitted:
                        _attempt(run, pool)
                        submitted = True
                        changed(run, StageState.SUBMITTED)
                    _wait_stage(run)
                    break
                except BaseException as exc:
                    loss = loss_of(exc)
                    if loss is None:
                        raise
                    if not _inputs_settled(run):
                        raise  # an input stage failed for good: this stage cannot recover
                    loss = classify(loss, preempted_workers(client, since))
                    try:
                        pool = budget.admit(loss)
                    except RecoveryError as err:
                        raise err from exc
                    message = (f"stage {run.name!r}: {loss.describe()}; retrying (attempt {budget.attempt}"
                               + (f", on pool {pool!r}" if pool else "") + ")")
                    logger.warning("%s", message)
                    run.recoveries.append(message)
                    erred = [f for f in (run.ctx.futures if run.ctx else ()) if f.status == "error"]
                    if submitted and _retry_in_place(client, erred, run):
                        continue  # the stage's output stays valid: its lost tasks run again
                    submitted = False
            if resume is not None and not run.reused:
                resume.keep(step.stage, run.output)
            run.losses = list(budget.losses)
            run.finished = time.perf_counter()
            changed(run, StageState.REUSED if run.reused else StageState.DONE)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            run.error = exc
            run.finished = time.perf_counter()
            changed(run, StageState.FAILED)
        finally:
            reset_budget(token)

    def _attempt(run: StageRun, pool: str | None) -> None:
        step = run.step
        inputs = [runs[name].output for name in step.inputs]
        run.ctx = StageContext(client, compiled.workflow.name, run.name, show_progress, run_id)
        annotations = step.annotations(run_id)
        if pool is not None:
            annotations[ANNOTATION_KEY] = {**annotations[ANNOTATION_KEY], "pool": pool}
        token = set_context(run.ctx)
        try:
            # a Dask span per stage: Dask's own per-stage instrumentation (Fine Performance Metrics page)
            with dask.annotate(**annotations), span("daskcollab", run_id, run.name), client.as_current():
                reused = resume.reuse(step.stage, run.ctx, inputs) if resume is not None else None
                run.reused = reused is not None
                run.output = reused if reused is not None else step.stage.run(run.ctx, *inputs)
        finally:
            reset_context(token)

    def _inputs_settled(run: StageRun) -> bool:
        """Wait until no input stage is still computing (it may be retrying the tasks this stage
        lost); False when one of them failed."""
        upstream = _upstream(runs, run)
        with cond:
            while any(runs[n].state in (StageState.RUNNING, StageState.SUBMITTED) for n in upstream):
                cond.wait(timeout=0.25)
            return not any(runs[n].state is StageState.FAILED for n in upstream)

    def startable(run: StageRun) -> bool:
        if run.state is not StageState.PENDING:
            return False
        if any(runs[name].state not in (StageState.SUBMITTED, StageState.DONE, StageState.REUSED)
               for name in run.step.inputs):
            return False
        active = [r for r in runs.values() if r.state in (StageState.RUNNING, StageState.SUBMITTED)]
        return len(active) < limit

    failed_at: float | None = None
    try:
        with cond:
            while True:
                failed = [r for r in runs.values() if r.state is StageState.FAILED]
                if failed and failed_at is None:
                    failed_at = time.monotonic()
                if failed:
                    if _root_known(runs, failed) or time.monotonic() - failed_at > ROOT_CAUSE_GRACE_S:
                        break
                elif all(r.state in (StageState.DONE, StageState.REUSED) for r in runs.values()):
                    break
                else:
                    for run in runs.values():
                        if startable(run):
                            run.state = StageState.RUNNING
                            run.started = time.perf_counter()
                            if on_change is not None:
                                cond.release()
                                try:
                                    on_change(run, StageState.RUNNING)
                                finally:
                                    cond.acquire()
                            run.thread = threading.Thread(target=body, args=(run,), daemon=True,
                                                          name=f"daskcollab-stage-{run.name}")
                            run.thread.start()
                cond.wait(timeout=0.25)
    except BaseException:
        _cancel(client, runs)
        raise
    failed = [r for r in runs.values() if r.state is StageState.FAILED]
    if failed:
        _cancel(client, runs)
        raise _root(runs, failed).error
    return runs


def _wait_stage(run: StageRun) -> None:
    """Wait for every future the stage persisted; raise a task's own error in this stage."""
    ctx = run.ctx
    if ctx is None or not ctx.futures:
        return
    wait(ctx.futures)
    for future in ctx.futures:
        if future.status == "error":
            future.result()  # raise the task's own exception, in this stage
        if future.status == "cancelled":
            raise FutureCancelledError(future.key, reason=f"stage {run.name!r} was cancelled")


def _retry_in_place(client: Client, erred: list[Any], run: StageRun) -> bool:
    """Ask Dask to run a stage's erred tasks again (their erred inputs too); False if it cannot."""
    if not erred:
        return False
    try:
        client.retry(erred)
    except Exception as exc:  # e.g. a key already released: run the stage again instead
        logger.debug("stage %s: retrying erred tasks in place failed (%r); running the stage again", run.name, exc)
        return False
    return True


def _upstream(runs: Mapping[str, StageRun], run: StageRun) -> set[str]:
    upstream, todo = set(), list(run.step.inputs)
    while todo:
        name = todo.pop()
        if name not in upstream:
            upstream.add(name)
            todo.extend(runs[name].step.inputs)
    return upstream


def _root(runs: Mapping[str, StageRun], failed: list[StageRun]) -> StageRun:
    """The failed stage earliest in dependency order whose error is not a cancellation."""
    order = list(runs)
    real = [r for r in failed if not isinstance(r.error, (FutureCancelledError, RunCancelledError, KeyboardInterrupt))] or failed
    return min(real, key=lambda r: order.index(r.name))


def _root_known(runs: Mapping[str, StageRun], failed: list[StageRun]) -> bool:
    """True when no input stage of the earliest failure is still computing (it cannot be to blame)."""
    root = _root(runs, failed)
    upstream = _upstream(runs, root)
    return not any(runs[name].state in (StageState.RUNNING, StageState.SUBMITTED) for name in upstream)


def _cancel(client: Client, runs: Mapping[str, StageRun]) -> None:
    """Give the run up: every stage's client-side work is told to stop (``given_up``), every
    future its stages submitted is cancelled."""
    for r in runs.values():
        if r.ctx is not None:
            r.ctx.given_up.set()
    futures = [f for r in runs.values() if r.ctx is not None for f in r.ctx.futures if not f.done()]
    if futures:
        try:
            client.cancel(futures)
        except Exception:  # the cluster may be going away; nothing more to release
            pass
    deadline = time.monotonic() + GIVE_UP_JOIN_S
    for r in runs.values():
        if r.thread is not None and r.thread is not threading.current_thread():
            r.thread.join(max(deadline - time.monotonic(), 0.0))
