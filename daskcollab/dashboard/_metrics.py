"""Prometheus metrics of daskcollab on the scheduler's own ``/metrics`` (``dask_collab_*``).

A collector registered once per process on ``prometheus_client.REGISTRY`` (the registry Dask's
``/metrics`` serves); it reads the stage monitor and the placement plugin's public snapshot at
each scrape. Like Dask's own collectors it follows the latest scheduler installed in the process
(a test session starts many), because ``prometheus_client`` has no way to unregister it cleanly
(distributed#7364). Names start with Dask's Prometheus namespace
(``distributed.dashboard.prometheus.namespace``, default ``dask``) and ``collab``.

Per-run series cover the runs still running and the latest run of each workflow, so the number
of series stays bounded however many runs a long-lived scheduler sees.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

import dask.config

from daskcollab._types import RunStatus

_lock = threading.Lock()
_collector: Collector | None = None


class Collector:
    """The ``dask_collab_*`` metrics of one scheduler (see the README's table)."""

    def __init__(self, scheduler: Any) -> None:
        self.target(scheduler)
        self.decisions: dict[str, int] = {}  # reason -> decisions counted so far (monotonic)
        self._last_decision: tuple[float, int] = (0.0, 0)

    def target(self, scheduler: Any) -> None:
        self._scheduler = weakref.ref(scheduler)
        self.decisions = {}
        self._last_decision = (0.0, 0)

    def name(self, metric: str) -> str:
        namespace = dask.config.get("distributed.dashboard.prometheus.namespace", default="dask")
        return "_".join(p for p in (namespace, "collab", metric) if p)

    def describe(self) -> list:
        return []  # metric families vary with pools and runs: collected at scrape time only

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        scheduler = self._scheduler()
        if scheduler is None:
            return
        from daskcollab.dashboard._install import _placement, run_views

        placement = _placement(scheduler)
        views = run_views(scheduler)
        data = placement.snapshot() if placement is not None else None

        if data is not None:
            spent = CounterMetricFamily(self.name("pool_spent_dollars"), "Money spent on each pool since the placement "
                                        "plugin started: busy = compute seconds x price, held = worker seconds held x "
                                        "price (what a cloud bills)", labels=["pool", "basis"])
            # every known pool has both series from the start (a pool that ran nothing yet spent $0)
            known = sorted({*data["pools"], *data["cost_by_pool"], *data["alive_cost_by_pool"]})
            for pool in known:
                spent.add_metric([pool, "busy"], data["cost_by_pool"].get(pool, 0.0))
                spent.add_metric([pool, "held"], data["alive_cost_by_pool"].get(pool, 0.0))
            yield spent
            workers = GaugeMetricFamily(self.name("pool_workers"), "Live workers in each pool", labels=["pool"])
            for pool, n in sorted(data["workers_by_pool"].items()):
                workers.add_metric([pool], n)
            yield workers
            price = GaugeMetricFamily(self.name("pool_price_dollars_per_hour"), "Price of one worker of each pool",
                                      labels=["pool"])
            for pool, p in sorted(data["pools"].items()):
                price.add_metric([pool], p["price_per_hour"])
            yield price
            waiting = GaugeMetricFamily(self.name("pool_tasks_waiting"), "Tasks waiting (no-worker) for a worker of "
                                        "each pool", labels=["pool"])
            for pool in sorted({*data["pools"], *data["declared_pools"], *data["waiting_by_pool"]}):
                waiting.add_metric([pool], data["waiting_by_pool"].get(pool, 0))
            yield waiting
            self._count_decisions(data["decisions"])
            decisions = CounterMetricFamily(self.name("placement_decisions"), "Placement decisions of the plugin, by "
                                            "reason (plan, run-plan, pinned, replan, wait, unplaceable, budget, "
                                            "over-budget, over-deadline, ...)", labels=["reason"])
            for reason, n in sorted(self.decisions.items()):
                decisions.add_metric([reason], n)
            yield decisions

        yield from self._runs(views, GaugeMetricFamily)

    def _count_decisions(self, decisions: list[dict[str, Any]]) -> None:
        """Count decisions newer than the last scrape's (the plugin keeps only the latest 10,000)."""
        last_time, same = self._last_decision
        seen_at_last = 0
        for d in decisions:
            t = d["time"]
            if t < last_time:
                continue
            if t == last_time:
                seen_at_last += 1
                if seen_at_last <= same:
                    continue
            self.decisions[d["reason"]] = self.decisions.get(d["reason"], 0) + 1
        if decisions:
            newest = decisions[-1]["time"]
            self._last_decision = (newest, sum(d["time"] == newest for d in decisions))

    def _runs(self, views: dict[str, dict[str, Any]], Gauge: Any) -> Iterator[Any]:
        latest: dict[str, str] = {}
        for run_id, v in views.items():  # newest first
            latest.setdefault(v["workflow"], run_id)
        shown = [v for run_id, v in views.items() if v["status"] == RunStatus.RUNNING or latest.get(v["workflow"]) == run_id]
        labels = ["workflow", "run"]
        spent = Gauge(self.name("workflow_spent_dollars"), "Money a workflow's run spent (basis busy, held, and the "
                      "held money on spot and on-demand pools); the runs still running and each workflow's latest run",
                      labels=[*labels, "basis"])
        budget = Gauge(self.name("workflow_budget_dollars"), "A run's budget", labels=labels)
        remaining = Gauge(self.name("workflow_budget_remaining_dollars"), "Budget minus the money held so far "
                          "(negative: over budget)", labels=labels)
        over_budget = Gauge(self.name("workflow_over_budget"), "1 when a run spent more than its budget", labels=labels)
        elapsed = Gauge(self.name("workflow_elapsed_seconds"), "Wall seconds of a run so far", labels=labels)
        deadline_left = Gauge(self.name("workflow_deadline_remaining_seconds"), "Deadline minus elapsed seconds "
                              "(negative: past the deadline)", labels=labels)
        running = Gauge(self.name("workflow_running"), "1 while a run runs", labels=labels)
        complete = Gauge(self.name("workflow_complete_ratio"), "Share of a run's stages done or reused",
                         labels=labels)
        stage = Gauge(self.name("stage_duration_seconds"), "Wall seconds of each stage (so far, while it runs)",
                      labels=[*labels, "stage", "state"])
        stages = Gauge(self.name("stages"), "Stages of a run by state", labels=[*labels, "state"])
        from daskcollab.view import STAGE_STATES

        for v in shown:
            key = [str(v["workflow"]), str(v["run_id"])]
            m, t = v["money"], v["time"]
            if v["placement"]:
                spent.add_metric([*key, "busy"], m["busy"] or 0.0)
                spent.add_metric([*key, "held"], m["held"] or 0.0)
                if m.get("held_spot") is not None:
                    spent.add_metric([*key, "held_spot"], m["held_spot"] or 0.0)
                    spent.add_metric([*key, "held_on_demand"], m["held_on_demand"] or 0.0)
            if m["budget"] is not None:
                budget.add_metric(key, m["budget"])
                if m["remaining"] is not None:
                    remaining.add_metric(key, m["remaining"])
                over_budget.add_metric(key, float(m["state"] == "over budget"))
            if t["elapsed"] is not None:
                elapsed.add_metric(key, t["elapsed"])
            if t["remaining"] is not None:
                deadline_left.add_metric(key, t["remaining"])
            running.add_metric(key, float(v["status"] == RunStatus.RUNNING))
            complete.add_metric(key, v["progress"]["by_stages"])
            for st in v["stages"]:
                if st["seconds"] is not None:
                    stage.add_metric([*key, st["stage"], st["state"]], st["seconds"])
            for state in STAGE_STATES:
                stages.add_metric([*key, state], sum(st["state"] == state for st in v["stages"]))
        yield from (spent, budget, remaining, over_budget, elapsed, deadline_left, running, complete, stage, stages)


def register_metrics(scheduler: Any) -> bool:
    """Serve the ``dask_collab_*`` metrics of ``scheduler`` on its ``/metrics``; False (and a log
    line) without ``prometheus_client``. Idempotent; a later scheduler in the same process takes over."""
    global _collector
    try:
        import prometheus_client
    except ImportError:
        import logging

        logging.getLogger("daskcollab.dashboard").info(
            "prometheus_client is not installed: no dask_collab_* metrics (pip install prometheus_client)")
        return False
    with _lock:
        if _collector is None:
            _collector = Collector(scheduler)
            try:
                prometheus_client.REGISTRY.register(_collector)
            except ValueError:  # already registered (a module reloaded): keep the one there
                pass
        elif _collector._scheduler() is not scheduler:
            _collector.target(scheduler)
    return True
