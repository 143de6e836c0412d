"""The annotation contract between the workflow compiler and the placement scheduler plugin.

Both sides import these names from here, so the key and the pool label cannot drift apart.
"""

from __future__ import annotations

#: The namespaced custom annotation every workflow task carries:
#: ``{"workflow", "run", "stage", "kind", "cost", "pool"}``. Hand-written submissions may add
#: ``work`` (seconds at speed 1.0 of this task), ``mode``, ``tradeoff``, ``budget``, ``deadline``.
ANNOTATION_KEY = "collab"
#: Prefix of the abstract resource that marks a worker as a member of a pool.
POOL_PREFIX = "pool-"


def pool_resource(pool: str) -> str:
    """The abstract resource that marks a worker as a member of ``pool``.

    Examples
    --------
    >>> pool_resource("cpu-spot")
    'pool-cpu-spot'
    """
    if not isinstance(pool, str) or not pool:
        from daskcollab._errors import WorkflowError

        raise WorkflowError(f"pool: expected a non-empty pool name, got {pool!r}. Fix: name the pool, e.g. 'cpu-spot'")
    return f"{POOL_PREFIX}{pool}"
