"""Thin glue to a Kubernetes API through dask-kubernetes: create the cluster, scale one pool at a time.

:func:`start_kube_cluster` creates the ``KubeCluster`` (first pool = default worker group) and adds
one worker group per further pool. :class:`KubePoolScaler` scales a pool's worker group, addressed
by the *pool* name (the first pool's group is dask-kubernetes' ``<name>-default``):

* up: ``KubeCluster.scale(n, worker_group=...)`` (the operator adds worker Deployments);
* down: dask-kubernetes' autoscaler is stopped (as ``KubeCluster.scale`` does) and the operator is
  left to finish earlier replica changes; Deployments of the pool whose workers have not joined yet
  are deleted first (nothing to
  lose); then the scheduler picks the rest among *that pool's* workers and retires them (data moved
  off, :class:`~daskcollab.deploy.PoolScalingPlugin`); their Deployments are deleted by name, and
  only then the group's replicas are lowered, so the operator finds nothing left to retire. Going
  through ``KubeCluster.scale`` alone would let the operator retire *any* pool's workers
  (dask-kubernetes#914).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from daskcollab._errors import DaskCollabError, stage_message
from daskcollab.deploy._kube_manifests import _operator, kube_manifests, worker_group
from daskcollab.deploy._kube_pools import KubePool, load_kube_pools
from daskcollab.deploy._scaling import RETIRE_HANDLER, Scaled, check_pool, check_scale
from daskcollab.placement import Pool

logger = logging.getLogger("daskcollab.deploy")


def start_kube_cluster(
    name: str,
    pools: Iterable[KubePool | Pool | Mapping[str, Any]],
    *,
    image: str,
    namespace: str | None = None,
    env: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    nthreads: int = 1,
    **kwargs: Any,
) -> Any:
    """Create the cluster through ``dask_kubernetes.operator.KubeCluster`` and add one worker group per further pool.

    Needs a Kubernetes API server with the dask-kubernetes operator installed (and the RBAC the
    README lists); ``kwargs`` go to ``KubeCluster`` (e.g. ``shutdown_on_close``, ``resource_timeout``).
    Every pool is checked before any custom resource is created. Tested against an emulated API
    server running the operator's real handlers (``tests/deploy``).

    Examples
    --------
    >>> from distributed import Client
    >>> cluster = start_kube_cluster("collab", load_kube_pools("pools.yaml"),
    ...                              image="ghcr.io/you/daskcollab:0.1.0")  # doctest: +SKIP
    >>> client = Client(cluster)  # doctest: +SKIP
    """
    kpools = load_kube_pools(pools)
    cluster_spec, *groups = kube_manifests(name, kpools, image=image, env=env, config=config, nthreads=nthreads,
                                           namespace=namespace)
    cluster = _operator().KubeCluster(custom_cluster_spec=cluster_spec, namespace=namespace, **kwargs)
    try:
        for kp, group in zip(kpools[1:], groups):
            cluster.add_worker_group(kp.pool.name, custom_spec=group["spec"]["worker"])
    except BaseException:
        cluster.close()
        raise
    return cluster


class KubePoolScaler:
    """:class:`~daskcollab.deploy.PoolScaler` for a ``KubeCluster`` made by :func:`start_kube_cluster`.

    Parameters
    ----------
    cluster : dask_kubernetes.operator.KubeCluster
        A synchronous ``KubeCluster`` (also one reconnected with ``KubeCluster.from_name``).
    pools : iterable of KubePool, Pool or mapping
        The pools the cluster was started with, in the same order (the first is the default group).

    Examples
    --------
    >>> pools = load_kube_pools("pools.yaml")  # doctest: +SKIP
    >>> scaler = KubePoolScaler(start_kube_cluster("collab", pools, image=IMAGE), pools)  # doctest: +SKIP
    >>> scaler.scale("cpu-spot", 4), scaler.scale("gpu", 0)  # doctest: +SKIP
    """

    def __init__(self, cluster: Any, pools: Iterable[KubePool | Pool | Mapping[str, Any]], *,
                 timeout: float = 120) -> None:
        kpools = load_kube_pools(pools)
        self.cluster = cluster
        self.timeout = timeout
        self._pools = {kp.pool.name: kp.pool for kp in kpools}
        self._groups = {name: f"{cluster.name}-{worker_group(kpools, name)}" for name in self._pools}

    @property
    def pools(self) -> Mapping[str, Pool]:
        return self._pools

    def group(self, pool: str) -> str:
        """The DaskWorkerGroup name of ``pool``."""
        check_pool(self._pools, pool)
        return self._groups[pool]

    def workers(self, pool: str) -> int:
        return self.cluster.sync(self._replicas, self.group(pool))

    async def _replicas(self, group: str) -> int:
        from dask_kubernetes.operator._objects import DaskWorkerGroup

        wg = await DaskWorkerGroup.get(group, namespace=self.cluster.namespace)
        return int(wg.replicas)

    async def _deployments(self, group: str) -> list[str]:
        from kr8s.asyncio.objects import Deployment

        return [d.name async for d in Deployment.list(namespace=self.cluster.namespace,
                                                      label_selector={"dask.org/workergroup-name": group})]

    async def _delete(self, group: str, names: list[str]) -> None:
        from kr8s.asyncio.objects import Deployment

        for name in names:
            deployment = await Deployment(name, namespace=self.cluster.namespace)
            await deployment.delete(propagation_policy="Background")
        deadline = time.monotonic() + self.timeout
        while set(names) & set(await self._deployments(group)):
            if time.monotonic() > deadline:
                raise DaskCollabError(stage_message(
                    "scale", "deployments", f"expected worker Deployments {names!r} of {group!r} to be deleted "
                    f"within {self.timeout} s, they are still there", "check the API server and the operator log"))
            await asyncio.sleep(0.2)

    async def _settled(self, group: str) -> int:
        """Stop dask-kubernetes' autoscaler (it would change replicas under us; ``KubeCluster.scale`` stops it
        too) and wait until the operator has as many worker Deployments as the group has replicas."""
        import kr8s
        from dask_kubernetes.operator._objects import DaskAutoscaler

        with contextlib.suppress(kr8s.NotFoundError):
            autoscaler = await DaskAutoscaler.get(self.cluster.name, namespace=self.cluster.namespace)
            await autoscaler.delete()
        deadline = time.monotonic() + self.timeout
        while (replicas := await self._replicas(group)) != len(await self._deployments(group)):
            if time.monotonic() > deadline:
                raise DaskCollabError(stage_message(
                    "scale", "replicas", f"expected the operator to run {replicas} worker Deployment(s) of {group!r} "
                    f"within {self.timeout} s, it runs {len(await self._deployments(group))}",
                    "check the dask-kubernetes operator's log (quota, image pull, scheduling)"))
            await asyncio.sleep(0.2)
        return replicas

    def scale(self, pool: str, n: int) -> Scaled:
        check_scale(self._pools, pool, n)
        cluster, group = self.cluster, self._groups[pool]
        suffix = group[len(cluster.name) + 1:]
        retired: list[str] = []
        kept: list[str] = []
        before = self.workers(pool)
        if n >= before:
            cluster.scale(n, worker_group=suffix)
            return Scaled(pool, before, n)
        # the operator must have acted on every earlier replicas change first, or it would act on them after us
        before = cluster.sync(self._settled, group)
        if n >= before:
            cluster.scale(n, worker_group=suffix)
            return Scaled(pool, before, n)
        deployments = cluster.sync(self._deployments, group)
        joined = {str(w.get("name")) for w in cluster.sync(cluster.scheduler_comm.identity)["workers"].values()}
        pending = [d for d in deployments if d not in joined][: before - n]
        if pending:
            cluster.sync(self._delete, group, pending)
        if before - n - len(pending) > 0:
            done = cluster.sync(getattr(cluster.scheduler_comm, RETIRE_HANDLER), pool=pool,
                                n=before - n - len(pending))
            retired, kept = list(done["retired"]), list(done["kept"])
            cluster.sync(self._delete, group, [r for r in retired if r in deployments])
        after = before - len(pending) - len(retired)
        cluster.scale(after, worker_group=suffix)
        logger.info("pool %r (group %s) scaled from %d to %d workers (asked %d)%s", pool, group, before, after, n,
                    f"; retired {retired}" if retired else "")
        return Scaled(pool, before, after, tuple(retired), tuple(kept))
