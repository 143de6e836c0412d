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

Kubernetes names resolve lazily: importing this package needs no dask-kubernetes.
"""

from __future__ import annotations

from typing import Any

from daskcollab.deploy._elastic import (
    ELASTIC_PLUGIN_NAME,
    ElasticController,
    ElasticPlugin,
    ElasticPolicy,
    ScaleAction,
    target_workers,
)
from daskcollab.deploy._local import (
    WORKER_PRELOAD,
    LocalPoolScaler,
    LocalPoolsCluster,
    placement_plugin,
    pool_worker_specs,
    start_local_pools,
)
from daskcollab.deploy._scaling import SCALING_PLUGIN_NAME, PoolScaler, PoolScalingPlugin, Scaled, check_scale

_KUBE = {
    "KubePool": "_kube_pools", "kube_pool": "_kube_pools", "load_kube_pools": "_kube_pools",
    "kube_manifests": "_kube_manifests", "kube_job_manifests": "_kube_manifests", "kube_worker_spec": "_kube_manifests",
    "manifests_yaml": "_kube_manifests", "worker_group": "_kube_manifests", "SCHEDULER_PRELOAD": "_kube_manifests",
    "start_kube_cluster": "_kube_cluster", "KubePoolScaler": "_kube_cluster",
}

__all__ = [
    "ELASTIC_PLUGIN_NAME",
    "SCALING_PLUGIN_NAME",
    "WORKER_PRELOAD",
    "ElasticController",
    "ElasticPlugin",
    "ElasticPolicy",
    "LocalPoolScaler",
    "LocalPoolsCluster",
    "PoolScaler",
    "PoolScalingPlugin",
    "ScaleAction",
    "Scaled",
    "check_scale",
    "placement_plugin",
    "pool_worker_specs",
    "start_local_pools",
    "target_workers",
    *sorted(_KUBE),
]


def __getattr__(name: str) -> Any:
    if name in _KUBE:
        import importlib

        return getattr(importlib.import_module(f"daskcollab.deploy.{_KUBE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
