"""Kubernetes deployment through dask-kubernetes: one worker group per placement pool.

Pure manifest builders (no API server needed) and a thin :func:`start_kube_cluster` glue.

* The ``DaskCluster`` runs ``dask scheduler --preload daskcollab.placement`` (the placement
  plugin and the dashboard page); the **first** pool is its default worker group.
* Every further pool becomes one ``DaskWorkerGroup``. Its workers run
  ``dask worker --preload daskcollab.placement.worker`` with ``DASKCOLLAB_POOL``,
  ``DASKCOLLAB_PRICE`` and ``DASKCOLLAB_SPEED`` in their environment, ``--nthreads`` and the
  pool's abstract resources (``--resources GPU=1``); pods land on the pool's nodes through a
  node selector and tolerations; a ``GPU`` resource adds an ``nvidia.com/gpu`` container limit.
* The scheduler gets the pools as ``collab.placement.pools`` (environment
  ``DASK_COLLAB__PLACEMENT__POOLS``), so the plugin knows a pool before its pods are up.

The manifests are built with dask-kubernetes' own ``make_cluster_spec`` / ``make_worker_spec``;
their ``dask-scheduler`` / ``dask-worker`` commands (removed in distributed 2026.6) are rewritten
to ``dask scheduler`` / ``dask worker``.

Pools come from the same YAML list ``daskcollab plan --pools`` reads, each with an optional
``kubernetes:`` block (keys in :data:`KUBERNETES_KEYS`)::

    - name: cpu-spot
      price-per-hour: 0.10
      workers: 4
      kubernetes:
        node-pool: spot-pool
        tolerations: [{key: cloud.google.com/gke-spot, operator: Equal, value: "true", effect: NoSchedule}]
        resources: {requests: {cpu: "1", memory: 4Gi}, limits: {memory: 4Gi}}
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from daskcollab._errors import DaskCollabError, stage_message
from daskcollab.placement._local import WORKER_PRELOAD
from daskcollab.placement._planning import Pool
from daskcollab.placement._pools import pool_from_mapping

#: Scheduler preload that installs the placement plugin and the dashboard page.
SCHEDULER_PRELOAD = "daskcollab.placement"
WORKER_COMMAND = ("dask", "worker")
SCHEDULER_COMMAND = ("dask", "scheduler")
#: Container resource asked for when a pool has the abstract resource ``GPU``.
GPU_RESOURCE = "nvidia.com/gpu"
#: Node label ``node-pool:`` selects on unless ``node-pool-label:`` names another
#: (EKS: ``eks.amazonaws.com/nodegroup``, AKS: ``agentpool``).
DEFAULT_NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"
#: Pod label carrying the pool name on every worker pod.
POOL_POD_LABEL = "daskcollab/pool"
#: Keys of a pool's ``kubernetes:`` block (``-`` or ``_`` spelling).
KUBERNETES_KEYS = ("node-pool", "node-pool-label", "node-selector", "tolerations", "resources", "nthreads", "image",
                   "env", "labels")
_ENV_RESERVED = ("DASKCOLLAB_POOL", "DASKCOLLAB_PRICE", "DASKCOLLAB_SPEED")
_STAGE = "kubernetes"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$")
_TOLERATION_KEYS = {"key": str, "operator": str, "value": str, "effect": str, "tolerationSeconds": int}
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_INSTALL = "pip install 'daskcollab[kubernetes]' (or pip install dask-kubernetes==2026.3.0)"


def _error(field_: str, problem: str, fix: str) -> DaskCollabError:
    return DaskCollabError(stage_message(_STAGE, field_, problem, fix))


def _string(value: Any, where: str, fix: str) -> str:
    """A Kubernetes string value: str, int or float (converted), never a bool or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _error(where, f"expected a string, got {value!r}", fix)
    return value if isinstance(value, str) else repr(value)


def _string_map(value: Any, where: str, example: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _error(where, f"expected a mapping of strings, got {value!r}", f"write it as {example}")
    return {
        _string(k, f"{where}.{k}", f"write it as {example}"): _string(
            v, f"{where}.{k}", f"quote the value, e.g. {k}: \"{str(v).lower()}\""
        )
        for k, v in value.items()
    }


def _tolerations(value: Any, where: str) -> tuple[dict[str, Any], ...]:
    example = '[{key: cloud.google.com/gke-spot, operator: Equal, value: "true", effect: NoSchedule}]'
    if value is None:
        return ()
    if isinstance(value, Mapping) or not isinstance(value, Sequence) or isinstance(value, str):
        raise _error(where, f"expected a list of tolerations, got {value!r}", f"write it as {example}")
    out = []
    for i, tol in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(tol, Mapping):
            raise _error(at, f"expected a mapping, got {tol!r}", f"write it as {example}")
        unknown = sorted(set(tol) - set(_TOLERATION_KEYS))
        if unknown:
            raise _error(at, f"expected keys from {sorted(_TOLERATION_KEYS)}, got {unknown!r}",
                         f"remove or rename them, e.g. {example}")
        clean: dict[str, Any] = {}
        for key, kind in _TOLERATION_KEYS.items():
            if key not in tol:
                continue
            v = tol[key]
            if kind is int:
                if isinstance(v, bool) or not isinstance(v, int):
                    raise _error(f"{at}.{key}", f"expected whole seconds, got {v!r}",
                                 "write e.g. tolerationSeconds: 300")
                clean[key] = v
            else:
                clean[key] = _string(v, f"{at}.{key}", f'quote the value, e.g. {key}: "{str(v).lower()}"')
        if clean.get("operator", "Equal") not in _TOLERATION_OPERATORS:
            raise _error(f"{at}.operator", f"expected one of {list(_TOLERATION_OPERATORS)}, got {clean['operator']!r}",
                         "use Equal (with a value) or Exists")
        if clean.get("effect", "NoSchedule") not in _TOLERATION_EFFECTS:
            raise _error(f"{at}.effect", f"expected one of {list(_TOLERATION_EFFECTS)}, got {clean['effect']!r}",
                         "use the effect of the node taint, usually NoSchedule")
        out.append(clean)
    return tuple(out)


def _container_resources(value: Any, where: str) -> dict[str, dict[str, str]]:
    example = '{requests: {cpu: "2", memory: 4Gi}, limits: {memory: 4Gi}}'
    if value is None:
        return {}
    if not isinstance(value, Mapping) or set(value) - {"requests", "limits"}:
        raise _error(where, f"expected a mapping with 'requests' and/or 'limits', got {value!r}",
                     f"write it as {example} (abstract Dask resources such as GPU go in the pool's own 'resources')")
    out: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        if part not in value:
            continue
        quantities = _string_map(value[part], f"{where}.{part}", example)
        for name, quantity in quantities.items():
            if not _QUANTITY.match(quantity):
                raise _error(f"{where}.{part}.{name}", f"expected a Kubernetes quantity, got {quantity!r}",
                             "write e.g. cpu: \"500m\", memory: 4Gi, nvidia.com/gpu: \"1\"")
        out[part] = quantities
    return out


@dataclass(frozen=True)
class KubePool:
    """A placement :class:`~daskcollab.placement.Pool` plus where and how its pods run.

    Parameters
    ----------
    pool : Pool
        Name (also the worker group's suffix, so a DNS label), price, speed, ``workers``
        (the group's replicas) and abstract resources (``GPU`` adds an ``nvidia.com/gpu`` limit).
    node_selector : mapping of str to str
        Node labels the pods require, e.g. ``{"cloud.google.com/gke-nodepool": "gpu-pool"}``.
    tolerations : sequence of mapping
        Pod tolerations, e.g. for spot or GPU node taints.
    resources : mapping
        Container ``requests`` / ``limits`` (Kubernetes quantities, stored as strings).
    nthreads : int, optional
        Threads per worker; default: the ``nthreads`` given to :func:`kube_manifests`.
    image : str, optional
        Container image for this pool (e.g. a CUDA build); default: the cluster's image.
    env, labels : mapping of str to str
        Extra environment variables of the workers; extra labels of the worker pods.

    Examples
    --------
    >>> gpu = KubePool(Pool("gpu", 2.5, resources={"GPU": 1}), node_selector={"pool": "gpu"})
    >>> gpu.container_resources()["limits"]
    {'nvidia.com/gpu': '1'}
    """

    pool: Pool
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, Any]] = ()
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    nthreads: int | None = None
    image: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pool = self.pool
        if not isinstance(pool, Pool):
            raise _error("pool", f"expected a Pool, got {pool!r}", "pass KubePool(Pool('cpu-spot', 0.1), ...)")
        where = f"pools.{pool.name}"
        if not isinstance(pool.name, str) or not _DNS_LABEL.match(pool.name):
            raise _error(f"{where}.name", f"expected a lowercase DNS label (a-z, 0-9, '-'), got {pool.name!r}",
                         "rename the pool, e.g. cpu-spot; it names the DaskWorkerGroup")
        if pool.price_per_hour < 0 or pool.speed <= 0:
            raise _error(where, f"expected price-per-hour >= 0 and speed > 0, got {pool.price_per_hour!r} and "
                         f"{pool.speed!r}", "write e.g. price-per-hour: 0.10, speed: 1.0")
        if isinstance(pool.workers, bool) or not isinstance(pool.workers, int) or pool.workers < 0:
            raise _error(f"{where}.workers", f"expected a whole number of workers >= 0, got {pool.workers!r}",
                         "write e.g. workers: 2 (the worker group's replicas)")
        for name, amount in pool.resources.items():
            if not name or re.search(r"[\s=,]", name):
                raise _error(f"{where}.resources", f"expected resource names without spaces, '=' or ',', got {name!r}",
                             "rename the resource, e.g. GPU")
            if name == "GPU" and (float(amount) != int(amount) or amount < 1):
                raise _error(f"{where}.resources.GPU", f"expected a whole number of GPUs >= 1, got {amount!r}",
                             "Kubernetes hands out whole GPUs: write GPU: 1")
        k8s = f"{where}.kubernetes"
        set_ = object.__setattr__
        set_(self, "node_selector", _string_map(self.node_selector, f"{k8s}.node-selector", "{disktype: ssd}"))
        set_(self, "tolerations", _tolerations(self.tolerations, f"{k8s}.tolerations"))
        set_(self, "resources", _container_resources(self.resources, f"{k8s}.resources"))
        set_(self, "env", _string_map(self.env, f"{k8s}.env", "{OMP_NUM_THREADS: \"1\"}"))
        set_(self, "labels", _string_map(self.labels, f"{k8s}.labels", "{team: ml}"))
        reserved = sorted(set(self.env) & set(_ENV_RESERVED))
        if reserved:
            raise _error(f"{k8s}.env", f"expected no daskcollab pool variables, got {reserved!r}",
                         "set the pool's name, price-per-hour and speed instead; they become these variables")
        if self.nthreads is not None and (isinstance(self.nthreads, bool) or not isinstance(self.nthreads, int)
                                          or self.nthreads < 1):
            raise _error(f"{k8s}.nthreads", f"expected a whole number of threads >= 1, got {self.nthreads!r}",
                         "write e.g. nthreads: 2")
        if self.image is not None and (not isinstance(self.image, str) or not self.image):
            raise _error(f"{k8s}.image", f"expected a container image name, got {self.image!r}",
                         "write e.g. image: ghcr.io/you/daskcollab:0.1.0-cuda, or leave it out")

    def container_resources(self) -> dict[str, dict[str, str]]:
        """Container ``requests`` / ``limits``, with one ``nvidia.com/gpu`` per abstract ``GPU``.

        An explicit ``*/gpu`` limit (e.g. ``amd.com/gpu``) is kept as given.
        """
        out = {part: dict(q) for part, q in self.resources.items()}
        gpus = self.pool.resources.get("GPU")
        if gpus and not any(name.endswith("/gpu") for name in out.get("limits", {})):
            out.setdefault("limits", {})[GPU_RESOURCE] = str(int(gpus))
        return out


def kube_pool(spec: KubePool | Pool | Mapping[str, Any], index: int | None = None) -> KubePool:
    """A :class:`KubePool` from a pool mapping with an optional ``kubernetes:`` block.

    The mapping is the one ``daskcollab plan --pools`` reads (``name``, ``price-per-hour``,
    ``speed``, ``workers``, ``resources``); ``kubernetes:`` takes the keys in
    :data:`KUBERNETES_KEYS`; ``node-pool: NAME`` selects nodes labelled
    ``node-pool-label`` (default ``cloud.google.com/gke-nodepool``) ``= NAME``.

    Examples
    --------
    >>> kp = kube_pool({"name": "cpu-spot", "price-per-hour": 0.1, "kubernetes": {"node-pool": "spot"}})
    >>> kp.node_selector
    {'cloud.google.com/gke-nodepool': 'spot'}
    """
    if isinstance(spec, KubePool):
        return spec
    if isinstance(spec, Pool):
        return KubePool(spec)
    where = "pools" if index is None else f"pools[{index}]"
    if not isinstance(spec, Mapping):
        raise _error(where, f"expected a pool mapping, got {spec!r}",
                     "write each pool as {name: cpu-spot, price-per-hour: 0.1, workers: 2, kubernetes: {...}}")
    base = {k: v for k, v in spec.items() if k != "kubernetes"}
    try:
        pool = pool_from_mapping(base)
    except (TypeError, ValueError) as exc:
        raise _error(where, f"expected numbers for price-per-hour, speed, workers and resources, got {dict(base)!r} "
                     f"({exc})", "write e.g. {name: gpu, price-per-hour: 2.5, speed: 1.0, workers: 1, "
                     "resources: {GPU: 1}}") from None
    block = spec.get("kubernetes") or {}
    k8s = f"pools.{pool.name}.kubernetes"
    if not isinstance(block, Mapping):
        raise _error(k8s, f"expected a mapping, got {block!r}", "write e.g. kubernetes: {node-pool: gpu-pool}")
    options = {str(k).replace("_", "-"): v for k, v in block.items()}
    unknown = sorted(set(options) - set(KUBERNETES_KEYS))
    if unknown:
        raise _error(k8s, f"expected keys from {list(KUBERNETES_KEYS)}, got {unknown!r}",
                     "remove or rename them (see workflows/pools/kubernetes.yaml)")
    selector = _string_map(options.get("node-selector"), f"{k8s}.node-selector", "{disktype: ssd}")
    if options.get("node-pool") is not None:
        label = _string(options.get("node-pool-label", DEFAULT_NODE_POOL_LABEL), f"{k8s}.node-pool-label",
                        "write e.g. node-pool-label: eks.amazonaws.com/nodegroup")
        selector[label] = _string(options["node-pool"], f"{k8s}.node-pool", "write e.g. node-pool: gpu-pool")
    elif "node-pool-label" in options:
        raise _error(f"{k8s}.node-pool", "expected a node pool name with node-pool-label, got None",
                     "add node-pool: NAME, or drop node-pool-label")
    return KubePool(
        pool,
        node_selector=selector,
        tolerations=options.get("tolerations"),
        resources=options.get("resources"),
        nthreads=options.get("nthreads"),
        image=options.get("image"),
        env=options.get("env"),
        labels=options.get("labels"),
    )


def load_kube_pools(source: str | os.PathLike[str] | Iterable[Any]) -> list[KubePool]:
    """Read pools (a YAML file path, or an already-loaded list) as :class:`KubePool` objects.

    Examples
    --------
    >>> [p.pool.name for p in load_kube_pools([{"name": "cpu", "price-per-hour": 0.2}])]
    ['cpu']
    """
    origin = ""
    if isinstance(source, (str, os.PathLike)):
        import yaml

        origin = f" in {os.fspath(source)!r}"
        with open(source) as f:
            specs = yaml.safe_load(f)
    else:
        specs = source
    if isinstance(specs, (Mapping, str)) or not isinstance(specs, Iterable) or not (specs := list(specs)):
        raise _error("pools", f"expected a non-empty YAML list of pools{origin}, got {specs!r}",
                     "write - {name: cpu-spot, price-per-hour: 0.1, workers: 2} (one item per pool)")
    pools = [kube_pool(spec, i) for i, spec in enumerate(specs)]
    names = [p.pool.name for p in pools]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise _error(f"pools[{i}].name", f"expected unique pool names, got {name!r} again{origin}",
                         "rename one of them: every pool becomes its own worker group")
    return pools


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
         "workers": int(p.pool.workers), "resources": {k: float(v) for k, v in p.pool.resources.items()}}
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
    ['--preload', 'daskcollab.placement.worker', '--resources', 'GPU=1']
    """
    kp = kube_pool(pool)
    p = kp.pool
    variables = {**_string_map(env, "env", "{KEY: value}"), **config_env(config), **kp.env}
    variables.update(DASKCOLLAB_POOL=p.name, DASKCOLLAB_PRICE=repr(float(p.price_per_hour)),
                     DASKCOLLAB_SPEED=repr(float(p.speed)))
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
    from dask_kubernetes.constants import MAX_CLUSTER_NAME_LEN, VALID_CLUSTER_NAME

    kpools = load_kube_pools(pools)
    if not isinstance(name, str) or not VALID_CLUSTER_NAME.match(name):
        raise _error("name", f"expected a lowercase DNS label of at most {MAX_CLUSTER_NAME_LEN} characters, got "
                     f"{name!r}", "name the cluster e.g. collab")
    for kp in kpools:
        group = f"{name}-{kp.pool.name}"
        if len(group) > 63:
            raise _error(f"pools.{kp.pool.name}.name", f"expected worker group names of at most 63 characters, got "
                         f"{group!r} ({len(group)})", "shorten the cluster or the pool name")
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
    """Multi-document YAML for ``kubectl apply -f -``.

    Examples
    --------
    >>> print(manifests_yaml([{"kind": "DaskCluster"}]), end="")
    kind: DaskCluster
    """
    import yaml

    return yaml.safe_dump_all([dict(m) for m in manifests], sort_keys=False, default_flow_style=False)


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

    Needs a Kubernetes API server with the dask-kubernetes operator installed; ``kwargs`` go to
    ``KubeCluster`` (e.g. ``shutdown_on_close``, ``resource_timeout``). Untested here: no API
    server was available; the manifests it sends are :func:`kube_manifests`' (tested).

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
