"""Emulated workflows for benchmarks: real DAG shapes, work that sleeps ``work / speed``.

:func:`wfcommons_dag` generates a scientific-workflow DAG offline from a WfCommons recipe
(Montage, Epigenomics, Cycles, Seismology, ...; PyPI ``wfcommons``) with the recipe's per-task
runtime distributions as work. :func:`emulated_graph` turns it into ``dask.delayed`` tasks, each
annotated with ``collab={"workflow", "stage": <task type>, "kind": "task", "work": w}``; a task
sleeps ``w * scale / speed`` seconds where ``speed`` is read from its worker's pool metadata, so
the pools' speeds are emulated and the 2-core machine is not the bottleneck. Benchmark-only (tests
load it by path): it lives with the benchmarks, not in the package.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import cloudpickle

from daskcollab import DaskCollabError
from daskcollab._errors import stage_message
from daskcollab.placement import METADATA_KEY, TaskSpec

# This module lives with the benchmarks, which workers cannot import: its task functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

RECIPES = ("montage", "epigenomics", "cycles", "seismology", "blast", "bwa", "genome", "soykb", "srasearch", "rnaseq")


@dataclass(frozen=True)
class EmuTask:
    """One task of an emulated workflow: its key, type (stage), work at speed 1.0 and parents."""

    key: str
    stage: str
    work: float
    dependencies: tuple[str, ...]


def wfcommons_dag(recipe: str, num_tasks: int, seed: int = 0) -> list[EmuTask]:
    """Generate a DAG offline with WfCommons' recipe ``recipe`` (about ``num_tasks`` tasks).

    Raises an ``ImportError`` naming the package when ``wfcommons`` is not installed.
    """
    try:
        from wfcommons import WorkflowGenerator
        from wfcommons.wfchef import recipes as wf_recipes
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the WfCommons benchmark DAGs need `pip install wfcommons`") from exc
    names = {n.lower().removesuffix("recipe"): n for n in dir(wf_recipes) if n.endswith("Recipe")}
    if recipe.lower() not in names:
        raise DaskCollabError(
            stage_message("benchmark", "recipe", f"expected one of {sorted(names)!r}, got {recipe!r}", "pick a listed recipe")
        )
    state = random.getstate()
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
        workflow = WorkflowGenerator(getattr(wf_recipes, names[recipe.lower()]).from_num_tasks(num_tasks)).build_workflow()
    finally:
        random.setstate(state)
    out = []
    for task_id, task in workflow.tasks.items():
        parents = tuple(sorted(workflow.predecessors(task_id)))
        out.append(EmuTask(task_id, task.name, max(float(task.runtime or 0.0), 1e-3), parents))
    return _toposorted(out)


def _toposorted(tasks: Sequence[EmuTask]) -> list[EmuTask]:
    by_key = {t.key: t for t in tasks}
    done: set[str] = set()
    out: list[EmuTask] = []
    for task in tasks:
        stack = [(task, False)]
        while stack:
            t, expanded = stack.pop()
            if t.key in done:
                continue
            if expanded:
                done.add(t.key)
                out.append(t)
                continue
            stack.append((t, True))
            stack.extend((by_key[d], False) for d in t.dependencies if d not in done)
    return out


def scale_work(tasks: Sequence[EmuTask], target_serial_seconds: float) -> list[EmuTask]:
    """Rescale work so the total work at speed 1.0 is ``target_serial_seconds``."""
    total = sum(t.work for t in tasks)
    factor = target_serial_seconds / total if total > 0 else 1.0
    return [EmuTask(t.key, t.stage, t.work * factor, t.dependencies) for t in tasks]


def task_specs(tasks: Sequence[EmuTask]) -> list[TaskSpec]:
    """The policy's view of an emulated workflow (for lower bounds and plan reports)."""
    return [TaskSpec(key=t.key, work=t.work, dependencies=t.dependencies, stage=t.stage) for t in tasks]


def worker_pool() -> tuple[str | None, float]:
    """(pool name, relative speed) of the worker running the current task; (None, 1.0) outside a pool."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return None, 1.0
    meta = worker.startup_information.get(METADATA_KEY)
    if callable(meta):
        meta = meta(worker)
    meta = meta or {}
    return meta.get("pool"), float(meta.get("speed", 1.0))


def emulated_task(work: float, *dependencies: Any) -> tuple[str | None, float]:
    """Sleep ``work / speed`` seconds on this worker; return (pool, seconds slept)."""
    pool, speed = worker_pool()
    t0 = time.perf_counter()
    time.sleep(work / speed)
    return pool, time.perf_counter() - t0


def emulated_graph(
    tasks: Sequence[EmuTask], workflow: str, *, annotate: bool = True, extra: dict[str, Any] | None = None
) -> dict[Hashable, Any]:
    """``dask.delayed`` objects, one per task, each annotated with its own ``collab`` work.

    Keys are named ``<task type>-<n>-<token>``, so each task type is its own Dask task prefix,
    as each step of a real workflow is its own function: Dask's duration estimates (occupancy,
    work stealing) then tell the types apart, for the default scheduler and the plugin alike.
    """
    import uuid

    import dask

    run = uuid.uuid4().hex[:8]
    out: dict[Hashable, Any] = {}
    for n, t in enumerate(tasks):
        deps = [out[d] for d in t.dependencies]
        task = dask.delayed(emulated_task, pure=False)
        name = f"{t.stage}-{n}-{run}"
        if annotate:
            collab = {"workflow": workflow, "stage": t.stage, "kind": "task", "work": t.work, **(extra or {})}
            with dask.annotate(collab=collab):
                out[t.key] = task(t.work, *deps, dask_key_name=name)
        else:
            out[t.key] = task(t.work, *deps, dask_key_name=name)
    return out


def sinks(tasks: Sequence[EmuTask]) -> list[str]:
    """Keys of tasks nothing depends on (what a run computes)."""
    used = {d for t in tasks for d in t.dependencies}
    return [t.key for t in tasks if t.key not in used]
