"""A Kubernetes cluster emulated on this machine, for dask-kubernetes and daskcollab's deployment code.

No Kubernetes API server can run here. What this module puts in its place, and what stays real:

* **API server: emulated** by PyPI's ``kmock`` (:class:`kmock.KubernetesEmulator`, an in-memory object
  store served over HTTP on 127.0.0.1), extended here with what dask-kubernetes relies on and kmock
  leaves out: ``metadata.uid`` / ``generation`` / ``creationTimestamp``, label and field selectors on
  lists, ``GET /version/`` (kr8s asks with a trailing slash; kmock answers 404), ``Service.status``, and
  **validation of the dask-kubernetes custom resources against the operator's own CRD schemas** (shipped
  in dask-kubernetes' helm chart), answered with HTTP 422 as a real API server does.
* **Clients: real.** ``kr8s`` (used by ``KubeCluster`` and the operator) talks HTTP to the emulator
  through a kubeconfig file.
* **Operator: the real handler functions** of ``dask_kubernetes.operator.controller.controller`` (the
  kopf handlers), called by a small reconcile loop (:class:`OperatorLoop`) instead of kopf's reactor:
  on create, on the fields they watch, on their timers (the autoscaler every 5 s, as kopf would).
* **Kubelet, controller manager and cluster DNS: emulated** by :class:`Kubelet`: every Deployment (one
  replica, as the operator makes them) and every bare Pod becomes a Pod object and a **real local
  process** started from the container's ``command`` / ``args`` and ``env`` (``$(VAR)`` expanded); the
  image's ``dask`` and ``daskcollab`` entry points are this interpreter's. Cluster DNS names
  ``<service>.<namespace>.svc.cluster.local:<port>`` in the environment resolve to the local ports of
  the Service's pods; the operator's and ``KubeCluster``'s ``get_scheduler_address`` (Service DNS or a
  port-forward) are pointed at the same table. Deleting an owner deletes its dependents
  (``ownerReferences``), as the garbage collector does.

Use :func:`emulated_kubernetes` (a context manager; the ``kube`` fixture in ``conftest.py`` wraps it).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import json
import logging
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import kmock
import yaml
from crds import crd_schema

logger = logging.getLogger("daskcollab.tests.kubesim")

NAMESPACE = "default"
DASK_GROUP = "kubernetes.dask.org"
#: plural -> (api group/version, kind, namespaced) of every resource the emulator serves.
RESOURCES = {
    "pods": ("v1", "Pod"), "services": ("v1", "Service"), "events": ("v1", "Event"),
    "configmaps": ("v1", "ConfigMap"), "namespaces": ("v1", "Namespace"),
    "deployments": ("apps/v1", "Deployment"),
    "daskclusters": (f"{DASK_GROUP}/v1", "DaskCluster"), "daskworkergroups": (f"{DASK_GROUP}/v1", "DaskWorkerGroup"),
    "daskjobs": (f"{DASK_GROUP}/v1", "DaskJob"), "daskautoscalers": (f"{DASK_GROUP}/v1", "DaskAutoscaler"),
}


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """Kubernetes equality-based label selectors (``a=b,c!=d,e``), as kr8s and the operator send them."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif labels.get(term) is None:
            return False
    return True


def _field_matches(selector: str, obj: dict[str, Any]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        path, value = term.split("=", 1)
        node: Any = obj
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if str(node) != value:
            return False
    return True


@attrs.define(kw_only=True)
class DaskKubeAPI(kmock.KubernetesEmulator):
    """kmock's emulator plus what the dask-kubernetes operator and kr8s need (see the module docstring)."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kr8s asks with a trailing slash, kmock answers only without one
        self.fallback["get /version/"] << self._serve_server_version
        self.fallback["get /api/"] << self._serve_api
        self.fallback["get /apis/"] << self._serve_apis
        for plural, (group_version, kind) in RESOURCES.items():
            self.resources[f"{group_version}/{plural}"] = kmock.ResourceInfo(
                kind=kind, singular=kind.lower(), namespaced=plural != "namespaces",
                verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
                subresources={"status", "scale"} if plural.startswith("dask") or plural == "deployments" else set(),
            )

    async def _serve_server_version(self, request: kmock.Request) -> dict[str, Any]:
        # a version kr8s supports (kmock's default, 1.26, makes kr8s warn)
        return {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kmock", "platform": "linux/amd64"}

    def stored(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Live objects of one resource (copies), for the emulated controllers and for assertions."""
        out = []
        for (resource, ns, _name), obj in list(self.objects.items()):
            if resource.plural == plural and not obj.deleted and (namespace is None or ns == namespace):
                out.append(copy.deepcopy(obj.raw))
        return out

    def _current(self, request: kmock.Request) -> dict[str, Any] | None:
        for (resource, ns, name), obj in self.objects.items():
            if resource == request.resource and ns == request.namespace and name == request.name and not obj.deleted:
                return obj.raw
        return None

    async def _handle(self, request: kmock.Request) -> Any:
        plural = request.resource.plural if request.resource is not None else None
        if plural in RESOURCES:
            kind = RESOURCES[plural][1]
            if request.action == kmock.action.CREATE and isinstance(request.data, dict):
                meta = request.data.setdefault("metadata", {})
                meta.setdefault("namespace", request.namespace or NAMESPACE)
                meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1, resourceVersion="1")
                if kind == "Service":
                    request.data.setdefault("status", {"loadBalancer": {}})
                self._validate(kind, request.data)
            elif request.action == kmock.action.UPDATE and isinstance(request.data, dict):
                current = self._current(request)
                if current is not None:
                    merged = kmock.Object(copy.deepcopy(current))
                    merged.patch(copy.deepcopy(request.data))
                    self._validate(kind, merged.raw)
                    if request.subresource is None and "spec" in request.data:
                        request.data.setdefault("metadata", {})["generation"] = current["metadata"].get(
                            "generation", 1) + 1
        return await super()._handle(request)

    @staticmethod
    def _validate(kind: str, obj: dict[str, Any]) -> None:
        if not kind.startswith("Dask"):
            return
        import jsonschema

        try:
            jsonschema.Draft4Validator(crd_schema(kind)).validate(obj)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path)
            raise kmock.KubernetesError(
                status=422, reason="Invalid",
                message=f'{kind}.{DASK_GROUP} "{obj.get("metadata", {}).get("name")}" is invalid: {where}: '
                        f"{exc.message}",
            ) from None

    async def _serve_list(self, request: kmock.Request) -> Any:
        result = await super()._serve_list(request)
        labels = request.params.get("labelSelector")
        fields = request.params.get("fieldSelector")
        if labels or fields:
            result["items"] = [
                item for item in result["items"]
                if (not labels or _selector_matches(labels, item.get("metadata", {}).get("labels") or {}))
                and (not fields or _field_matches(fields, item))
            ]
        return result


_SERVICE_DNS = re.compile(r"([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?:(\d+)")


def _object_path(obj: dict[str, Any]) -> str:
    plural = next(p for p, (_gv, kind) in RESOURCES.items() if kind == obj["kind"])
    group_version = RESOURCES[plural][0]
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    return f"{base}/namespaces/{obj['metadata']['namespace']}/{plural}/{obj['metadata']['name']}"


# --------------------------------------------------------------------------- kubelet


@attrs.define
class _Container:
    pod: str
    namespace: str
    labels: dict[str, str]
    process: subprocess.Popen
    log: pathlib.Path
    scheduler_file: pathlib.Path | None = None
    ports: dict[str, int] = attrs.field(factory=dict)
    owner: str | None = None  # the Deployment, None for a bare Pod
    phase: str = "Pending"


class Kubelet:
    """Turns Deployments and bare Pods into Pod objects and real local processes (one container each)."""

    def __init__(self, api: DaskKubeAPI, workdir: pathlib.Path) -> None:
        self.api = api
        self.workdir = workdir
        self.containers: dict[tuple[str, str], _Container] = {}  # (namespace, pod name)
        self.stopped: list[_Container] = []  # terminated, reaped at the end
        self._seq = 0

    # --- cluster DNS
    def service_port(self, service: str, namespace: str, port: int | str) -> int | None:
        """The local port behind ``service:port`` (a port number or name), through the Service's selector."""
        for svc in self.api.stored("services", namespace):
            if svc["metadata"]["name"] != service:
                continue
            spec = svc.get("spec") or {}
            names = {p.get("name"): p for p in spec.get("ports", [])}
            wanted = next((p for p in spec.get("ports", []) if p.get("port") == port), names.get(port))
            if wanted is None:
                return None
            target = wanted.get("targetPort", wanted.get("port"))
            for c in self.containers.values():
                if c.namespace == namespace and c.phase == "Running" and _selector_matches(
                        ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()), c.labels):
                    return c.ports.get(target) or c.ports.get(str(target))
        return None

    def resolve(self, value: str, namespace: str) -> str:
        def local(m: re.Match) -> str:
            port = self.service_port(m.group(1), m.group(2), int(m.group(3)))
            return f"127.0.0.1:{port}" if port else m.group(0)

        return _SERVICE_DNS.sub(local, value)

    # --- pods
    def _argv(self, container: dict[str, Any], env: dict[str, str]) -> list[str]:
        words = [*container.get("command", []), *container.get("args", [])]
        words = [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), w) for w in words]
        entry = {"dask": [sys.executable, "-m", "dask"], "daskcollab": [sys.executable, "-m", "daskcollab.cli"],
                 "python": [sys.executable]}
        if not words or words[0] not in entry:
            raise ValueError(f"the emulated image has the entry points {sorted(entry)}, got {words[:1]!r}")
        argv = entry[words[0]] + words[1:]
        if words[:2] == ["dask", "worker"]:  # loopback and free ports on a shared machine
            argv += ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
        return argv

    def start_pod(self, pod: dict[str, Any]) -> bool:
        """Start the pod's container; False while its environment names a Service without ready endpoints
        (a real worker would retry connecting; here it waits to start)."""
        meta, spec = pod["metadata"], pod["spec"]
        namespace = meta["namespace"]
        (container,) = spec["containers"]
        env = {e["name"]: self.resolve(str(e.get("value", "")), namespace) for e in container.get("env", [])}
        if any(_SERVICE_DNS.search(v) for v in env.values()):
            return False
        argv = self._argv(container, env)
        log = self.workdir / f"{meta['name']}.log"
        scheduler_file = None
        if argv[1:4] == ["-m", "dask", "scheduler"]:
            scheduler_file = self.workdir / f"{meta['name']}.scheduler.json"
            argv += ["--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
                     "--scheduler-file", str(scheduler_file)]
        with open(log, "w") as out:
            process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                       cwd=os.getcwd(), start_new_session=True)
        owner = next((r["name"] for r in meta.get("ownerReferences", []) if r.get("kind") == "Deployment"), None)
        self.containers[(namespace, meta["name"])] = _Container(
            meta["name"], namespace, dict(meta.get("labels") or {}), process, log, scheduler_file, owner=owner)
        return True

    def stop_pod(self, namespace: str, name: str) -> None:
        c = self.containers.pop((namespace, name), None)
        if c is not None:
            self.stopped.append(c)
            if c.process.poll() is None:
                os.killpg(c.process.pid, signal.SIGTERM)  # what the kubelet sends on pod deletion

    def reap(self, timeout: float = 15) -> None:
        everything = [*self.containers.values(), *self.stopped]
        for c in everything:
            if c.process.poll() is None:
                os.killpg(c.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for c in everything:
            try:
                c.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(c.process.pid, signal.SIGKILL)
                c.process.wait()
        self.containers.clear()
        self.stopped.clear()

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {c.pod}\n{c.log.read_text()[-tail:]}" for c in self.containers.values() if c.log.exists())

    async def _patch(self, session: Any, obj: dict[str, Any], body: dict[str, Any], subresource: str = "") -> None:
        path = _object_path(obj) + (f"/{subresource}" if subresource else "")
        async with session.patch(path, json=body, headers={"Content-Type": "application/merge-patch+json"}) as resp:
            if resp.status >= 400 and resp.status != 404:
                raise RuntimeError(f"kubelet PATCH {path}: {resp.status} {await resp.text()}")

    async def _create(self, session: Any, obj: dict[str, Any]) -> None:
        path = _object_path(obj).rsplit("/", 1)[0]
        async with session.post(path, json=obj) as resp:
            if resp.status >= 400:
                raise RuntimeError(f"kubelet POST {path}: {resp.status} {await resp.text()}")

    async def _delete(self, session: Any, obj: dict[str, Any]) -> None:
        async with session.delete(_object_path(obj)) as resp:
            if resp.status >= 400 and resp.status != 404:
                raise RuntimeError(f"kubelet DELETE: {resp.status} {await resp.text()}")

    async def step(self, session: Any) -> None:
        """One reconcile pass: Deployments -> Pods -> processes; process state -> Pod status; GC."""
        deployments = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in self.api.stored("deployments")}
        pods = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in self.api.stored("pods")}
        has_pod = {r.get("uid") for p in pods.values() for r in p["metadata"].get("ownerReferences", [])}
        for (ns, name), dep in deployments.items():
            if dep["metadata"]["uid"] not in has_pod and dep["spec"].get("replicas", 1) > 0:
                self._seq += 1
                template = dep["spec"]["template"]
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": f"{name}-{self._seq:05d}", "namespace": ns,
                                    "labels": dict(template.get("metadata", {}).get("labels") or {}),
                                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                         "uid": dep["metadata"]["uid"], "controller": True}]},
                       "spec": copy.deepcopy(template["spec"]), "status": {"phase": "Pending"}}
                await self._create(session, pod)
                pods[(ns, pod["metadata"]["name"])] = pod
        for key, pod in pods.items():
            if key not in self.containers and pod.get("status", {}).get("phase", "Pending") == "Pending":
                self.start_pod(pod)
        for key, c in list(self.containers.items()):
            pod = pods.get(key)
            if pod is None:  # deleted through the API
                self.stop_pod(*key)
                continue
            code = c.process.poll()
            phase = c.phase
            if code is not None:
                phase = "Succeeded" if code == 0 else "Failed"
            elif c.scheduler_file is not None:
                with contextlib.suppress(OSError, ValueError, KeyError):
                    identity = json.loads(c.scheduler_file.read_text())
                    c.ports = {"tcp-comm": int(identity["address"].rsplit(":", 1)[1]),
                               "http-dashboard": int(identity["services"]["dashboard"])}
                    c.ports.update({8786: c.ports["tcp-comm"], 8787: c.ports["http-dashboard"]})
                    phase = "Running"
            else:
                phase = "Running"
            if phase != c.phase:
                c.phase = phase
                ready = "True" if phase == "Running" else "False"
                await self._patch(session, pod, {"status": {"phase": phase, "conditions": [
                    {"type": "Ready", "status": ready}, {"type": "ContainersReady", "status": ready}]}}, "status")
                if c.owner and (ns_dep := deployments.get((key[0], c.owner))):
                    n = int(phase == "Running")
                    await self._patch(session, ns_dep, {"status": {
                        "observedGeneration": ns_dep["metadata"].get("generation", 1), "replicas": 1,
                        "readyReplicas": n, "availableReplicas": n}}, "status")
            if code is not None and c.owner and (key[0], c.owner) in deployments:
                # a Deployment restarts its pod when the container exits
                logger.info("container of %s exited with %s; replacing the pod", c.pod, code)
                self.stopped.append(self.containers.pop(key))
                await self._delete(session, pod)
        await self._collect_garbage(session)

    async def _collect_garbage(self, session: Any) -> None:
        everything = [o for plural in RESOURCES for o in self.api.stored(plural)]
        alive = {o["metadata"]["uid"] for o in everything}
        for obj in everything:
            refs = obj["metadata"].get("ownerReferences") or []
            if refs and not any(r.get("uid") in alive for r in refs):
                await self._delete(session, obj)


# --------------------------------------------------------------------------- operator


class OperatorLoop:
    """Calls the real dask-kubernetes operator handlers when the objects they watch change.

    kopf's reactor (watch streams, progress annotations, peering) is replaced by a poll loop; the
    handlers, their arguments and their effects (``patch.status``, objects created through kr8s) are
    the operator's own. Handlers that fail are retried on the next pass, as kopf retries them.
    """

    def __init__(self, api: DaskKubeAPI) -> None:
        from dask_kubernetes.operator.controller import controller

        self.api = api
        self.ops = controller
        self.seen: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, ns, name) -> last handled body
        self.timers: dict[tuple[str, str, str], float] = {}
        self.errors: list[str] = []
        self.log = logging.getLogger("daskcollab.tests.kubesim.operator")

    async def _call(self, handler: Any, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
        import kopf
        from kopf._cogs.structs import bodies, patches
        from kopf._core.actions import execution
        from kopf._core.intents import causes

        kbody = bodies.Body(copy.deepcopy(body))
        patch = patches.Patch()
        cause = causes.ResourceCause(logger=self.log, indices={}, memo=None, resource=None, patch=patch, body=kbody)
        token = execution.cause_var.set(cause)
        meta = body["metadata"]
        try:
            await handler(name=meta["name"], namespace=meta["namespace"], body=kbody, spec=kbody.spec, meta=kbody.meta,
                          status=kbody.status, labels=kbody.meta.labels, patch=patch, logger=self.log, **extra)
        except (kopf.TemporaryError, kopf.PermanentError) as exc:
            self.log.info("%s: %s", handler.__name__, exc)
        finally:
            execution.cause_var.reset(token)
        return dict(patch)

    async def _apply(self, session: Any, body: dict[str, Any], patch: dict[str, Any]) -> None:
        if not patch:
            return
        path = _object_path(body)
        async with session.patch(path, json=patch, headers={"Content-Type": "application/merge-patch+json"}) as resp:
            if resp.status >= 400 and resp.status != 404:
                raise RuntimeError(f"operator PATCH {path}: {resp.status} {await resp.text()}")

    async def step(self, session: Any) -> None:
        ops = self.ops
        for plural, handlers in (("daskclusters", self._cluster), ("daskworkergroups", self._group),
                                 ("daskjobs", self._job), ("daskautoscalers", self._autoscaler),
                                 ("services", self._service), ("pods", self._pod)):
            objs = self.api.stored(plural)
            live = {(plural, o["metadata"]["namespace"], o["metadata"]["name"]) for o in objs}
            for key in [k for k in self.seen if k[0] == plural and k not in live]:
                old = self.seen.pop(key)
                if plural == "daskworkergroups":
                    await ops.daskworkergroup_remove(name=key[2], namespace=key[1])
                del old
            for obj in objs:
                key = (plural, obj["metadata"]["namespace"], obj["metadata"]["name"])
                old = self.seen.get(key)
                try:
                    done = await handlers(session, obj, old)
                except Exception as exc:  # noqa: BLE001 - kopf logs and retries a failing handler
                    self.errors.append(f"{plural}/{key[2]}: {type(exc).__name__}: {exc}")
                    self.log.warning("handler for %s/%s failed: %r (retried)", plural, key[2], exc)
                    continue
                if done:
                    self.seen[key] = obj

    @staticmethod
    def _get(obj: dict[str, Any] | None, path: str) -> Any:
        node: Any = obj
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    async def _cluster(self, session: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
        ops = self.ops
        phase = self._get(obj, "status.phase")
        if old is None and phase is None:
            await self._apply(session, obj, await self._call(ops.daskcluster_create, obj))
            return False  # handled again once the phase shows
        if phase == "Created" and self._get(old, "status.phase") != "Created":
            await self._apply(session, obj, await self._call(ops.daskcluster_create_components, obj))
        old_replicas = self._get(old, "spec.worker.replicas")
        new_replicas = self._get(obj, "spec.worker.replicas")
        if old is not None and old_replicas != new_replicas:
            await self._call(ops.daskcluster_default_worker_group_replica_update, obj, old=old_replicas,
                             new=new_replicas)
        return True

    async def _group(self, session: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
        ops = self.ops
        new = self._get(obj, "spec.worker.replicas")
        if old is None:
            await self._call(ops.daskworkergroup_create, obj, new=new, old=None)
        elif self._get(old, "spec.worker.replicas") != new:
            await self._call(ops.daskworkergroup_replica_update, obj, new=new, old=self._get(old, "spec.worker.replicas"))
        return True

    async def _job(self, session: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
        ops = self.ops
        status = self._get(obj, "status.jobStatus")
        if old is None and status is None:
            await self._apply(session, obj, await self._call(ops.daskjob_create, obj))
            return False
        if status == "JobCreated" and self._get(old, "status.jobStatus") != "JobCreated":
            await self._apply(session, obj, await self._call(ops.daskjob_create_components, obj))
        return True

    async def _autoscaler(self, session: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
        ops = self.ops
        key = ("daskautoscalers", obj["metadata"]["namespace"], obj["metadata"]["name"])
        if old is None:
            await self._call(ops.daskautoscaler_create, obj)
            self.timers[key] = 0.0
        if time.monotonic() >= self.timers.get(key, 0.0):
            self.timers[key] = time.monotonic() + 5.0  # kopf.timer(interval=5.0)
            await self._call(ops.daskautoscaler_adapt, obj)
        return True

    async def _service(self, session: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
        labels = obj["metadata"].get("labels") or {}
        if labels.get("dask.org/component") == "scheduler" and obj.get("status") != self._get(old, "status"):
            await self._call(self.ops.handle_scheduler_service_status, obj)
        return True

    async def _pod(self, session: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
        labels = obj["metadata"].get("labels") or {}
        phase = self._get(obj, "status.phase")
        if labels.get("dask.org/component") == "job-runner" and phase != self._get(old, "status.phase"):
            handler = {"Running": self.ops.handle_runner_status_change_running,
                       "Succeeded": self.ops.handle_runner_status_change_succeeded,
                       "Failed": self.ops.handle_runner_status_change_failed}.get(phase)
            if handler is not None:
                await self._call(handler, obj)
        return True


# --------------------------------------------------------------------------- the whole thing


@attrs.define
class EmulatedKubernetes:
    """A running emulation: the API (``api``, its ``url``), the ``kubelet`` and the ``operator`` loop."""

    api: DaskKubeAPI
    url: str
    kubeconfig: pathlib.Path
    kubelet: Kubelet
    operator: OperatorLoop
    loop: asyncio.AbstractEventLoop
    passes: list[int]  # reconcile passes done (one counter, mutated by the loop thread)

    def objects(self, plural: str, namespace: str | None = NAMESPACE) -> list[dict[str, Any]]:
        """Live API objects of a resource (copies), e.g. ``objects("deployments")``."""
        return self.call(lambda: self.api.stored(plural, namespace))

    def replicas(self, cluster: str) -> dict[str, int]:
        """``{group suffix: replicas}`` of a DaskCluster's worker groups (``default`` for the first pool's)."""
        return {g["metadata"]["name"].removeprefix(f"{cluster}-"): g["spec"]["worker"]["replicas"]
                for g in self.objects("daskworkergroups") if g["spec"]["cluster"] == cluster}

    def call(self, fn: Any) -> Any:
        """Run ``fn()`` on the emulation's event loop thread (the store is not thread-safe)."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=30)

    def settle(self, passes: int = 3, timeout: float = 30) -> None:
        """Wait until the kubelet and the operator have made ``passes`` more reconcile passes."""
        target = self.passes[0] + passes
        self.wait_for(lambda: self.passes[0] >= target, timeout, what=f"{passes} reconcile passes")

    def wait_for(self, predicate: Any, timeout: float = 60, what: str = "condition") -> Any:
        """Poll ``predicate()`` until it is truthy; fail with the pods' logs after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"emulated Kubernetes: no {what} after {timeout} s; operator errors "
                                   f"{self.operator.errors[-5:]!r}\n{self.kubelet.logs()}")
            time.sleep(0.1)


def pools_of_workers(client: Any) -> dict[str, str]:
    """worker name -> pool, as the scheduler sees it (from the workers' ``pool-<name>`` resource)."""
    return {w["name"]: next(r.removeprefix("pool-") for r in w["resources"] if r.startswith("pool-"))
            for w in client.scheduler_info(n_workers=-1)["workers"].values()}


@contextlib.contextmanager
def emulated_kubernetes(workdir: pathlib.Path, interval: float = 0.1) -> Iterator[EmulatedKubernetes]:
    """Start the emulated API, kubelet and operator on a background thread; yield an :class:`EmulatedKubernetes`.

    Environment while inside: ``KUBECONFIG`` points at the emulator. kr8s' per-thread API cache is
    cleared on entry and exit, and ``get_scheduler_address`` of the operator and of ``KubeCluster`` is
    routed through the emulated cluster DNS (there is neither Service DNS nor port-forwarding here).
    """
    import aiohttp
    import kr8s
    from kr8s._api import Api as _Api
    from dask_kubernetes.operator.controller import controller
    from dask_kubernetes.operator.kubecluster import kubecluster

    workdir.mkdir(parents=True, exist_ok=True)
    started = threading.Event()
    stop = threading.Event()
    box: dict[str, Any] = {}
    passes = [0]

    async def main() -> None:
        async with DaskKubeAPI() as api, kmock.Server(api) as server:
            url = str(server.url).rstrip("/")
            box.update(api=api, url=url, kubelet=Kubelet(api, workdir), operator=OperatorLoop(api),
                       loop=asyncio.get_running_loop())
            kubeconfig = workdir / "kubeconfig"
            kubeconfig.write_text(yaml.safe_dump({
                "apiVersion": "v1", "kind": "Config", "current-context": "emulated",
                "clusters": [{"name": "emulated", "cluster": {"server": url}}],
                "users": [{"name": "emulated", "user": {}}],
                "contexts": [{"name": "emulated", "context": {"cluster": "emulated", "user": "emulated",
                                                              "namespace": NAMESPACE}}],
            }))
            box["kubeconfig"] = kubeconfig
            started.set()
            async with aiohttp.ClientSession(url) as session:
                while not stop.is_set():
                    for part in (box["kubelet"], box["operator"]):
                        try:
                            await part.step(session)
                        except Exception as exc:  # noqa: BLE001 - keep the emulation alive, report in logs
                            logger.warning("%s step failed: %r", type(part).__name__, exc)
                            box["operator"].errors.append(f"{type(part).__name__}: {exc!r}")
                    passes[0] += 1
                    await asyncio.sleep(interval)

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="emulated-kubernetes", daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the emulated Kubernetes API did not start")
    kube = EmulatedKubernetes(box["api"], box["url"], box["kubeconfig"], box["kubelet"], box["operator"], box["loop"],
                               passes)

    async def get_scheduler_address(service_name: str, namespace: str, port_name: str = "tcp-comm",
                                    port_forward_cluster_ip: Any = None, local_port: Any = None,
                                    allow_external: bool = True) -> str:
        await kr8s.asyncio.objects.Service.get(service_name, namespace=namespace)  # NotFoundError as for real
        def lookup() -> int | None:
            return kube.kubelet.service_port(service_name, namespace, port_name)

        port = lookup() if asyncio.get_running_loop() is kube.loop else kube.call(lookup)
        if port is None:
            raise ConnectionError(f"service {namespace}/{service_name} has no ready endpoint for {port_name!r}")
        return f"tcp://127.0.0.1:{port}"

    saved = {"KUBECONFIG": os.environ.get("KUBECONFIG")}
    originals = (controller.get_scheduler_address, kubecluster.get_scheduler_address)
    os.environ["KUBECONFIG"] = str(kube.kubeconfig)
    _Api._instances.clear()
    controller.get_scheduler_address = kubecluster.get_scheduler_address = get_scheduler_address
    try:
        yield kube
    finally:
        controller.get_scheduler_address, kubecluster.get_scheduler_address = originals
        stop.set()
        thread.join(timeout=30)
        kube.kubelet.reap()
        _Api._instances.clear()
        if saved["KUBECONFIG"] is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = saved["KUBECONFIG"]


@contextlib.contextmanager
def kube_pools_cluster(kube: EmulatedKubernetes, pools: Any, image: str, workers: int, what: str) -> Iterator[Any]:
    """``start_kube_cluster("collab", pools)`` (cheapest mode) on the emulator and a client of it,
    yielded as ``(cluster, client)`` once ``workers`` workers have joined."""
    from distributed import Client

    from daskcollab.deploy import start_kube_cluster

    with start_kube_cluster("collab", pools, image=image, config={"collab.placement.mode": "cheapest"},
                            resource_timeout=60, quiet=True) as cluster, Client(cluster) as client:
        kube.wait_for(lambda: len(client.scheduler_info()["workers"]) == workers, what=what)
        yield cluster, client
