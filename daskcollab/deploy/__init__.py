"""Deployment: preloads, local pools, Kubernetes, and per-pool scaling.

* Preloads: ``dask scheduler --preload daskcollab.deploy.scheduler`` (placement plugin, pool scaling,
  dashboard page) and ``dask worker --preload daskcollab.deploy.worker --pool NAME --price P``.
  The old names ``daskcollab.placement`` and ``daskcollab.placement.worker`` still work.
* Local pools (tests, benchmarks, laptops): :func:`start_local_pools`, :func:`pool_worker_specs`,
  :func:`placement_plugin`.
* Kubernetes through dask-kubernetes (one worker group per pool), pure builders:
  :func:`load_kube_pools`, :class:`KubePool`, :func:`kube_pool`, :func:`kube_manifests`,
  :func:`kube_job_manifests` (a ``DaskJob``), :func:`kube_worker_spec`, :func:`worker_group`,
  :func:`manifests_yaml`; glue: :func:`start_kube_cluster`.
* Per-pool scaling (what an elastic controller drives): the :class:`PoolScaler` protocol
  (``pools``, ``workers(pool)``, ``scale(pool, n) -> Scaled``), :class:`LocalPoolScaler`,
  :class:`KubePoolScaler`, and the scheduler side :class:`PoolScalingPlugin` (a pool's scale-down
  retires only that pool's workers; declared pools keep their ``min``).
* Elastic pools (every pool grows and shrinks with the runs' plans): :class:`ElasticController`
  (``with ElasticController(cluster): ...``, or ``start_local_pools(pools, elastic=True)``), its pure
  decision rule :func:`target_workers` and state :class:`ElasticPolicy`, the scheduler-side
  :class:`ElasticPlugin` (local pools) and the log of its steps (:class:`ScaleAction`).

Names load on first use (see :mod:`daskcollab._lazy`): importing this package needs no dask-kubernetes,
and the preloads below it import only what they install.
"""

from daskcollab._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "ELASTIC_PLUGIN_NAME": "_elastic", "ElasticController": "_elastic", "ElasticPlugin": "_elastic",
    "ElasticPolicy": "_elastic", "ScaleAction": "_elastic", "target_workers": "_elastic",
    "LocalPoolScaler": "_local", "LocalPoolsCluster": "_local", "placement_plugin": "_local",
    "pool_worker_specs": "_local", "start_local_pools": "_local",
    "SCALING_PLUGIN_NAME": "_scaling", "PoolScaler": "_scaling", "PoolScalingPlugin": "_scaling", "Scaled": "_scaling",
    "check_scale": "_scaling",
    "SCHEDULER_PRELOAD": "daskcollab._contract", "WORKER_PRELOAD": "daskcollab._contract",
    "KubePool": "_kube_pools", "kube_pool": "_kube_pools", "load_kube_pools": "_kube_pools",
    "kube_manifests": "_kube_manifests", "kube_job_manifests": "_kube_manifests", "kube_worker_spec": "_kube_manifests",
    "manifests_yaml": "_kube_manifests", "worker_group": "_kube_manifests",
    "start_kube_cluster": "_kube_cluster", "KubePoolScaler": "_kube_cluster",
})
