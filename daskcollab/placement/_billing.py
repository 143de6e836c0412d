"""What a cloud bills for a pool's workers: held worker-time, from request to release (pure).

A worker is billed from the moment it is asked for (its start-up, ``Pool.startup`` seconds, is
paid) until it is released, busy or idle, rounded up to the pool's billing granularity
(``Pool.billing_granularity``, default 1 s) and never less than its minimum period
(``Pool.billing_minimum``, default 0; commonly 60 s for cloud VMs).

A plan's pool-size schedule is a list of :class:`Lease` objects per pool (when each worker is asked
for, joins and is released). :func:`slot_leases` turns one worker slot's busy intervals into leases:
an idle gap is kept when keeping the worker bills less than releasing it and paying a new
start-up (and minimum period) for the next interval. An elastic pool's ``min_workers`` are held for
the whole run; a pool no controller scales (static) holds every worker for the whole run once the
plan uses it.

Examples
--------
>>> from daskcollab.placement import Pool
>>> gpu = Pool("gpu", 36.0, startup=30.0, billing_minimum=60.0)
>>> billed_seconds(10.0, gpu), billed_seconds(75.4, gpu)
(60.0, 76.0)
>>> [(l.requested, l.released) for l in slot_leases([(40.0, 50.0), (60.0, 70.0), (200.0, 210.0)], gpu, origin=0.0)]
[(10.0, 70.0), (170.0, 210.0)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from daskcollab.placement._spec import Pool


def billed_seconds(held: float, pool: Pool) -> float:
    """The seconds a cloud bills for a worker held ``held`` seconds (0 for none)."""
    if held <= 1e-12:
        return 0.0
    g = pool.billing_granularity
    rounded = math.ceil(held / g - 1e-9) * g if g > 0 else held
    return max(rounded, pool.billing_minimum)


@dataclass(frozen=True)
class Lease:
    """One worker of ``pool``: asked for at ``requested``, working from ``joined``, released at ``released``."""

    pool: str
    requested: float
    joined: float
    released: float

    @property
    def held(self) -> float:
        return self.released - self.requested

    def cost(self, pool: Pool) -> float:
        """$ the cloud bills for this worker."""
        return billed_seconds(self.held, pool) * pool.price_per_hour / 3600.0


def slot_leases(busy: Sequence[tuple[float, float]], pool: Pool, *, origin: float, live: bool = False,
                floor: float | None = None) -> list[Lease]:
    """The leases of one worker slot busy during ``busy`` intervals (elastic pool).

    ``live``: the worker is up at ``origin`` (no start-up to pay; what it was billed before is not
    this plan's). ``floor``: a worker the pool keeps (``min_workers``), held from ``origin`` to
    ``floor``. Otherwise each lease is asked for ``pool.startup`` before its first interval.
    """
    if floor is not None:
        return [Lease(pool.name, origin, origin, max(floor, origin, *(b for _, b in busy)))]
    out: list[Lease] = []
    current: list[float] | None = [origin, origin, origin] if live else None
    for start, end in sorted(busy):
        if current is None:
            current = [start - pool.startup, start, end]
            continue
        held_now = current[2] - current[0]
        through = billed_seconds(end - current[0], pool)
        split = billed_seconds(held_now, pool) + billed_seconds(pool.startup + end - start, pool)
        if through <= split + 1e-9:  # keeping the worker idle bills no more than a new start-up
            current[2] = max(current[2], end)
        else:
            if current[2] > current[0]:
                out.append(Lease(pool.name, *current))
            current = [start - pool.startup, start, end]
    if current is not None and current[2] > current[0]:
        out.append(Lease(pool.name, *current))
    return out


def bill(leases: Mapping[str, Sequence[Lease]], pools: Mapping[str, Pool]) -> float:
    """$ of every lease, by what each pool bills."""
    return sum(lease.cost(pools[name]) for name, ls in leases.items() for lease in ls)


def kept_idle(leases: Sequence[Lease], busy: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The idle gaps inside ``leases``: a worker kept rather than released and asked for again,
    from its join (a worker up already: from the plan's start) to its last busy interval."""
    gaps = []
    intervals = sorted(busy)
    for lease in leases:
        t = lease.joined
        for a, b in intervals:
            if b <= lease.joined + 1e-9 or a >= lease.released - 1e-9:
                continue  # another lease's, or one that ended before this one began
            if a > t + 1e-9:
                gaps.append((t, a))
            t = max(t, b)
    return gaps
