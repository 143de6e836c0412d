"""Stage-level recovery: which failures are lost work, how many attempts a stage gets, what to say.

A stage's work is *lost* when a worker under it went away: Dask's ``KilledWorker`` (a task's
workers died ``allowed-failures`` times), ``FutureCancelledError ... lost dependencies`` (data
without lineage was on a dead worker), xgboost.dask's "Missing required workers" / "Resilience
is not yet supported", or a :class:`LostWork` raised by daskcollab's own collective training.
Such a stage is retried as a unit (see :mod:`daskcollab.runtime._executor`); anything else (a
``DataError``, a bug) fails the stage at once.

Two budgets, counted apart (the Flyte semantics): ``retries`` for workers that died (the stage's
``retries``, else ``collab.recovery.retries``) and ``collab.recovery.preemptions`` for workers
that were *preempted* (they logged a preemption event before retiring, see
:mod:`daskcollab.deploy.worker`). The attempt after which one more loss of that kind would fail
the stage is its *last*; with ``collab.recovery.last-attempt-pool`` set, it runs on that pool.

The budget is plain data (:class:`RecoveryBudget`, tested without a cluster). The runner hands
each stage's budget to code running in the stage's thread through :func:`current_budget` (a
context variable, like ``dask.annotate``), so a collective trainer retrying internally spends the
same budget.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from daskcollab import _config
from daskcollab._contract import PREEMPTION_TOPIC
from daskcollab._errors import DaskCollabError, RecoveryError, stage_message

logger = logging.getLogger("daskcollab")



class LossKind(str, Enum):
    """Why a stage lost work."""

    WORKER_LOST = "worker-lost"  # the worker died (crash, OOM kill, SIGKILL, node gone)
    PREEMPTED = "preempted"  # the worker was told to stop (SIGTERM) and retired


@dataclass(frozen=True)
class Loss:
    """One loss of work: its kind, the workers involved (addresses, when known) and what happened."""

    kind: LossKind
    workers: tuple[str, ...] = ()
    detail: str = ""

    def describe(self) -> str:
        who = ", ".join(self.workers) if self.workers else "a worker"
        verb = "was preempted" if self.kind is LossKind.PREEMPTED else "was lost"
        return f"{who} {verb}" + (f" ({self.detail})" if self.detail else "")


class LostWork(DaskCollabError, RuntimeError):
    """Raised by code in a stage's thread that saw its work lost (e.g. a collective's worker died);
    the executor retries the stage if its budget allows."""

    def __init__(self, loss: Loss) -> None:
        super().__init__(loss.describe())
        self.loss = loss

    def __reduce__(self):  # picklable across processes with its loss
        return self.__class__, (self.loss,)


@dataclass
class RecoveryBudget:
    """The attempts one stage may still make after lost work (pure).

    Examples
    --------
    >>> b = RecoveryBudget("xgb", retries=1, preemptions=1, last_attempt_pool="on-demand")
    >>> b.admit(Loss(LossKind.PREEMPTED, ("tcp://a:1",)))  # the next attempt is the last for preemptions
    'on-demand'
    >>> b.admit(Loss(LossKind.WORKER_LOST, ("tcp://b:1",)))
    'on-demand'
    >>> b.admit(Loss(LossKind.WORKER_LOST, ("tcp://c:1",)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    daskcollab._errors.RecoveryError: stage 'xgb', field 'retries': ...
    """

    stage: str
    retries: int
    preemptions: int
    last_attempt_pool: str | None = None
    losses: list[Loss] = field(default_factory=list)

    def limit(self, kind: LossKind) -> int:
        return self.preemptions if kind is LossKind.PREEMPTED else self.retries

    def used(self, kind: LossKind) -> int:
        return sum(1 for loss in self.losses if loss.kind is kind)

    @property
    def attempt(self) -> int:
        """The current attempt, 1-based (1 + losses admitted so far)."""
        return 1 + len(self.losses)

    def admit(self, loss: Loss) -> str | None:
        """Count ``loss``; return the pool the next attempt must run on (None: the stage's own).

        Raises
        ------
        RecoveryError
            The budget of ``loss.kind`` is spent: the message names the lost worker(s) and what to do.
        """
        if self.used(loss.kind) >= self.limit(loss.kind):
            raise RecoveryError(exhausted_message(self, loss))
        self.losses.append(loss)
        last = self.used(loss.kind) >= self.limit(loss.kind)
        return self.last_attempt_pool if last else None

    def summary(self) -> str:
        kinds = ", ".join(f"{k.value}: {self.used(k)} of {self.limit(k)}" for k in LossKind)
        return f"stage {self.stage!r} recovered from {len(self.losses)} loss(es) ({kinds})"


def exhausted_message(budget: RecoveryBudget, loss: Loss) -> str:
    """The error of a stage that lost work once more than its budget allows."""
    kind = loss.kind
    field_name = "retries" if kind is LossKind.WORKER_LOST else "collab.recovery.preemptions"
    history = "; ".join(f"attempt {i + 1}: {past.describe()}" for i, past in enumerate(budget.losses))
    spent = f"its {kind.value} budget of {budget.limit(kind)} attempt(s) is spent"
    fix = (f"raise retries= on stage {budget.stage!r} (or config collab.recovery.retries)"
           if kind is LossKind.WORKER_LOST else "raise config collab.recovery.preemptions")
    return stage_message(
        budget.stage, field_name,
        f"lost work again: {loss.describe()}; {spent}" + (f" ({history})" if history else ""),
        f"{fix}, or run it on steadier workers (config collab.recovery.last-attempt-pool: an on-demand pool); "
        "run the workflow again and its finished stages are reused",
    )


def budget_for(stage: Any) -> RecoveryBudget:
    """The budget of a stage: its ``retries`` (else config), config preemptions and last-attempt pool."""
    retries = stage.retries if getattr(stage, "retries", None) is not None else _config.get("recovery.retries")
    return RecoveryBudget(str(stage.name), int(retries), int(_config.get("recovery.preemptions")),
                          _config.get("recovery.last-attempt-pool"))


# ---- which failures are lost work ----------------------------------------------------------------
_LOST_MESSAGES = ("Missing required workers", "Resilience is not yet supported", "lost dependenc")


def loss_of(exc: BaseException) -> Loss | None:
    """The :class:`Loss` behind ``exc`` (or its causes), or None when it is not lost work.

    Examples
    --------
    >>> loss_of(ValueError("bad")) is None
    True
    >>> loss_of(RuntimeError("Missing required workers: {'tcp://a:1'}")).kind.value
    'worker-lost'
    """
    for err in _chain(exc):
        if isinstance(err, LostWork):
            return err.loss
        if isinstance(err, (RecoveryError, KeyboardInterrupt)):
            return None
        if isinstance(err, DaskCollabError):
            return None  # a daskcollab error names a problem to fix, never lost work
        if type(err).__name__ == "KilledWorker":
            worker = getattr(getattr(err, "last_worker", None), "address", None)
            return Loss(LossKind.WORKER_LOST, (worker,) if worker else (),
                        f"task {getattr(err, 'task', '?')!r} was running on every worker that died")
        text = str(err)
        if type(err).__name__ in ("FutureCancelledError", "FuturesCancelledError", "CancelledError") \
                and "lost dependenc" in text:
            return Loss(LossKind.WORKER_LOST, (), "a task lost its inputs (data without lineage on a dead worker)")
        if any(m in text for m in _LOST_MESSAGES[:2]):
            return Loss(LossKind.WORKER_LOST, (), text.splitlines()[0][:200])
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop(0)
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        todo.extend([err.__cause__, err.__context__])


def classify(loss: Loss, preempted: Iterable[str]) -> Loss:
    """``loss`` as a preemption when one of its workers (or, workers unknown, any worker) was preempted."""
    preempted = set(preempted)
    if loss.kind is LossKind.PREEMPTED or not preempted:
        return loss
    if (set(loss.workers) & preempted) or not loss.workers:
        workers = loss.workers or tuple(sorted(preempted))
        return Loss(LossKind.PREEMPTED, workers, loss.detail)
    return loss


def preempted_workers(client: Any, since: float = 0.0) -> set[str]:
    """Addresses of workers that logged a preemption (SIGTERM) event since ``since`` (unix time)."""
    try:
        events = client.get_events(PREEMPTION_TOPIC)
    except Exception:  # the scheduler may be going away
        return set()
    return {msg.get("worker") for t, msg in events if t >= since and isinstance(msg, dict) and msg.get("worker")}


# ---- the budget of the stage whose thread is running -------------------------------------------
_CURRENT: contextvars.ContextVar[RecoveryBudget | None] = contextvars.ContextVar("daskcollab_recovery", default=None)


def current_budget(stage: str = "stage") -> RecoveryBudget:
    """The budget of the stage running in this thread; outside a run, a fresh one from config."""
    budget = _CURRENT.get()
    if budget is None:
        budget = RecoveryBudget(stage, int(_config.get("recovery.retries")), int(_config.get("recovery.preemptions")),
                                _config.get("recovery.last-attempt-pool"))
        _CURRENT.set(budget)
    return budget


def set_budget(budget: RecoveryBudget | None) -> contextvars.Token:
    return _CURRENT.set(budget)


def reset_budget(token: contextvars.Token) -> None:
    _CURRENT.reset(token)
