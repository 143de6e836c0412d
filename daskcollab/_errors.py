"""The one error family of daskcollab.

Every error a user can meet derives from :class:`DaskCollabError`. Messages name what was
expected, what arrived (``!r``) and the fix; where a stage or a YAML path is involved they
name it first, so a message reads ``stage 'xgb', field 'rounds': ...``.
"""

from __future__ import annotations


class DaskCollabError(Exception):
    """Base class of every daskcollab error."""


class WorkflowError(DaskCollabError, ValueError):
    """A workflow is malformed: a bad stage parameter, a missing or cyclic reference."""


class WorkflowFileError(WorkflowError):
    """A YAML workflow file does not validate; the message names the YAML path (and line)."""


class DataError(DaskCollabError, ValueError):
    """Input data does not fit the workflow: a missing array, mismatched shapes, an empty split."""


class UnplaceableError(DaskCollabError, RuntimeError):
    """A stage or task requests resources that no current or declared worker pool can provide."""


class BudgetError(DaskCollabError, RuntimeError):
    """A plan cannot meet the workflow's budget or deadline, or a run spent more than its budget."""


class RecoveryError(DaskCollabError, RuntimeError):
    """A stage lost its work (a worker died or was preempted) more often than its retry budget
    allows, or cannot recover at all (no worker left to run it); the message names the lost
    worker(s) and what to do."""


class ClusterError(DaskCollabError, ConnectionError):
    """The Dask cluster cannot be used: a scheduler that is unreachable or does not answer."""


class RunCancelledError(DaskCollabError, RuntimeError):
    """A task of a run that was given up (another stage failed); the first failure is what to fix."""


class UsageError(DaskCollabError, ValueError):
    """An option or argument has a malformed value: a command line option (the CLI exits with its
    usage status, 2), or an argument of a public constructor such as ``PlacementPlugin``."""


def stage_message(stage: str, field: str | None, problem: str, fix: str) -> str:
    """Format the house error message: where, what is wrong, how to fix it."""
    where = f"stage {stage!r}" + (f", field {field!r}" if field else "")
    return f"{where}: {problem}. Fix: {fix}"


def workflow_message(workflow: str, field: str | None, problem: str, fix: str) -> str:
    """The house message for a problem of a whole workflow (its budget, deadline, a run)."""
    where = f"workflow {workflow!r}" + (f", field {field!r}" if field else "")
    return f"{where}: {problem}. Fix: {fix}"
