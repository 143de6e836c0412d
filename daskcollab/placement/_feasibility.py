"""Can a stage or task ever run? One rule and one message for the client, the plugin and the policy (pure).

A request is ``resources`` (abstract Dask resources, e.g. ``{"GPU": 1}``, per worker) plus an
optional ``pool`` it is pinned to. A pool can run it when the pin (if any) names the pool and
every resource is offered by the pool's workers. Pools come in two kinds:

* *live*: pools with at least one worker now (and, on a cluster without pool metadata, every
  plain worker as a group of its own, see :func:`unpooled_workers`);
* *declared*: pools the scheduler was told about (``collab.placement.pools``) that may have no
  worker yet, e.g. Kubernetes worker groups whose pods are starting.

:func:`feasibility` says whether a request can run now, only later (it waits for a declared
pool, bounded by ``no-worker-timeout``), or never (:class:`UnplaceableError` with
:func:`unplaceable_message`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from daskcollab._errors import stage_message
from daskcollab.placement._spec import Pool, can_run

#: Prefix of the names :func:`unpooled_workers` gives plain workers.
UNPOOLED = "(unpooled"


class Verdict(str, Enum):
    NOW = "now"  # a live pool can run it
    LATER = "later"  # only a declared pool without live workers can: wait for it
    NEVER = "never"


@dataclass(frozen=True)
class Feasibility:
    verdict: Verdict
    pools: tuple[str, ...] = ()  # the pools that can run it (live ones for NOW, declared for LATER)
    missing: Mapping[str, float] = field(default_factory=dict)  # what no pool offers (NEVER)


def feasibility(
    resources: Mapping[str, float] | None,
    pool: str | None,
    live: Iterable[Pool],
    declared: Iterable[Pool] = (),
) -> Feasibility:
    """Whether a request can run now, later (a declared pool), or never.

    Examples
    --------
    >>> live = [Pool("cpu-spot", 0.1)]
    >>> feasibility({}, None, live).verdict.value
    'now'
    >>> feasibility({"GPU": 1}, None, live, [Pool("gpu", 2.5, resources={"GPU": 1})]).verdict.value
    'later'
    >>> feasibility({"TPU": 1}, None, live).missing
    {'TPU': 1}
    """
    resources = dict(resources or {})
    live = list(live)
    now = tuple(p.name for p in live if can_run(resources, pool, p))
    if now:
        return Feasibility(Verdict.NOW, now)
    later = tuple(p.name for p in declared if can_run(resources, pool, p) and p.name not in {q.name for q in live})
    if later:
        return Feasibility(Verdict.LATER, later)
    return Feasibility(Verdict.NEVER, (), _missing(resources, pool, [*live, *declared]))


def _missing(resources: Mapping[str, float], pool: str | None, pools: Sequence[Pool]) -> dict[str, float]:
    """The smallest part of a request that no (pinned) pool satisfies."""
    from daskcollab._contract import pool_resource

    candidates = [p for p in pools if pool is None or p.name == pool]
    if pool is not None and not candidates:
        return {pool_resource(pool): 1}
    best: dict[str, float] | None = None
    for p in candidates:
        miss = {r: q for r, q in resources.items() if float(p.resources.get(r, 0.0)) < float(q)}
        if best is None or len(miss) < len(best):
            best = miss
    return dict(resources) if best is None else best


def describe_pools(pools: Iterable[Pool]) -> str:
    """``name (resources {...}, N workers)`` for each pool, for error messages."""
    parts = [f"{p.name} (resources {dict(p.resources)!r}, {p.workers} workers)" for p in sorted(pools, key=lambda p: p.name)]
    return ", ".join(parts) if parts else "none"


def unplaceable_message(
    stage: str | None,
    resources: Mapping[str, float] | None,
    pool: str | None,
    missing: Mapping[str, float],
    pools: Iterable[Pool],
    *,
    waited: float | None = None,
) -> str:
    """The one message for a request no current or declared pool can run (or that waited too long)."""
    from daskcollab._contract import pool_resource

    resources = dict(resources or {})
    what = f"pool {pool!r}" if pool is not None and pool_resource(pool) in missing else f"resources {dict(missing)!r}"
    request = f"full request {resources!r}" + ("" if pool is None else f", pool {pool!r}")
    if waited is None:
        problem = f"expected a request some current or declared pool can satisfy, got {what} ({request})"
    else:
        problem = f"waited {waited:.0f} s (no-worker-timeout) for a worker of {what} ({request}); none joined"
    return stage_message(
        str(stage),
        "pool" if pool is not None and pool_resource(pool) in missing else "resources",
        f"{problem}; pools available: {describe_pools(pools)}",
        "request resources a pool advertises, start workers with them "
        "(dask worker --resources ... --preload daskcollab.deploy.worker --pool NAME --price P), "
        "or declare the pool in collab.placement.pools",
    )


def unpooled_workers(workers: Mapping[str, Mapping[str, float]]) -> list[Pool]:
    """Plain workers (no pool metadata) as one-worker groups: ``{address: resources}`` -> pools."""
    return [Pool(f"{UNPOOLED} {address})", 0.0, 1.0, 1, dict(res)) for address, res in workers.items()]
