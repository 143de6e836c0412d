"""Kubernetes manifests through dask-kubernetes: one worker group per placement pool (pure builders).

* The ``DaskCluster`` runs ``dask scheduler --preload daskcollab.deploy.scheduler`` (the placement
  plugin, per-pool scaling and the dashboard page); the **first** pool is its default worker group
  (dask-kubernetes names it ``<name>-default``).
* Every further pool becomes one ``DaskWorkerGroup`` ``<name>-<pool>``. Its workers run
  ``dask worker --preload daskcollab.deploy.worker`` with ``DASKCOLLAB_POOL``,
  ``DASKCOLLAB_PRICE`` and ``DASKCOLLAB_SPEED`` in their environment, ``--nthreads`` and the
  pool's abstract resources (``--resources GPU=1``); pods land on the pool's nodes through a
  node selector and tolerations; a ``GPU`` resource adds an ``nvidia.com/gpu`` container limit.
  Every worker pod is labelled ``daskcollab/pool: <pool>``.
* The scheduler gets the pools (with ``min`` / ``max``) as ``collab.placement.pools`` (environment
  ``DASK_COLLAB__PLACEMENT__POOLS``), so the plugin knows a pool before its pods are up.
* :func:`kube_job_manifests`: the same as a ``DaskJob`` whose runner pod runs
  ``daskcollab run WORKFLOW.yaml`` against the job's cluster.

The manifests are built with dask-kubernetes' own ``make_cluster_spec`` / ``make_worker_spec``;
their ``dask-scheduler`` / ``dask-worker`` commands (removed in distributed 2026.6) are rewritten
to ``dask scheduler`` / ``dask worker``. Pools are checked (:mod:`._kube_pools`) before anything is built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from daskcollab._contract import POOL_ENV, PRICE_ENV, SCHEDULER_PRELOAD, SPEED_ENV, WORKER_PRELOAD
from daskcollab.deploy._kube_pools import (
    KubePool,
    _container_resources,
    _error,
    _string_map,
    check_dns_1035,
    check_namespace,
    kube_pool,
    load_kube_pools,
)
from daskcollab.placement import Pool

#: Scheduler preload that installs the placement plugin, pool scaling and the dashboard page.
WORKER_COMMAND = ("dask", "worker")
SCHEDULER_COMMAND = ("dask", "scheduler")
#: Pod label carrying the pool name on every worker pod.
POOL_POD_LABEL = "daskcollab/pool"
#: dask-kubernetes' suffix of the DaskCluster's own worker group (the first pool's).
DEFAULT_GROUP = "default"
_INSTALL = "pip install 'daskcollab[kubernetes]' (or pip install dask-kubernetes==2026.3.0)"


def _operator() -> Any:
    try:
        import dask_kubernetes.operator as operator
    except ImportError as exc:
        raise ImportError(f"Kubernetes deployment needs dask-kubernetes: {_INSTALL}") from exc
    return operator


def config_env(config: Mapping[str, Any] | None) -> dict[str, str]:
    """Dask config keys as the environment variables ``dask.config`` reads at start-up.

    Strings are passed as they are, other values as Python literals (lists, numbers, booleans).

    Examples
    --------
    >>> config_env({"collab.placement.mode": "cheapest", "distributed.scheduler.work-stealing": False})
    {'DASK_COLLAB__PLACEMENT__MODE': 'cheapest', 'DASK_DISTRIBUTED__SCHEDULER__WORK_STEALING': 'False'}
    """
    out = {}
    for key, value in (config or {}).items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", key) or ".." in key:
            raise _error("config", f"expected a dotted Dask config key, got {key!r}",
                         "write e.g. collab.placement.mode")
        variable = "DASK_" + key.replace(".", "__").replace("-", "_").upper()
        out[variable] = value if isinstance(value, str) else repr(value)
    return out


def _declared_pools(pools: Sequence[KubePool]) -> str:
    """``collab.placement.pools`` as JSON (strings and numbers only, so also the Python literal
    ``dask.config`` parses the variable as)."""
    return json.dumps([
        {"name": p.pool.name, "price-per-hour": float(p.pool.price_per_hour), "speed": float(p.pool.speed),
         "workers": int(p.pool.workers), "min": int(p.pool.min_workers), "max": int(p.pool.max_workers),
         "resources": {k: float(v) for k, v in p.pool.resources.items()}}
        for p in pools
    ])


def kube_worker_spec(
    pool: KubePool | Pool | Mapping[str, Any],
    *,
    image: str,
    env: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    nthreads: int = 1,
) -> dict[str, Any]:
    """The ``worker`` part of a ``DaskCluster`` / ``DaskWorkerGroup`` for one pool (pure).

    Also the ``custom_spec`` of ``KubeCluster.add_worker_group``.

    Examples
    --------
    >>> spec = kube_worker_spec(Pool("gpu", 2.5, resources={"GPU": 1}), image="ghcr.io/dask/dask:2026.8.0")
    >>> spec["spec"]["containers"][0]["args"][-4:]
    ['--preload', 'daskcollab.deploy.worker', '--resources', 'GPU=1']
    """
    kp = kube_pool(pool)
    p = kp.pool
    variables = {**_string_map(env, "env", "{KEY: value}"), **config_env(config), **kp.env}
    variables.update({POOL_ENV: p.name, PRICE_ENV: repr(float(p.price_per_hour)), SPEED_ENV: repr(float(p.speed))})
    resources = kp.container_resources()
    spec = _operator().make_worker_spec(
        image=kp.image or image, n_workers=p.workers, resources=resources or None, env=variables,
        worker_command=list(WORKER_COMMAND),
    )
    spec = {"replicas": spec.pop("replicas"), "metadata": {"labels": {**kp.labels, POOL_POD_LABEL: p.name}}, **spec}
    pod = spec["spec"]
    (container,) = pod["containers"]
    container["args"] += ["--nthreads", str(kp.nthreads or nthreads), "--preload", WORKER_PRELOAD]
    if p.resources:
        container["args"] += ["--resources", " ".join(f"{k}={float(v):g}" for k, v in p.resources.items())]
    if not resources:
        del container["resources"]
    if kp.node_selector:
        pod["nodeSelector"] = dict(kp.node_selector)
    if kp.tolerations:
        pod["tolerations"] = [dict(t) for t in kp.tolerations]
    return spec


def worker_group(pools: Sequence[KubePool | Pool | Mapping[str, Any]], pool: str) -> str:
    """The ``worker_group`` of ``KubeCluster.scale(n, worker_group=...)`` for ``pool`` (pure).

    The first pool is the DaskCluster's default group, which dask-kubernetes names ``<name>-default``.

    Examples
    --------
    >>> from daskcollab.placement import EXAMPLE_POOLS
    >>> worker_group(EXAMPLE_POOLS, "cpu-spot"), worker_group(EXAMPLE_POOLS, "gpu")
    ('default', 'gpu')
    """
    names = [kube_pool(p).pool.name for p in pools]
    if pool not in names:
        raise _error("pool", f"expected one of {names!r}, got {pool!r}", "name a pool of the cluster's pools file")
    return DEFAULT_GROUP if pool == names[0] else pool


def check_cluster_name(name: Any, pools: Sequence[KubePool]) -> str:
    """``name`` if it can name a DaskCluster with these pools' worker groups, else a clear error."""
    from dask_kubernetes.constants import MAX_CLUSTER_NAME_LEN

    check_dns_1035(name, "name", "the cluster name", "name the cluster e.g. collab", limit=MAX_CLUSTER_NAME_LEN)
    for kp in pools:
        group = f"{name}-{kp.pool.name}"
        if len(group) > 63:
            raise _error(f"pools.{kp.pool.name}.name", f"expected worker group names of at most 63 characters, got "
                         f"{group!r} ({len(group)})", "shorten the cluster or the pool name")
    return name


def kube_manifests(
    name: str,
    pools: Iterable[KubePool | Pool | Mapping[str, Any]],
    *,
    image: str,
    env: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    nthreads: int = 1,
    namespace: str | None = None,
    scheduler_resources: Mapping[str, Mapping[str, str]] | None = None,
    scheduler_service_type: str = "ClusterIP",
    idle_timeout: int = 0,
    declare_pools: bool = True,
) -> list[dict[str, Any]]:
    """The ``DaskCluster`` (first pool = default worker group) and one ``DaskWorkerGroup`` per further pool.

    Pure: nothing talks to Kubernetes. ``kubectl apply -f`` the result (see :func:`manifests_yaml`)
    with the dask-kubernetes operator installed, or use :func:`start_kube_cluster`.

    Parameters
    ----------
    name : str
        ``DaskCluster`` name; worker groups are named ``<name>-<pool>``.
    pools : iterable of KubePool, Pool or mapping
        Mappings as in the pools YAML (see :func:`kube_pool`).
    image : str
        Container image with daskcollab installed (scheduler and workers).
    env : mapping, optional
        Environment variables of the scheduler and every worker.
    config : mapping, optional
        Dask config of the scheduler and every worker, e.g. ``{"collab.placement.mode": "cheapest"}``.
    nthreads : int
        ``--nthreads`` of workers whose pool does not set ``kubernetes.nthreads``.
    declare_pools : bool
        Give the scheduler the pools as ``collab.placement.pools``, so tasks wait for a pool whose
        pods are not up yet instead of failing as unplaceable.

    Examples
    --------
    >>> from daskcollab.placement import EXAMPLE_POOLS
    >>> docs = kube_manifests("collab", EXAMPLE_POOLS, image="ghcr.io/you/daskcollab:0.1.0")
    >>> [(d["kind"], d["metadata"]["name"]) for d in docs]
    [('DaskCluster', 'collab'), ('DaskWorkerGroup', 'collab-cpu-ondemand'), ('DaskWorkerGroup', 'collab-gpu')]
    """
    operator = _operator()
    kpools = load_kube_pools(pools)
    check_cluster_name(name, kpools)
    namespace = check_namespace(namespace)
    if not isinstance(image, str) or not image:
        raise _error("image", f"expected a container image with daskcollab installed, got {image!r}",
                     "pass e.g. --image ghcr.io/you/daskcollab:0.1.0")
    shared = {**_string_map(env, "env", "{KEY: value}"), **config_env(config)}
    cluster = operator.make_cluster_spec(
        name=name, image=image, n_workers=kpools[0].pool.workers, env=shared or None,
        worker_command=list(WORKER_COMMAND), scheduler_service_type=scheduler_service_type, idle_timeout=idle_timeout,
    )
    cluster["spec"]["worker"] = kube_worker_spec(kpools[0], image=image, env=env, config=config, nthreads=nthreads)
    (scheduler,) = cluster["spec"]["scheduler"]["spec"]["containers"]
    args = list(scheduler["args"])
    if args[:1] == ["dask-scheduler"]:  # dask-kubernetes 2026.3 still uses the removed command
        args[:1] = list(SCHEDULER_COMMAND)
    scheduler["args"] = [*args, "--preload", SCHEDULER_PRELOAD]
    scheduler_env = dict(shared)
    if declare_pools:
        scheduler_env["DASK_COLLAB__PLACEMENT__POOLS"] = _declared_pools(kpools)
    if scheduler_env:
        scheduler["env"] = [{"name": k, "value": v} for k, v in scheduler_env.items()]
    else:
        del scheduler["env"]
    if scheduler_resources:
        scheduler["resources"] = _container_resources(scheduler_resources, "scheduler-resources")
    else:
        del scheduler["resources"]
    docs = [cluster]
    for kp in kpools[1:]:
        docs.append({
            "apiVersion": cluster["apiVersion"],
            "kind": "DaskWorkerGroup",
            "metadata": {"name": f"{name}-{kp.pool.name}"},
            "spec": {"cluster": name,
                     "worker": kube_worker_spec(kp, image=image, env=env, config=config, nthreads=nthreads)},
        })
    if namespace:
        for doc in docs:
            doc["metadata"]["namespace"] = namespace
    return docs


def manifests_yaml(manifests: Iterable[Mapping[str, Any]]) -> str:
    """Multi-document YAML for ``kubectl apply -f -`` (also a ``daskcollab kubernetes`` output file).

    Examples
    --------
    >>> print(manifests_yaml([{"kind": "DaskCluster"}]), end="")
    kind: DaskCluster
    """
    import yaml

    return yaml.safe_dump_all([dict(m) for m in manifests], sort_keys=False, default_flow_style=False)


def kube_job_manifests(
    name: str,
    pools: Iterable[KubePool | Pool | Mapping[str, Any]],
    workflow: str,
    *,
    image: str,
    env: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    nthreads: int = 1,
    namespace: str | None = None,
    runner_resources: Mapping[str, Mapping[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """A ``DaskJob`` that runs ``daskcollab run WORKFLOW`` on a cluster of these pools, plus its worker groups.

    Pure. The operator creates the job's ``DaskCluster`` (named ``name``; the first pool is its
    default worker group), then the runner pod, whose ``DASK_SCHEDULER_ADDRESS`` points at that
    cluster; ``daskcollab run`` connects there. Further pools are ``DaskWorkerGroup`` objects of
    cluster ``name``: apply them with the job (the operator adopts them once the cluster exists,
    and deletes them with it when the job ends).

    ``workflow`` is the path of the workflow file **inside the image** (the project's Dockerfile
    copies ``workflows/`` into its working directory); its data paths must be reachable from the
    pods (object storage or a shared volume).

    Examples
    --------
    >>> from daskcollab.placement import EXAMPLE_POOLS
    >>> docs = kube_job_manifests("nightly", EXAMPLE_POOLS, "workflows/flights-delay.yaml", image="me/dc:0.1")
    >>> [(d["kind"], d["metadata"]["name"]) for d in docs]
    [('DaskJob', 'nightly'), ('DaskWorkerGroup', 'nightly-cpu-ondemand'), ('DaskWorkerGroup', 'nightly-gpu')]
    >>> docs[0]["spec"]["job"]["spec"]["containers"][0]["args"]
    ['daskcollab', 'run', 'workflows/flights-delay.yaml', '--no-progress']
    """
    cluster, *groups = kube_manifests(name, pools, image=image, env=env, config=config, nthreads=nthreads,
                                      namespace=namespace)
    if not isinstance(workflow, str) or not workflow.strip():
        raise _error("job", f"expected the workflow file's path in the image, got {workflow!r}",
                     "pass e.g. --job workflows/flights-delay.yaml")
    shared = {**_string_map(env, "env", "{KEY: value}"), **config_env(config)}
    runner: dict[str, Any] = {"name": "runner", "image": image, "args": ["daskcollab", "run", workflow, "--no-progress"]}
    if shared:
        runner["env"] = [{"name": k, "value": v} for k, v in shared.items()]
    if runner_resources:
        runner["resources"] = _container_resources(runner_resources, "runner-resources")
    job = {
        "apiVersion": cluster["apiVersion"],
        "kind": "DaskJob",
        "metadata": {"name": name, **({"namespace": namespace} if namespace else {})},
        "spec": {
            "job": {"spec": {"containers": [runner], "restartPolicy": "Never"}},
            "cluster": {"spec": cluster["spec"]},
        },
    }
    return [job, *groups]
