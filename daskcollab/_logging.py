"""Library noise that daskcollab's own use of Dask causes and no user acts on.

Two log lines of ``distributed`` come from how daskcollab drives Dask, not from anything a user
did: the INFO ``Run out-of-band function 'stage_event'`` that Dask's ``run`` handler writes on the
scheduler for every ``client.run_on_scheduler`` call (a run makes two per stage, and xgboost.dask
one per training), and the nanny's
WARNING ``Worker process still alive after 4.0 seconds, killing`` when an embedded LocalCluster
closes. The filters here drop exactly those records; every other Dask line is left alone.

:func:`quiet_run_calls` is called where daskcollab's remote calls are defined (importing
:mod:`daskcollab.runtime._remote` on the scheduler, which unpickling the first call does before
Dask logs it), so the scheduler's log of a ``dask scheduler`` process stays readable too.
"""

from __future__ import annotations

import logging

#: The functions sent with ``client.run_on_scheduler`` for a run (Dask logs their ``__name__``):
#: daskcollab's own, and ``_start_tracker`` that ``xgboost.dask`` sends for every training.
RUN_CALLS = frozenset({"scheduler_view", "start_run", "stage_event", "finish_run", "cancel_run",
                       "_install_on_scheduler", "_scheduler_snapshot", "_save", "_start_tracker",
                       # the collective xgboost trainer (models/_xgboost_train.py) and the elastic controller
                       "_workers_view", "_executing_ranks", "_placement_call"})
_OUT_OF_BAND = "Run out-of-band function %r"
_STILL_ALIVE = "Worker process still alive after"
_show_close = False  # set by quiet_close(False)


class _QuietRunCalls(logging.Filter):
    """Drops Dask's ``Run out-of-band function`` record for daskcollab's own scheduler calls."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == _OUT_OF_BAND and isinstance(record.args, tuple) and record.args
                    and record.args[0] in RUN_CALLS)


class _QuietClose(logging.Filter):
    """Drops the nanny's warning that it killed a worker process while a cluster closed."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _STILL_ALIVE not in record.getMessage()


def _add_once(logger: logging.Logger, cls: type[logging.Filter]) -> None:
    if not any(isinstance(f, cls) for f in logger.filters):
        logger.addFilter(cls())


def quiet_run_calls() -> None:
    """Stop Dask from logging daskcollab's ``run_on_scheduler`` calls in this process (idempotent)."""
    _add_once(logging.getLogger("distributed.worker"), _QuietRunCalls)


def quiet_close(quiet: bool | None = None) -> None:
    """Drop (``True``) or show (``False``) the nanny's close-time "still alive, killing" warning.

    ``None`` (what ``daskcollab.run`` passes for its embedded cluster) drops it unless it was
    asked for before (``daskcollab -v``).
    """
    global _show_close
    nanny = logging.getLogger("distributed.nanny")
    if quiet is None:
        quiet = not _show_close
    else:
        _show_close = not quiet
    if quiet:
        _add_once(nanny, _QuietClose)
    else:
        for f in [f for f in nanny.filters if isinstance(f, _QuietClose)]:
            nanny.removeFilter(f)
