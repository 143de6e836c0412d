"""Pools for Kubernetes: a placement :class:`Pool` plus where and how its pods run, read from a pools file.

Everything a Kubernetes API server or kubelet would reject later (or the operator would retry forever
in its log) is checked here, before any custom resource is created, with an error naming the pool
and the field: names that are not DNS-1035 labels, label keys and values Kubernetes refuses,
tolerations with ``operator: Exists`` and a ``value``, container ``requests`` above ``limits``,
fractional GPUs, malformed quantities. Pure: no Kubernetes client needed.

The pools file is the YAML list ``daskcollab plan --pools`` reads, each pool with optional ``min`` /
``max`` (elastic bounds, default ``workers``) and an optional ``kubernetes:`` block (keys in
:data:`KUBERNETES_KEYS`)::

    - name: cpu-spot
      price-per-hour: 0.10
      workers: 2
      min: 0
      max: 8
      kubernetes:
        node-pool: spot-pool
        tolerations: [{key: cloud.google.com/gke-spot, operator: Equal, value: "true", effect: NoSchedule}]
        resources: {requests: {cpu: "1", memory: 4Gi}, limits: {memory: 4Gi}}
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from daskcollab._contract import WORKER_ENV
from daskcollab._errors import DaskCollabError, stage_message
from daskcollab.placement import Pool, pool_from_mapping

#: Container resource asked for when a pool has the abstract resource ``GPU``.
GPU_RESOURCE = "nvidia.com/gpu"
#: Node label ``node-pool:`` selects on unless ``node-pool-label:`` names another
#: (EKS: ``eks.amazonaws.com/nodegroup``, AKS: ``agentpool``).
DEFAULT_NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"
#: Keys of a pool's ``kubernetes:`` block (``-`` or ``_`` spelling).
KUBERNETES_KEYS = ("node-pool", "node-pool-label", "node-selector", "tolerations", "resources", "nthreads", "image",
                   "env", "labels")
ENV_RESERVED = WORKER_ENV
_STAGE = "kubernetes"
#: RFC 1035 label (Service names, and so pool and cluster names): lowercase, starts with a letter.
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
#: RFC 1123 label (namespaces): lowercase alphanumerics and '-'.
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$")
_SUFFIX = {"": 1.0, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           **{f"{s}i": 2.0 ** (10 * (i + 1)) for i, s in enumerate("KMGTPE")}}
_TOLERATION_KEYS = {"key": str, "operator": str, "value": str, "effect": str, "tolerationSeconds": int}
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


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


def parse_quantity(text: str) -> float:
    """A Kubernetes quantity as a number (``"500m"`` -> 0.5, ``"4Gi"`` -> 4294967296.0).

    Examples
    --------
    >>> parse_quantity("500m"), parse_quantity("4Gi"), parse_quantity("1e3")
    (0.5, 4294967296.0, 1000.0)
    """
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    suffix = match.group(2) or ""
    if suffix[:1] in "eE" and suffix:
        return float(text)
    return float(text[: len(text) - len(suffix)]) * _SUFFIX[suffix]


def check_dns_1035(name: Any, where: str, what: str, fix: str, limit: int = 63) -> str:
    """``name`` if it is an RFC 1035 label of at most ``limit`` characters, else a clear error."""
    if not isinstance(name, str) or len(name) > limit or not DNS_1035.match(name):
        raise _error(where, f"expected {what} to be a DNS-1035 label (lowercase a-z, 0-9 and '-', starting with a "
                     f"letter, at most {limit} characters), got {name!r}", fix)
    return name


def check_namespace(namespace: Any) -> str | None:
    """A namespace name (RFC 1123 label) or None."""
    if namespace is not None and (not isinstance(namespace, str) or len(namespace) > 63
                                  or not DNS_1123.match(namespace)):
        raise _error("namespace", f"expected a DNS-1123 label (lowercase a-z, 0-9 and '-', at most 63 characters), "
                     f"got {namespace!r}", "name an existing namespace, e.g. ml")
    return namespace


def _labels(value: Any, where: str, example: str) -> dict[str, str]:
    """Label keys (``[prefix/]name``) and values as Kubernetes accepts them (selector keys are label keys)."""
    labels = _string_map(value, where, example)
    for key, val in labels.items():
        prefix, _, name = key.rpartition("/")
        if (not name or len(name) > 63 or not _LABEL_NAME.match(name)
                or (prefix and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix)))):
            raise _error(f"{where}.{key}", f"expected a label key ([DNS-subdomain/]name, name at most 63 of "
                         f"A-Z a-z 0-9 - _ .), got {key!r}", "rename the key, e.g. cloud.google.com/gke-nodepool")
        if len(val) > 63 or (val and not _LABEL_NAME.match(val)):
            raise _error(f"{where}.{key}", f"expected a label value (at most 63 of A-Z a-z 0-9 - _ ., starting and "
                         f"ending alphanumeric), got {val!r}", "shorten or rename the value, e.g. gpu-pool")
    return labels


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
        if clean.get("operator") == "Exists" and clean.get("value"):
            raise _error(f"{at}.value", f"expected no value with operator Exists, got {clean['value']!r}",
                         "drop the value (Exists matches any value of the taint), or use operator: Equal")
        if not clean.get("key") and clean.get("operator", "Equal") != "Exists":
            raise _error(f"{at}.key", f"expected a taint key with operator {clean.get('operator', 'Equal')}, got "
                         f"{clean.get('key')!r}", "add the taint's key, or use operator: Exists to tolerate every taint")
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
    requests, limits = out.get("requests", {}), out.get("limits", {})
    for name in {**requests, **limits}:
        if "/" in name:
            for part, values in (("requests", requests), ("limits", limits)):
                if name in values and parse_quantity(values[name]) != int(parse_quantity(values[name])):
                    raise _error(f"{where}.{part}.{name}", f"expected a whole number of {name}, got {values[name]!r}",
                                 f"Kubernetes hands out whole devices: write {name}: \"1\"")
            if name in requests and name in limits and parse_quantity(requests[name]) != parse_quantity(limits[name]):
                raise _error(f"{where}.requests.{name}", f"expected the request of {name} to equal its limit "
                             f"{limits[name]!r}, got {requests[name]!r}", "give the same number in both, or only a limit")
        elif name in requests and name in limits and parse_quantity(requests[name]) > parse_quantity(limits[name]):
            raise _error(f"{where}.requests.{name}", f"expected a request at most the limit {limits[name]!r}, got "
                         f"{requests[name]!r}", f"lower the request or raise the limit, e.g. {name}: {limits[name]} in both")
    return out


@dataclass(frozen=True)
class KubePool:
    """A placement :class:`~daskcollab.placement.Pool` plus where and how its pods run.

    Parameters
    ----------
    pool : Pool
        Name (also the worker group's suffix, so a DNS-1035 label), price, speed, ``workers``
        (the group's replicas), ``min_workers`` / ``max_workers`` and abstract resources
        (``GPU`` adds an ``nvidia.com/gpu`` limit).
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
        check_dns_1035(pool.name, f"{where}.name", "the pool name",
                       "rename the pool, e.g. cpu-spot; it names the DaskWorkerGroup and labels its pods")
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
        set_(self, "node_selector", _labels(self.node_selector, f"{k8s}.node-selector", "{disktype: ssd}"))
        set_(self, "tolerations", _tolerations(self.tolerations, f"{k8s}.tolerations"))
        set_(self, "resources", _container_resources(self.resources, f"{k8s}.resources"))
        set_(self, "env", _string_map(self.env, f"{k8s}.env", "{OMP_NUM_THREADS: \"1\"}"))
        set_(self, "labels", _labels(self.labels, f"{k8s}.labels", "{team: ml}"))
        reserved = sorted(set(self.env) & set(ENV_RESERVED))
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
    except DaskCollabError:
        raise  # names the pool and the field already (workers, min, max)
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
    selector = _labels(options.get("node-selector"), f"{k8s}.node-selector", "{disktype: ssd}")
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


