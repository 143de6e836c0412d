"""Shared modes as enums (no free-string modes): one class per choice a user makes.

Each is a ``str`` enum, so the plain strings keep working everywhere a mode is accepted (the
Python API, YAML workflow files, saved model files): ``Impute("mean") is Impute.MEAN`` and
``Impute.MEAN == "mean"``. Write ``.value`` where the string itself goes out (JSON, YAML,
messages): in Python 3.11 ``f"{Impute.MEAN}"`` is ``'Impute.MEAN'``.

This module imports nothing from daskcollab, so any package may use it.
"""

from __future__ import annotations

from enum import Enum


class Impute(str, Enum):
    """How preprocessing fills a missing feature value (fitted on the training rows)."""

    MEAN = "mean"
    MEDIAN = "median"
    CONSTANT = "constant"


class Device(str, Enum):
    """Where xgboost trains. :func:`~daskcollab.models.train_xgboost` also takes the string
    ``"cuda:<ordinal>"`` (one GPU); a stage's ``device`` field takes the members only."""

    CPU = "cpu"
    CUDA = "cuda"



class StageState(str, Enum):
    """A stage's state in a run, as the runner reports it to the scheduler and the views show it."""

    PENDING = "pending"
    RUNNING = "running"  # its run() is submitting / blocking
    SUBMITTED = "submitted"  # run() returned; its futures are computing (the output exists)
    DONE = "done"
    FAILED = "failed"
    REUSED = "reused"  # an earlier run's output was reused (resume)


class RunStatus(str, Enum):
    """How a workflow run stands (the placement ledger's ``status`` of a run)."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    OVER_BUDGET = "over-budget"  # failed for its budget or deadline (on-budget-miss: fail)
    CANCELLED = "cancelled"  # given up by the runner after another stage failed
