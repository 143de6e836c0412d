"""Elastic pools: every pool grows and shrinks with the runs' plans, between its own ``min`` and ``max``.

The placement plugin plans each run on the pools the controller scales, each at its
``max_workers``, and tells the controller per pool what the plans and the waiting tasks need now
and soon (:meth:`~daskcollab.placement.PlacementPlugin.demand`, :mod:`daskcollab.placement._demand`).
The controller turns that into a size per pool with one pure rule, :func:`target_workers`:

* a pool gets what it needs **now** (running stages, busy workers, tasks waiting for it) and what
  the plan needs **within its start-up time** (a worker asked for now joins then: it is asked for
  that early, and a worker it holds that the plan needs again within that time is kept: letting
  it go and booting another would cost as much and arrive late);
* the window is the start-up time times ``1 + margin`` (plans are estimates);
* the size stays within the pool's ``min_workers`` / ``max_workers``: a pool the plan has nothing
  for goes to its ``min`` (set ``min: 0`` on expensive pools to scale them to zero);
* a pool shrinks only after its target has stayed below its size for ``cooldown`` seconds.

Each pool's start-up time starts at ``startup`` and then follows what the controller measures
(request to join). Workers it asks for are billed from the request (the ledger's start-up time,
``RunResult.cost["startup"]``). A pool's scale-down retires only that pool's workers, their data
moved first (:class:`~daskcollab.deploy.PoolScalingPlugin`).

Where it runs:

* **local pools** (:func:`~daskcollab.deploy.start_local_pools`): on the scheduler, a periodic
  callback of a small scheduler plugin (:class:`ElasticPlugin`) that awaits
  :meth:`~daskcollab.deploy.LocalPoolScaler.scale_async` (pools scale independently);
  ``start_local_pools(pools, elastic=True)`` or ``ElasticController(cluster)``;
* **Kubernetes** (:func:`~daskcollab.deploy.start_kube_cluster`): on the client side, a thread
  beside the ``KubeCluster`` that reads the demand from the scheduler and scales each pool's
  DaskWorkerGroup through dask-kubernetes' own API (:class:`~daskcollab.deploy.KubePoolScaler`):
  ``ElasticController(cluster, pools)``. It needs the client's Kubernetes credentials (the RBAC of
  ``start_kube_cluster``) and runs as long as the client process does (in a ``DaskJob``, the
  runner pod). Any other :class:`~daskcollab.deploy.PoolScaler` works the same way.

Settings: ``collab.elastic.*`` (``interval``, ``startup``, ``margin``, ``cooldown``); arguments win.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dask.utils import parse_timedelta
from distributed.core import Status
from distributed.diagnostics.plugin import SchedulerPlugin

from daskcollab import _config
from daskcollab._contract import ELASTIC_PLUGIN
from daskcollab._errors import DaskCollabError, stage_message
from daskcollab.deploy._scaling import PoolScaler, Scaled
from daskcollab.placement import PLUGIN_NAME, Pool, PoolDemand, pool_from_mapping

logger = logging.getLogger("daskcollab.deploy")

#: Name of :class:`ElasticPlugin` on the scheduler.
ELASTIC_PLUGIN_NAME = ELASTIC_PLUGIN
#: Default share of the start-up time added to the look-ahead window.
DEFAULT_MARGIN = 0.5
#: Start-up time (s) assumed for a pool until one is measured, when none is given.
DEFAULT_STARTUP = 30.0


def target_workers(demand: PoolDemand | None, pool: Pool, now: float, startup_s: float, *,
                   margin: float = DEFAULT_MARGIN) -> int:
    """How many workers ``pool`` should have (asked for) at ``now`` (pure; see the module docstring).

    Parameters
    ----------
    demand
        The pool's demand (None: nothing asked of it).
    pool
        Bounds ``min_workers`` / ``max_workers``.
    now
        Unix seconds.
    startup_s
        Seconds from asking for a worker to its joining.
    margin
        Share of ``startup_s`` added to the look-ahead window.

    Examples
    --------
    A GPU stage planned 20-40 s from now, workers that take 10 s to start:

    >>> from daskcollab.placement._demand import Need
    >>> gpu = Pool("gpu", 2.5, workers=0, min_workers=0, max_workers=2)
    >>> d = PoolDemand("gpu", (Need("gpu", 20.0, 40.0, 1),))
    >>> [target_workers(d, gpu, t, 10.0) for t in (0.0, 6.0, 30.0, 41.0)]
    [0, 1, 1, 0]
    """
    want = 0 if demand is None else demand.peak(now, now + max(startup_s, 0.0) * (1.0 + max(margin, 0.0)))
    return min(max(want, pool.min_workers), pool.max_workers)


class ElasticPolicy:
    """The controller's state, without Dask: each pool's start-up time and its scale-down cooldown.

    Parameters
    ----------
    pools
        The pools it scales (with ``min_workers`` / ``max_workers``).
    startup
        Initial start-up time per pool (seconds), until one is measured; a number for all.
    margin, cooldown
        See the module docstring.

    Examples
    --------
    >>> from daskcollab.placement._demand import Need
    >>> policy = ElasticPolicy([Pool("gpu", 2.5, workers=1, min_workers=0, max_workers=1)], startup=5, cooldown=2)
    >>> idle = {"gpu": PoolDemand("gpu")}
    >>> policy.targets(idle, {"gpu": 1}, now=0.0), policy.targets(idle, {"gpu": 1}, now=2.5)
    ({'gpu': 1}, {'gpu': 0})
    """

    #: Weight of a new start-up measurement in the running estimate.
    LEARNING_RATE = 0.5

    def __init__(self, pools: Iterable[Pool | Mapping[str, Any]], *,
                 startup: float | Mapping[str, float] = DEFAULT_STARTUP, margin: float = DEFAULT_MARGIN,
                 cooldown: float = 2.0) -> None:
        self.pools = {p.name: p for p in map(pool_from_mapping, pools)}
        # per pool: a mapping's entry, else the pool's own start-up (pools file), else the number given
        given = dict(startup) if isinstance(startup, Mapping) else {}
        default = DEFAULT_STARTUP if isinstance(startup, Mapping) else float(startup)
        self.startup = {name: float(given.get(name, p.startup or default)) for name, p in self.pools.items()}
        self._told = dict(self.startup)  # the start-ups the placement plugin plans with
        self.measured: dict[str, int] = {name: 0 for name in self.pools}
        self.margin = float(margin)
        self.cooldown = float(cooldown)
        self._below_since: dict[str, float] = {}

    def observe_startup(self, pool: str, seconds: float) -> None:
        """A worker of ``pool`` joined ``seconds`` after it was asked for."""
        if pool not in self.startup or seconds < 0:
            return
        first = not self.measured[pool]
        self.measured[pool] += 1
        rate = 1.0 if first else self.LEARNING_RATE
        self.startup[pool] += rate * (seconds - self.startup[pool])

    def planned_pools(self) -> list[Pool]:
        """The pools as the placement plugin should plan them: each with its current start-up estimate."""
        self._told = dict(self.startup)
        return [dataclasses.replace(p, startup=self.startup[name]) for name, p in self.pools.items()]

    def startup_drifted(self, share: float = 0.25) -> bool:
        """A start-up estimate moved more than ``share`` from what the plans were made with."""
        return any(abs(self.startup[n] - told) > share * max(told, 1e-3) for n, told in self._told.items())

    def targets(self, demands: Mapping[str, PoolDemand], current: Mapping[str, int], now: float) -> dict[str, int]:
        """The size each pool should have now (``current``: what it has, starting workers included)."""
        out = {}
        for name, pool in self.pools.items():
            have = int(current.get(name, 0))
            want = target_workers(demands.get(name), pool, now, self.startup[name], margin=self.margin)
            if want < have:
                since = self._below_since.setdefault(name, now)
                if now - since < self.cooldown:
                    want = have  # not yet: the plan may want it back in a moment
            else:
                self._below_since.pop(name, None)
            out[name] = want
        return out


@dataclass(frozen=True)
class ScaleAction:
    """One scaling step of the controller: when (``started`` / ``finished``, unix s), the pool, the
    size asked for, and what the scaler did."""

    started: float
    finished: float
    pool: str
    asked: int
    scaled: Scaled


def _settings(startup: Any, interval: Any, margin: Any, cooldown: Any) -> dict[str, Any]:
    """Arguments over config ``collab.elastic.*``, parsed and checked."""
    out = {}
    for key, value in (("startup", startup), ("interval", interval), ("margin", margin), ("cooldown", cooldown)):
        raw = _config.get(f"elastic.{key}", value)
        try:
            parsed = float(raw) if key == "margin" else (
                {k: float(parse_timedelta(v)) for k, v in raw.items()} if isinstance(raw, Mapping) and key == "startup"
                else float(parse_timedelta(raw)))
        except (TypeError, ValueError, KeyError) as exc:
            raise DaskCollabError(stage_message("elastic", key, f"expected a duration (e.g. '30s' or 30), got {raw!r}",
                                                f"set collab.elastic.{key} or pass {key}=...")) from exc
        if parsed is None or (not isinstance(parsed, dict) and parsed < 0) or (key == "interval" and parsed <= 0):
            raise DaskCollabError(stage_message("elastic", key, f"expected a positive value, got {raw!r}",
                                                f"set collab.elastic.{key} or pass {key}=..."))
        out[key] = parsed
    return out


class ElasticPlugin(SchedulerPlugin):
    """The controller on the scheduler, for local pools (same process as the cluster object).

    A periodic callback (every ``interval`` s) reads the placement plugin's demand, asks the
    :class:`ElasticPolicy` for each pool's size and starts a scaling step per pool that must change
    (:meth:`~daskcollab.deploy.LocalPoolScaler.scale_async`, in the background: pools scale
    independently; a pool grows while it still has workers starting, and shrinks only when no step
    of it runs). Made and installed by :class:`ElasticController`.
    """

    name = ELASTIC_PLUGIN_NAME

    def __init__(self, scaler: Any, policy: ElasticPolicy, interval: float) -> None:
        self.scaler, self.policy, self.interval = scaler, policy, float(interval)
        self.actions: list[ScaleAction] = []
        self.scheduler: Any = None
        self._pc: Any = None
        self._ups: dict[str, set[asyncio.Task]] = {}
        self._downs: dict[str, asyncio.Task] = {}
        self._stopping = False
        self._warned = False

    async def start(self, scheduler: Any) -> None:
        from tornado.ioloop import PeriodicCallback

        self.scheduler = scheduler
        placement = self._placement()
        if placement is None:
            raise DaskCollabError(stage_message(
                "elastic", "plugin", f"expected the {PLUGIN_NAME!r} scheduler plugin, got plugins "
                f"{sorted(scheduler.plugins)!r}", "start the cluster with start_local_pools(pools, plugin=True)"))
        placement.set_elastic(self.policy.planned_pools())
        self._pc = PeriodicCallback(self._tick, self.interval * 1000)
        self._pc.start()

    def _placement(self) -> Any:
        return self.scheduler.plugins.get(PLUGIN_NAME) if self.scheduler is not None else None

    def _tick(self) -> None:
        if self._stopping or self.scaler.cluster.status != Status.running:
            return
        placement = self._placement()
        if placement is None:
            if not self._warned:
                logger.warning("elastic pools: the placement plugin is gone; pools stay as they are")
                self._warned = True
            return
        try:
            now = time.time()
            demands = {name: PoolDemand.from_dict(d) for name, d in placement.demand(now).items()}
            current = {name: self.scaler.workers(name) for name in self.policy.pools}
            for pool, n in self.policy.targets(demands, current, now).items():
                ups = self._ups.setdefault(pool, set())
                if pool in self._downs:
                    continue
                if n > current[pool] or (n < current[pool] and not ups):
                    task = asyncio.ensure_future(self._scale(pool, n))
                    if n > current[pool]:
                        ups.add(task)
                        task.add_done_callback(ups.discard)
                    else:
                        self._downs[pool] = task
                        task.add_done_callback(lambda _t, pool=pool: self._downs.pop(pool, None))
        except Exception:  # never let the periodic callback die
            logger.exception("daskcollab elastic controller step failed")

    async def _scale(self, pool: str, n: int) -> None:
        started = time.time()
        before = self.scaler.workers(pool)
        up = n - before
        placement = self._placement()
        if up > 0 and placement is not None:
            placement.worker_requested(pool, up)
        try:
            scaled = await self.scaler.scale_async(pool, n)
        except Exception:
            logger.exception("elastic pools: scaling pool %r to %d failed", pool, n)
            if up > 0 and placement is not None:
                placement.requests_cancelled(pool, up)
            return
        if up > 0:
            joined = scaled.after - scaled.before
            if joined < up and placement is not None:
                placement.requests_cancelled(pool, up - joined)
            if joined:
                self.policy.observe_startup(pool, time.time() - started)
                if placement is not None and self.policy.startup_drifted():
                    placement.set_elastic(self.policy.planned_pools())  # plans are re-made with what was measured
        self.actions.append(ScaleAction(started, time.time(), pool, n, scaled))

    async def stop(self) -> None:
        """Stop the callback, wait for the steps under way, plan on live pools again."""
        self._stopping = True
        if self._pc is not None:
            self._pc.stop()
        running = [t for ts in self._ups.values() for t in ts] + list(self._downs.values())
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        placement = self._placement()
        if placement is not None:
            placement.set_elastic(None)

    async def close(self) -> None:
        self._stopping = True
        if self._pc is not None:
            self._pc.stop()


def _placement_call(method: str, *args: Any, dask_scheduler: Any = None) -> Any:
    """On the scheduler: ``placement_plugin.<method>(*args)`` (set_elastic, elastic_state, worker_requested,
    requests_cancelled)."""
    placement = dask_scheduler.plugins.get(PLUGIN_NAME)
    if placement is None:
        return {"error": f"expected the {PLUGIN_NAME!r} scheduler plugin, got plugins {sorted(dask_scheduler.plugins)!r}"}
    return getattr(placement, method)(*args)


class ElasticController:
    """Grow and shrink every pool of a cluster with the runs' plans (see :mod:`daskcollab.deploy._elastic`).

    Parameters
    ----------
    cluster : LocalPoolsCluster, dask_kubernetes KubeCluster, or PoolScaler
        Local pools: the controller runs on the scheduler (:class:`ElasticPlugin`). A ``KubeCluster``
        from :func:`~daskcollab.deploy.start_kube_cluster` (with ``pools``) or any
        :class:`~daskcollab.deploy.PoolScaler`: a thread on this side drives it.
    pools : iterable of KubePool, Pool or mapping, optional
        Kubernetes: the pools the cluster was started with, in order (as for
        :class:`~daskcollab.deploy.KubePoolScaler`); otherwise the scaler's own.
    client : distributed.Client, optional
        Reaches the scheduler from the thread (default: a client of ``cluster``, closed on stop).
    startup, interval, margin, cooldown : optional
        First guess of the start-up time (s, or ``{pool: s}``), seconds between steps, share of the
        start-up time added to the look-ahead, seconds a pool's target must stay below its size
        before it shrinks (config ``collab.elastic.*``).

    Examples
    --------
    >>> with start_local_pools(pools) as cluster, ElasticController(cluster), Client(cluster) as client:  # doctest: +SKIP
    ...     daskcollab.run(workflow, client)
    >>> cluster = start_kube_cluster("collab", pools, image=IMAGE)  # doctest: +SKIP
    >>> with ElasticController(cluster, pools) as elastic:  # doctest: +SKIP
    ...     daskcollab.run(workflow, Client(cluster))
    >>> elastic.actions  # doctest: +SKIP
    """

    def __init__(self, cluster: Any, pools: Iterable[Any] | None = None, *, client: Any = None,
                 startup: float | str | Mapping[str, float] | None = None, interval: float | str | None = None,
                 margin: float | None = None, cooldown: float | str | None = None) -> None:
        from daskcollab.deploy._local import LocalPoolScaler, LocalPoolsCluster

        settings = _settings(startup, interval, margin, cooldown)
        self.cluster = cluster
        self.interval = settings["interval"]
        self._plugin: ElasticPlugin | None = None
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._actions: list[ScaleAction] = []
        self._client, self._own_client = client, False
        if isinstance(cluster, LocalPoolsCluster):
            self.scaler: Any = LocalPoolScaler(cluster)
            self.local = True
        elif pools is not None and hasattr(cluster, "add_worker_group"):
            from daskcollab.deploy._kube_cluster import KubePoolScaler

            self.scaler, self.local = KubePoolScaler(cluster, pools), False
        elif isinstance(cluster, PoolScaler):
            self.scaler, self.local = cluster, False
        else:
            raise DaskCollabError(stage_message(
                "elastic", "cluster", f"expected a cluster from start_local_pools, a KubeCluster with its pools, or a "
                f"PoolScaler, got {cluster!r}" + (" without pools" if pools is None else ""),
                "pass start_local_pools(...) or ElasticController(start_kube_cluster(name, pools, ...), pools)"))
        self.policy = ElasticPolicy(self.scaler.pools.values(), startup=settings["startup"],
                                    margin=settings["margin"], cooldown=settings["cooldown"])

    # ------------------------------------------------------------------ start / stop
    def start(self) -> ElasticController:
        """Start controlling (idempotent); returns self."""
        if self._plugin is not None or self._thread is not None:
            return self
        if self.local:
            plugin = ElasticPlugin(self.scaler, self.policy, self.interval)

            async def install() -> None:
                scheduler = self.cluster.scheduler
                scheduler.add_plugin(plugin, name=ELASTIC_PLUGIN_NAME)
                try:
                    await plugin.start(scheduler)
                except BaseException:
                    scheduler.remove_plugin(name=ELASTIC_PLUGIN_NAME)
                    raise

            self.cluster.sync(install)
            self._plugin = plugin
            self.cluster.elastic = self
            return self
        if self._client is None:
            from distributed import Client

            self._client, self._own_client = Client(self.scaler.cluster if hasattr(self.scaler, "cluster") else
                                                    self.cluster), True
        self._call("set_elastic", self.policy.planned_pools())
        self._joined: dict[str, int] = dict(self._call("elastic_state")["workers"])  # pools' live workers before any request
        self._asked: dict[str, deque[float]] = {name: deque() for name in self.policy.pools}
        self._halt.clear()
        self._thread = threading.Thread(target=self._loop, name="daskcollab-elastic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop controlling: pools keep their size; runs are planned on the live pools again."""
        if self._plugin is not None:
            self.cluster.sync(self.stop_async)
            return
        if self._thread is not None:
            self._halt.set()
            self._thread.join()
            self._thread = None
            try:
                self._call("set_elastic", None)
            finally:
                if self._own_client:
                    self._client.close()
                    self._client, self._own_client = None, False

    async def stop_async(self) -> None:
        """:meth:`stop` on the cluster's event loop (local pools; what the cluster's close awaits)."""
        plugin, self._plugin = self._plugin, None
        if plugin is None:
            return
        await plugin.stop()
        self.cluster.scheduler.remove_plugin(name=ELASTIC_PLUGIN_NAME)
        self._actions.extend(plugin.actions)
        if getattr(self.cluster, "elastic", None) is self:
            self.cluster.elastic = None

    def __enter__(self) -> ElasticController:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def actions(self) -> list[ScaleAction]:
        """Every scaling step so far, in order."""
        return [*self._actions, *(self._plugin.actions if self._plugin is not None else ())]

    # ------------------------------------------------------------------ the thread (Kubernetes, any PoolScaler)
    def _call(self, method: str, *args: Any) -> Any:
        out = self._client.run_on_scheduler(_placement_call, method, *args)
        if isinstance(out, dict) and "error" in out:
            raise DaskCollabError(stage_message("elastic", "plugin", out["error"],
                                                "start the scheduler with --preload daskcollab.deploy.scheduler"))
        return out

    def _loop(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self.step()
            except Exception:  # keep controlling: the API server or scheduler may be back next time
                logger.exception("daskcollab elastic controller step failed")

    def _learn(self, joined: Mapping[str, int], now: float) -> None:
        """Workers that joined since the last step answer the oldest requests: their start-up times."""
        for pool, asked in self._asked.items():
            new = joined.get(pool, 0) - self._joined.get(pool, 0)
            for _ in range(max(new, 0)):
                if asked:
                    self.policy.observe_startup(pool, now - asked.popleft())
        self._joined = dict(joined)

    def step(self) -> list[ScaleAction]:
        """One step of the client-side controller (the thread calls it every ``interval``)."""
        state = self._call("elastic_state")
        now = time.time()
        self._learn(state["workers"], now)
        if self.policy.startup_drifted():
            self._call("set_elastic", self.policy.planned_pools())  # plans are re-made with what was measured
        demands = {name: PoolDemand.from_dict(d) for name, d in state["demand"].items()}
        current = {name: self.scaler.workers(name) for name in self.policy.pools}
        done = []
        for pool, n in self.policy.targets(demands, current, now).items():
            if n == current[pool]:
                continue
            up = n - current[pool]
            if up > 0:
                self._call("worker_requested", pool, up)
                self._asked[pool].extend([now] * up)
            started = time.time()
            scaled = self.scaler.scale(pool, n)
            withdrawn = (n - scaled.after) if up > 0 else (scaled.before - scaled.after - len(scaled.retired))
            if withdrawn > 0:  # asked for and never joined (down: Deployments deleted before their pods joined)
                self._call("requests_cancelled", pool, withdrawn)
                for _ in range(min(withdrawn, len(self._asked[pool]))):
                    self._asked[pool].pop()
            done.append(ScaleAction(started, time.time(), pool, n, scaled))
        self._actions.extend(done)
        return done
