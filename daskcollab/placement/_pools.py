"""Worker pools as the scheduler sees them (pure).

A worker belongs to a pool by advertising two things:

* the abstract resource ``pool-<name>`` with a large quantity (:data:`POOL_LABEL_QUANTITY`), so the
  label never limits concurrency and survives worker restarts (a nanny restarts the worker with
  the same resources; a restarted worker gets a new address, so addresses are never used), and
* ``worker.startup_information["daskcollab"] = {"pool", "price_per_hour", "speed"}``, which reaches
  the scheduler as ``WorkerState.extra["daskcollab"]``.

This module turns that metadata into :class:`~daskcollab.placement.Pool` objects for the policy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dask.utils import parse_timedelta

from daskcollab._contract import METADATA_KEY, POOL_LABEL_QUANTITY, POOL_PREFIX, pool_resource  # noqa: F401
from daskcollab._errors import DaskCollabError, stage_message
from daskcollab.placement._planning import Pool

#: Resource no worker has: the plugin holds a task in ``no-worker`` for one turn of the event loop
#: with it (to err it, or to release a submission in the plan's order); it is no pool request.
HOLD_RESOURCE = "daskcollab-hold"


def pool_of_label(label: str) -> str | None:
    """The pool named by a resource label, or None when ``label`` is not a pool label.

    Examples
    --------
    >>> pool_of_label("pool-gpu"), pool_of_label("GPU")
    ('gpu', None)
    """
    return label[len(POOL_PREFIX) :] if label.startswith(POOL_PREFIX) and len(label) > len(POOL_PREFIX) else None


def split_resources(resources: Mapping[str, float] | None) -> tuple[dict[str, float], list[str]]:
    """Split a resource mapping into (abstract resources without pool labels, pool names).

    Examples
    --------
    >>> split_resources({"GPU": 1, "pool-gpu": 1})
    ({'GPU': 1}, ['gpu'])
    """
    plain: dict[str, float] = {}
    pools: list[str] = []
    for label, quantity in (resources or {}).items():
        name = pool_of_label(str(label))
        if name is None:
            plain[str(label)] = quantity
        else:
            pools.append(name)
    return plain, pools


def worker_metadata(pool: str, price_per_hour: float, speed: float = 1.0) -> dict[str, Any]:
    """The metadata a worker of ``pool`` advertises (validated).

    Examples
    --------
    >>> worker_metadata("cpu-spot", 0.10, 1.0)
    {'pool': 'cpu-spot', 'price_per_hour': 0.1, 'speed': 1.0}
    """
    pool_resource(pool)
    price, speed_ = float(price_per_hour), float(speed)
    if price < 0:
        raise DaskCollabError(
            stage_message("worker", "price", f"expected a price per hour >= 0, got {price_per_hour!r}", "pass --price 0.10")
        )
    if speed_ <= 0:
        raise DaskCollabError(
            stage_message("worker", "speed", f"expected a relative speed > 0, got {speed!r}", "pass --speed 1.0")
        )
    return {"pool": pool, "price_per_hour": price, "speed": speed_}


@dataclass(frozen=True)
class WorkerInfo:
    """What the placement plugin knows about one live worker."""

    address: str
    pool: str
    price_per_hour: float
    speed: float
    resources: Mapping[str, float] = field(default_factory=dict)


def worker_info(address: str, extra: Mapping[str, Any] | None, resources: Mapping[str, float] | None) -> WorkerInfo | None:
    """Read pool metadata of one worker from ``WorkerState.extra`` and its resources.

    The metadata wins; a worker with only a ``pool-<name>`` resource label joins that pool at
    price 0 and speed 1. A worker without either is not in any pool (None).

    Examples
    --------
    >>> worker_info("tcp://a:1", {"daskcollab": {"pool": "gpu", "price_per_hour": 2.5, "speed": 1.0}},
    ...             {"pool-gpu": 1e6, "GPU": 1}).resources
    {'GPU': 1}
    """
    plain, labelled = split_resources(resources)
    meta = (extra or {}).get(METADATA_KEY)
    if isinstance(meta, Mapping) and meta.get("pool"):
        return WorkerInfo(
            address, str(meta["pool"]), float(meta.get("price_per_hour", 0.0)), float(meta.get("speed", 1.0)), plain
        )
    if labelled:
        return WorkerInfo(address, labelled[0], 0.0, 1.0, plain)
    return None


def pools_from_workers(workers: Iterable[WorkerInfo]) -> dict[str, Pool]:
    """Aggregate live workers into pools (count, price, speed, resources every member has).

    Examples
    --------
    >>> ws = [WorkerInfo("a", "spot", 0.1, 1.0), WorkerInfo("b", "spot", 0.1, 1.0)]
    >>> pools_from_workers(ws)["spot"].workers
    2
    """
    members: dict[str, list[WorkerInfo]] = {}
    for info in workers:
        members.setdefault(info.pool, []).append(info)
    pools: dict[str, Pool] = {}
    for name, infos in members.items():
        first = infos[0]
        common = {
            r: min(float(i.resources.get(r, 0.0)) for i in infos)
            for r in first.resources
            if all(r in i.resources for i in infos)
        }
        pools[name] = Pool(
            name=name,
            price_per_hour=max(i.price_per_hour for i in infos),
            speed=min(i.speed for i in infos),
            workers=len(infos),
            resources=common,
        )
    return pools


def pool_from_mapping(spec: Mapping[str, Any] | Pool) -> Pool:
    """Build a :class:`Pool` from a config mapping (``price-per-hour`` or ``price_per_hour`` keys).

    ``min`` / ``max`` bound an elastic pool's size (default: ``workers``, a pool that stays its size).
    What the cloud bills: ``startup`` (a duration, default 0: request to join), ``billing:
    {granularity, minimum}`` (durations, default 1 s and 0); ``spot: true`` and ``preemption: {rate}``
    (preemptions per worker-hour) for a pool of preemptible workers.

    Examples
    --------
    >>> pool_from_mapping({"name": "gpu", "price-per-hour": 2.5, "resources": {"GPU": 1}}).resources
    {'GPU': 1.0}
    >>> pool_from_mapping({"name": "gpu", "workers": 0, "max": 2}).max_workers
    2
    """
    if isinstance(spec, Pool):
        return spec
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise DaskCollabError(
            stage_message(
                "placement",
                "pools",
                f"expected a mapping with at least 'name' and 'price-per-hour', got {spec!r}",
                "write pools as [{name: cpu-spot, price-per-hour: 0.1, speed: 1.0, workers: 2, min: 0, max: 4}]",
            )
        )
    norm = {str(k).replace("-", "_"): v for k, v in spec.items()}
    name = str(norm["name"])
    bounds = {}
    for key in ("workers", "min", "max"):
        value = norm.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise DaskCollabError(
                stage_message("placement", f"pools.{name}.{key}", f"expected a whole number of workers >= 0, got "
                              f"{value!r}", "write e.g. {workers: 1, min: 0, max: 4}")
            )
        bounds[key] = value
    billing = _block(norm, name, "billing", ("granularity", "minimum"), "{granularity: 1s, minimum: 60s}")
    preemption = _block(norm, name, "preemption", ("rate",), "{rate: 0.5}  # preemptions per worker-hour")
    spot = norm.get("spot", False)
    if not isinstance(spot, bool):
        raise DaskCollabError(stage_message("placement", f"pools.{name}.spot", f"expected true or false, got {spot!r}",
                                            "write spot: true for a pool of spot (preemptible) workers"))
    return Pool(
        name=name,
        price_per_hour=float(norm.get("price_per_hour", 0.0)),
        speed=float(norm.get("speed", 1.0)),
        workers=1 if bounds["workers"] is None else bounds["workers"],
        resources={str(k): float(v) for k, v in (norm.get("resources") or {}).items()},
        min_workers=bounds["min"],
        max_workers=bounds["max"],
        startup=_seconds(norm.get("startup", 0.0), name, "startup"),
        billing_granularity=_seconds(billing.get("granularity", 1.0), name, "billing.granularity"),
        billing_minimum=_seconds(billing.get("minimum", 0.0), name, "billing.minimum"),
        spot=spot,
        preemption_rate=_seconds(preemption.get("rate", 0.0), name, "preemption.rate"),
    )


def _block(norm: Mapping[str, Any], name: str, key: str, known: tuple[str, ...], example: str) -> dict[str, Any]:
    value = norm.get(key) or {}
    if not isinstance(value, Mapping) or set(value) - set(known):
        raise DaskCollabError(stage_message("placement", f"pools.{name}.{key}", f"expected a mapping with keys from "
                                            f"{list(known)}, got {value!r}", f"write {key}: {example}"))
    return dict(value)


def _seconds(value: Any, name: str, key: str) -> float:
    """A duration (``90``, ``'90s'``, ``'2m'``) or a non-negative number, as seconds."""
    try:
        seconds = float(parse_timedelta(value)) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, KeyError):
        seconds = -1.0
    if isinstance(value, bool) or not seconds >= 0 or math.isinf(seconds):
        raise DaskCollabError(stage_message("placement", f"pools.{name}.{key}", f"expected a duration or number >= 0, "
                                            f"got {value!r}", f"write e.g. {key}: 90s"))
    return seconds


#: The three example pools of the issue: cheap slow spot CPUs, fast on-demand CPUs, a GPU pool.
EXAMPLE_POOLS: tuple[Pool, ...] = (
    Pool("cpu-spot", price_per_hour=0.10, speed=1.0, workers=2),
    Pool("cpu-ondemand", price_per_hour=0.40, speed=2.0, workers=1),
    Pool("gpu", price_per_hour=2.50, speed=1.0, workers=1, resources={"GPU": 1}),
)
