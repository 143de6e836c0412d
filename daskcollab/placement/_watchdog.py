"""The watchdog's verdict on tasks waiting for a worker (pure; the plugin looks every 0.5 s).

No annotated task waits in ``no-worker`` forever: a task whose chosen pool is gone is placed again;
one no current or declared pool can ever run errs at once; one that only a pool without live
workers can run errs after ``no-worker-timeout``, with the one unplaceable message. (The other
half of the watchdog, the runs' spend against their budgets, is :meth:`Runs.verdicts`.)
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from daskcollab._contract import pool_resource
from daskcollab.placement._decide import ClusterView
from daskcollab.placement._feasibility import Verdict, feasibility, unplaceable_message

#: A task whose chosen pool is gone is placed again once it waited this long (seconds).
REPLACE_AFTER = 0.5


@dataclass(frozen=True)
class Waiting:
    """One annotated task waiting in ``no-worker``, as the watchdog sees it."""

    key: Hashable
    stage: str | None
    resources: Mapping[str, float]  # user resources, no pool label
    pool: str | None  # the pool it is pinned to (by label or annotation)
    chosen: str | None  # the pool the plugin placed it on
    waited: float  # seconds in no-worker


@dataclass
class WatchdogVerdicts:
    replace: list[Hashable] = field(default_factory=list)  # place again
    fail: dict[Hashable, str] = field(default_factory=dict)  # err with UnplaceableError(message)


def unrunnable_verdicts(waiting: Iterable[Waiting], cluster: ClusterView, elastic: Collection[str],
                        timeout: float) -> WatchdogVerdicts:
    """What to do with waiting tasks (see the module docstring); ``elastic``: pools a controller
    scales (a chosen pool among them may just be growing).

    Examples
    --------
    >>> from daskcollab.placement import Pool
    >>> view = ClusterView({"spot": Pool("spot", 0.1, 1.0, 1)}, {"gpu": Pool("gpu", 2.5, 1.0, 1, {"GPU": 1})})
    >>> v = unrunnable_verdicts([Waiting("t", "fit", {"GPU": 1}, "gpu", None, 61.0)], view, (), 60.0)
    >>> v.fail["t"].split(":")[0]
    "stage 'fit', field 'pool'"
    """
    out = WatchdogVerdicts()
    live, declared = cluster.feasibility_pools()
    for w in waiting:
        if (w.pool is None and w.chosen is not None and w.chosen not in cluster.live and w.chosen not in elastic
                and w.waited > REPLACE_AFTER):
            out.replace.append(w.key)  # its planned pool is gone: place it again
            continue
        verdict = feasibility(w.resources, w.pool, live, declared)
        wanted = w.pool or w.chosen
        never = verdict.verdict is Verdict.NEVER
        if never or (w.waited > timeout and (wanted is None or wanted not in cluster.live)):
            missing = verdict.missing or {**w.resources, **({pool_resource(wanted): 1} if wanted else {})}
            out.fail[w.key] = unplaceable_message(w.stage, w.resources, wanted, missing, [*live, *declared],
                                                  waited=None if never else w.waited)
    return out
