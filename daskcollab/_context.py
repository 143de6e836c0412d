"""What a running stage may use: the client, and ways to submit work without waiting for it."""

from __future__ import annotations

import contextvars
import logging
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import dask
from distributed import Client, Future, futures_of

logger = logging.getLogger("daskcollab")


@dataclass
class StageContext:
    """Handed to :meth:`Stage.run`. Work submitted through it carries the stage's annotations,
    because the runner calls ``run`` inside ``dask.annotate(**stage_annotations)`` in the stage's
    own thread.

    ``persist`` does not wait: it returns the persisted collections at once, so later stages can
    build on them while they compute; the runner waits for every future a stage persisted
    (:attr:`futures`) before it calls the stage done, and raises a task's own error there.
    ``compute`` blocks the stage's thread until the values arrive: it is how a stage asks for a
    value it truly needs (fitted statistics, metrics, weights).
    """

    client: Client
    workflow: str
    stage: str
    show_progress: bool = False
    run_id: str | None = None
    futures: list[Future] = field(default_factory=list)
    #: Set when the run is given up (another stage failed, the budget action fired): long client-side
    #: work of the stage (an xgboost collective) stops and frees its workers instead of finishing.
    given_up: threading.Event = field(default_factory=threading.Event)

    def persist(self, *collections: Any) -> tuple[Any, ...]:
        """Persist collections on the cluster (not waiting); the runner waits before the stage is done."""
        persisted = self.client.persist(list(collections))
        self.track(futures_of(persisted))
        return tuple(persisted)

    def track(self, futures: Any) -> None:
        """Futures the stage submitted itself (e.g. ``client.compute``) that must finish before it is done."""
        self.futures.extend(futures_of(futures))

    def compute(self, *collections: Any) -> tuple[Any, ...]:
        """Compute small results to the client (blocks this stage's thread only)."""
        return dask.compute(*collections, scheduler=self.client)

    def log(self, message: str, *args: Any) -> None:
        """A progress message about this stage (the ``daskcollab`` logger, level INFO)."""
        logger.info("%s: " + message, self.stage, *args)


#: A weak reference: asyncio copies the calling thread's context into every callback and task it
#: schedules from there (the client's own, long-lived ones included), and a strong reference would
#: keep the stage's context, and the futures it tracks, alive on the cluster after the run.
_CURRENT: contextvars.ContextVar[weakref.ref[StageContext] | None] = contextvars.ContextVar("daskcollab_stage", default=None)


def current_context() -> StageContext | None:
    """The context of the stage running in this thread (None outside a run)."""
    ref = _CURRENT.get()
    return None if ref is None else ref()


def set_context(ctx: StageContext) -> contextvars.Token:
    """Make ``ctx`` the current stage's context in this thread (the runner does, per attempt)."""
    return _CURRENT.set(weakref.ref(ctx))


def reset_context(token: contextvars.Token) -> None:
    _CURRENT.reset(token)
