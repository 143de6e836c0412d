"""Scheduler-state glue of the placement plugin: reading ``TaskState`` objects into plain views, and
the few things it does to them (thin Dask glue; everything it decides comes from the pure policy).

Reading:

* :func:`task_views`: new annotated tasks as :class:`~daskcollab.placement._decide.TaskView`
  objects (an ad-hoc task's work estimated once per stage and task prefix);
* :func:`waiting_tasks`: annotated tasks in ``no-worker`` for the watchdog;
* :func:`task_needs`: waiting and processing tasks, and busy workers per pool, for the demand;
* :func:`compute_span`: compute seconds, start and stop of a finished task's ``startstops``.

Writing:

* :func:`apply_decisions`: a pool label as a resource restriction (never a worker address, never
  ``allow_other_workers``), the plan's order as the last element of the task's priority;
* :func:`hold_in_order` / :func:`release_held`: the scheduler fixes, before plugins run, the
  order in which it dispatches a submission's runnable tasks, and the first reaches an idle worker
  before any priority matters. Held for one turn of the event loop (a resource no worker has,
  :data:`~daskcollab.placement._pools.HOLD_RESOURCE`), they wait in ``no-worker``; released in the
  plan's order, each pool's first task is the one the plan starts first;
* :func:`fail_soon` / :func:`fail_now`: err tasks without corrupting scheduler state. ``update_graph``
  runs before the scheduler transitions the new tasks, so a task erred inside it would be undone:
  :func:`fail_soon` holds each task in ``no-worker`` and errs it on the next turn of the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable, Iterator, Mapping
from time import perf_counter
from typing import Any

from distributed.protocol import pickle

from daskcollab._contract import ANNOTATION_KEY, pool_resource
from daskcollab.placement._cost_model import CostModel
from daskcollab.placement._decide import Decisions, TaskView, ad_hoc_work
from daskcollab.placement._demand import TaskNeed
from daskcollab.placement._pools import HOLD_RESOURCE, WorkerInfo, pool_of_label, split_resources
from daskcollab.placement._watchdog import Waiting

#: States from which the plugin may err a task (it never touches running or finished ones).
ERRABLE = ("released", "waiting", "no-worker", "queued")
#: States of a task placed but not running yet (it may be placed again).
PENDING = ("released", "waiting", "no-worker")
_EMPTY: dict[str, float] = {}


def collab_annotation(ts: Any, submitted: Mapping[Hashable, Mapping[str, Any]]) -> Mapping[str, Any]:
    """The ``collab`` annotation of a task's latest submission (a key an earlier run created keeps
    that run's annotations on its ``TaskState``, but belongs to the run that submitted it last)."""
    return submitted.get(ts.key) or (ts.annotations or {}).get(ANNOTATION_KEY) or _EMPTY


def note_submission(submitted: dict[Hashable, Mapping[str, Any]], collab: Mapping[Hashable, Any],
                    tasks: list[Hashable]) -> None:
    """Record which submission owns each key: the latest. A key an earlier run created (deterministic
    keys are shared) keeps that run's annotations on its ``TaskState``, but is accounted to this run;
    keys of this call that already existed get no annotation from Dask: they belong to this call's
    stage of this run (a call comes from one stage's context) if they run again."""
    submitted.update(collab)
    first = next(iter(collab.values()))
    if isinstance(first, Mapping) and first.get("run") is not None and len(tasks) > len(collab):
        if all(a.get("run") == first["run"] and a.get("stage") == first.get("stage") for a in collab.values()):
            submitted.update((key, first) for key in tasks if key not in collab)


def task_views(tasks: list[Any], model: CostModel,
               default_work: float) -> tuple[list[TaskView], dict[Hashable, dict[str, float]]]:
    """TaskViews for scheduler tasks, and each task's user resources (pool labels removed).

    On the per-task path of ``update_graph``: work estimates are computed once per (stage, task
    prefix), only for ad-hoc tasks, and empty resources and dependencies skip conversions.
    """
    keys = {ts.key for ts in tasks}
    per_stage: dict[str | None, int] = {}
    for ts in tasks:
        stage = (ts.annotations.get(ANNOTATION_KEY) or _EMPTY).get("stage")
        per_stage[stage] = per_stage.get(stage, 0) + 1
    views: list[TaskView] = []
    user: dict[Hashable, dict[str, float]] = {}
    estimates: dict[tuple[Any, ...], float] = {}
    for ts in tasks:
        annotations = ts.annotations
        ann = annotations.get(ANNOTATION_KEY) or _EMPTY
        stage, run = ann.get("stage"), ann.get("run")
        requested = annotations.get("resources")
        plain, pinned = split_resources(dict(requested)) if requested else (_EMPTY, ())
        user[ts.key] = plain
        work = ann.get("work")
        if work is None and run is None:  # a per-task `work` is exact; stage estimates refined by history
            memo = (ann.get("workflow"), stage, ts.prefix.name, ann.get("cost"))
            work = estimates.get(memo)
            if work is None:
                work = estimates[memo] = ad_hoc_work(ann, ts.prefix.name, per_stage[stage],
                                                     ts.prefix.duration_average, default_work, model)
        prio = annotations.get("priority", 0)
        deps = ts.dependencies
        views.append(TaskView(
            key=ts.key, stage=stage, workflow=ann.get("workflow"), run=run, resources=plain,
            pool=pinned[0] if pinned else ann.get("pool"), work=float(work or 0.0),
            dependencies=tuple(d.key for d in deps if d.key in keys) if deps else (),
            priority=int(prio) if isinstance(prio, (int, float)) else 0,
            mode=ann.get("mode"), tradeoff=ann.get("tradeoff"), budget=ann.get("budget"),
            deadline=ann.get("deadline"),
        ))
    return views, user


def apply_decisions(scheduler: Any, tasks: list[Any], out: Decisions, user: Mapping[Hashable, dict[str, float]],
                    placed: dict[Hashable, str | None], stimulus_id: str, *, drop_pool_labels: bool) -> None:
    """Apply the policy's restrictions and order to ``tasks``; ``drop_pool_labels``: one pool is
    left, so pool labels placed earlier on the other tasks go."""
    by_key = {ts.key: ts for ts in tasks}
    for key, rank in out.order.items():
        ts = by_key[key]
        if isinstance(ts.priority, tuple) and len(ts.priority) == 3:  # (-user priority, generation, order)
            ts.priority = (ts.priority[0], ts.priority[1], rank)
    no_worker = []
    for key, pool in out.restrict.items():
        ts = by_key[key]
        placed[key] = pool
        ts.resource_restrictions = {**user[key], pool_resource(pool): 1} if pool else (user[key] or None)
        if ts.state == "no-worker":
            no_worker.append(key)
    if drop_pool_labels:
        for ts in tasks:
            if ts.key not in out.restrict and ts.resource_restrictions and any(
                    pool_of_label(r) for r in ts.resource_restrictions):
                ts.resource_restrictions = user[ts.key] or None
                if ts.state == "no-worker":
                    no_worker.append(ts.key)
    if no_worker:
        scheduler.transitions({k: "processing" for k in no_worker}, stimulus_id)


def hold_in_order(scheduler: Any, keys: list[Hashable], stimulus_id: str, holding: set) -> None:
    """Hold ``keys`` (in plan order) for one turn of the event loop, then release them in that order."""
    tasks = scheduler.tasks
    held = []
    for key in keys:
        ts = tasks.get(key)
        if ts is not None and ts.state == "released":
            ts.resource_restrictions = {**(ts.resource_restrictions or {}), HOLD_RESOURCE: 1}
            held.append(key)
    if held:
        holding.update(held)
        asyncio.get_running_loop().call_soon(release_held, scheduler, held, f"{stimulus_id}-daskcollab-order", holding)


def release_held(scheduler: Any, keys: list[Hashable], stimulus_id: str, holding: set) -> None:
    release: dict[Hashable, str] = {}
    for key in keys:
        holding.discard(key)
        ts = scheduler.tasks.get(key)
        if ts is None or not ts.resource_restrictions or HOLD_RESOURCE not in ts.resource_restrictions:
            continue
        restrictions = {r: q for r, q in ts.resource_restrictions.items() if r != HOLD_RESOURCE}
        ts.resource_restrictions = restrictions or None
        if ts.state == "no-worker":
            release[key] = "processing"
    if release:
        # the scheduler pops recommendations last-in first-out: insert the plan's first task last
        scheduler.transitions(dict(reversed(list(release.items()))), stimulus_id)


def fail_soon(scheduler: Any, failures: Mapping[Hashable, Exception], stimulus_id: str, failing: set) -> None:
    """Err ``failures`` right after the current scheduler step; ``failing`` tracks them meanwhile."""
    failing.update(failures)
    for key in failures:
        ts = scheduler.tasks.get(key)
        if ts is not None and ts.state == "released":
            ts.resource_restrictions = {**(ts.resource_restrictions or {}), HOLD_RESOURCE: 1}
    asyncio.get_running_loop().call_soon(fail_now, scheduler, dict(failures), f"{stimulus_id}-daskcollab-fail", failing)


def fail_now(scheduler: Any, failures: Mapping[Hashable, Exception], stimulus_id: str, failing: set | None = None) -> None:
    """Err each task of ``failures`` that is still waiting (released, waiting, no-worker, queued)."""
    recommendations: dict[Hashable, str] = {}
    for key, exc in failures.items():
        if failing is not None:
            failing.discard(key)
        ts = scheduler.tasks.get(key)
        if ts is None or ts.state not in ERRABLE:
            continue
        blob = pickle.dumps(exc)
        text = str(exc)
        if ts.state in ("no-worker", "queued"):
            recommendations.update(
                scheduler.transition(key, "erred", stimulus_id, exception=blob, cause=key, exception_text=text)
            )
            continue
        ts.exception, ts.exception_text, ts.traceback, ts.exception_blame = blob, text, None, ts
        if ts.state == "waiting":
            recommendations.update(scheduler.transition(key, "released", stimulus_id))
            recommendations.pop(key, None)
        recommendations.update(scheduler.transition(key, "erred", stimulus_id))
    if recommendations:
        scheduler.transitions(recommendations, stimulus_id)


def waiting_of_run(scheduler: Any, run_id: str, submitted: Mapping[Hashable, Mapping[str, Any]]) -> list[Hashable]:
    """Keys of a run's tasks waiting to run. Only those: a *released* task may be a finished
    intermediate whose key a later run shares (deterministic keys), which must not be poisoned."""
    return [ts.key for ts in scheduler.tasks.values()
            if ts.state in ("waiting", "no-worker", "queued") and collab_annotation(ts, submitted).get("run") == run_id]


def pending_of(scheduler: Any, run_id: str, stages: set[str], submitted: Mapping[Hashable, Mapping[str, Any]]) -> list:
    """Keys of the given stages of a run that have not started (they may be placed again)."""
    return [key for key, ann in list(submitted.items()) if ann.get("run") == run_id and ann.get("stage") in stages
            and (ts := scheduler.tasks.get(key)) is not None and ts.state in (*PENDING, "queued")]


def waiting_tasks(scheduler: Any, placed: Mapping[Hashable, str | None], skip: Iterable[set],
                  now: float) -> Iterator[Waiting]:
    """Annotated tasks in ``no-worker`` that the plugin placed or may place (not held, not being
    erred: ``skip``; not pinned by Dask to workers or hosts); ``now``: monotonic seconds."""
    skip = tuple(skip)
    for ts, since in list(scheduler.unrunnable.items()):
        ann = (ts.annotations or {}).get(ANNOTATION_KEY)
        if ann is None or any(ts.key in s for s in skip) or ts.worker_restrictions or ts.host_restrictions:
            continue
        plain, pinned = split_resources(ts.annotations.get("resources"))
        yield Waiting(ts.key, ann.get("stage"), plain, pinned[0] if pinned else ann.get("pool"), placed.get(ts.key),
                      now - since)


def waiting_by_pool(scheduler: Any) -> dict[str, int]:
    """Tasks waiting in ``no-worker`` per pool they are restricted to."""
    out: dict[str, int] = {}
    for ts in scheduler.unrunnable:
        for label in ts.resource_restrictions or ():
            pool = pool_of_label(label)
            if pool is not None:
                out[pool] = out.get(pool, 0) + 1
    return out


def task_needs(scheduler: Any, workers: Mapping[str, WorkerInfo],
               submitted: Mapping[Hashable, Mapping[str, Any]]) -> tuple[list[TaskNeed], dict[str, int]]:
    """Tasks waiting for a worker or processing on a pool's worker, and busy workers per pool."""
    def need(ts: Any, waiting: bool) -> TaskNeed:
        ann = collab_annotation(ts, submitted)
        return TaskNeed(ts.resource_restrictions, ann.get("run"), ann.get("stage"), waiting)

    out = [need(ts, True) for ts in scheduler.unrunnable]
    busy: dict[str, int] = {}
    for address, ws in scheduler.workers.items():
        info = workers.get(address)
        if info is None or not info.pool or not ws.processing:
            continue
        busy[info.pool] = busy.get(info.pool, 0) + 1
        out.extend(need(ts, False) for ts in ws.processing)
    return out, busy


def compute_span(startstops: Iterable[Mapping[str, Any]] | None) -> tuple[float, float | None, float | None]:
    """Compute seconds of a finished task, and when its computing began and stopped (None: unknown)."""
    duration = 0.0
    began = stopped = None
    for ss in startstops or ():
        if ss.get("action") == "compute":
            duration += ss["stop"] - ss["start"]
            began = ss["start"] if began is None else min(began, ss["start"])
            stopped = ss["stop"] if stopped is None else max(stopped, ss["stop"])
    return duration, began, stopped


class HookTimer:
    """Adds the seconds a ``with`` block took to ``overhead[key]`` (the plugin's own cost, reported)."""

    __slots__ = ("overhead", "key", "t0")

    def __init__(self, overhead: dict[str, float], key: str) -> None:
        self.overhead, self.key = overhead, key

    def __enter__(self) -> None:
        self.t0 = perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.overhead[self.key] += perf_counter() - self.t0
