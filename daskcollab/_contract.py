"""The contract between daskcollab's processes: names both sides must spell the same way.

The workflow compiler and the placement plugin share the annotation key and the pool label; the
worker preload and the plugin share the worker metadata key and the label's quantity; the
deployment code and the preloads share the preload module names and the environment variables;
the preemption handler on a worker and the runner on the client share an event topic; clients and
the scheduler share the plugin names. Every module imports these from here, so none can drift.
"""

from __future__ import annotations

#: The namespaced custom annotation every workflow task carries:
#: ``{"workflow", "run", "stage", "kind", "cost", "pool"}``. Hand-written submissions may add
#: ``work`` (seconds at speed 1.0 of this task), ``mode``, ``tradeoff``, ``budget``, ``deadline``.
ANNOTATION_KEY = "collab"
#: Prefix of the abstract resource that marks a worker as a member of a pool.
POOL_PREFIX = "pool-"
#: Quantity of a worker's pool label: large enough never to limit how many tasks run at once.
POOL_LABEL_QUANTITY = 1_000_000
#: Key of ``worker.startup_information`` (``WorkerState.extra`` on the scheduler) holding
#: ``{"pool", "price_per_hour", "speed"}``.
METADATA_KEY = "daskcollab"

#: Names of daskcollab's scheduler plugins (``scheduler.plugins[...]``).
PLACEMENT_PLUGIN = "daskcollab-placement"
SCALING_PLUGIN = "daskcollab-pool-scaling"
ELASTIC_PLUGIN = "daskcollab-elastic"
MONITOR_PLUGIN = "daskcollab-stage-monitor"

#: The preload modules (``dask scheduler --preload ...``, ``dask worker --preload ...``).
SCHEDULER_PRELOAD = "daskcollab.deploy.scheduler"
WORKER_PRELOAD = "daskcollab.deploy.worker"

#: Environment variables the worker preload reads (pod specs and local pools set them).
POOL_ENV = "DASKCOLLAB_POOL"
PRICE_ENV = "DASKCOLLAB_PRICE"
SPEED_ENV = "DASKCOLLAB_SPEED"
WORKER_ENV = (POOL_ENV, PRICE_ENV, SPEED_ENV)

#: Event topic a preempted worker logs to before it retires (``{"worker", "name", "grace"}``).
PREEMPTION_TOPIC = "daskcollab-preemption"


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
