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

When a stage fails, no new stage starts; the error reported is that of the earliest failed stage
in dependency order (a downstream stage fails too when an input's tasks err), and the run's
remaining futures are cancelled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import dask
from distributed import Client, span, wait
from distributed.client import FutureCancelledError

from daskcollab._errors import RunCancelledError
from daskcollab.compile import CompiledStage, CompiledWorkflow
from daskcollab.runtime._context import StageContext

#: After the first failure, how long to wait for the failed stage's inputs to report their own
#: failure (the usual root cause) before cancelling the run.
ROOT_CAUSE_GRACE_S = 2.0


class StageState(str, Enum):
    PENDING = "pending"
    RUNNING = "running"  # its run() is submitting / blocking
    SUBMITTED = "submitted"  # run() returned; its futures are computing (the output exists)
    DONE = "done"
    FAILED = "failed"
    REUSED = "reused"


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
) -> dict[str, StageRun]:
    """Run every stage of ``compiled``; return ``{stage: StageRun}`` (outputs, timings, states).

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
        try:
            inputs = [runs[name].output for name in step.inputs]
            run.ctx = ctx = StageContext(client, compiled.workflow.name, run.name, show_progress, run_id)
            # a Dask span per stage: Dask's own per-stage instrumentation (Fine Performance Metrics page)
            with dask.annotate(**step.annotations(run_id)), span("daskcollab", run_id, run.name), client.as_current():
                output = step.stage.run(ctx, *inputs)
            run.output = output
            changed(run, StageState.SUBMITTED)
            if ctx.futures:
                wait(ctx.futures)
                for future in ctx.futures:
                    if future.status == "error":
                        future.result()  # raise the task's own exception, in this stage
                    if future.status == "cancelled":
                        raise FutureCancelledError(future.key, reason=f"stage {run.name!r} was cancelled")
            run.finished = time.perf_counter()
            changed(run, StageState.DONE)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            run.error = exc
            run.finished = time.perf_counter()
            changed(run, StageState.FAILED)

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


def _root(runs: Mapping[str, StageRun], failed: list[StageRun]) -> StageRun:
    """The failed stage earliest in dependency order whose error is not a cancellation."""
    order = list(runs)
    real = [r for r in failed if not isinstance(r.error, (FutureCancelledError, RunCancelledError, KeyboardInterrupt))] or failed
    return min(real, key=lambda r: order.index(r.name))


def _root_known(runs: Mapping[str, StageRun], failed: list[StageRun]) -> bool:
    """True when no input stage of the earliest failure is still computing (it cannot be to blame)."""
    root = _root(runs, failed)
    upstream, todo = set(), list(root.step.inputs)
    while todo:
        name = todo.pop()
        if name not in upstream:
            upstream.add(name)
            todo.extend(runs[name].step.inputs)
    return not any(runs[name].state in (StageState.RUNNING, StageState.SUBMITTED) for name in upstream)


def _cancel(client: Client, runs: Mapping[str, StageRun]) -> None:
    futures = [f for r in runs.values() if r.ctx is not None for f in r.ctx.futures if not f.done()]
    if futures:
        try:
            client.cancel(futures)
        except Exception:  # the cluster may be going away; nothing more to release
            pass
