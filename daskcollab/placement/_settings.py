"""The placement plugin's settings: arguments over ``collab.placement.*`` config over the packaged defaults (pure).

Defaults live once, in ``daskcollab.yaml`` (read through :func:`daskcollab._config.setting`); an
argument that is not ``None`` wins over configuration. :func:`check_arguments` refuses, on the
client, a value the scheduler could not read, so a malformed argument is a
:class:`~daskcollab.UsageError` naming it, not an error inside the scheduler.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from dask.utils import parse_timedelta

from daskcollab import _config
from daskcollab._errors import UsageError
from daskcollab.placement._pools import pool_from_mapping
from daskcollab.placement._spec import CostBasis, Mode, Pool, SpotPolicy


class BudgetAction(Enum):
    """What the plugin does when a plan, or the money actually spent, misses the budget or deadline."""

    WARN = "warn"
    FAIL = "fail"


#: Which money a run's plan is chosen by and its budget compared with (held: the bill; busy).
BudgetBasis = CostBasis


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one placement plugin (see :class:`~daskcollab.placement.PlacementPlugin`)."""

    mode: Mode = Mode.BALANCED
    tradeoff: float = 0.5
    min_work: float = 0.005
    declared: Mapping[str, Pool] = field(default_factory=dict)
    learn: bool = True
    no_worker_timeout: float = 60.0
    on_budget_miss: BudgetAction = BudgetAction.WARN
    budget_counts: BudgetBasis = BudgetBasis.HELD
    default_work: float = 1.0
    task_overhead: float | None = None  # None: the cost model's learned average
    spot_policy: SpotPolicy = SpotPolicy.PLAN  # how runs with a deadline use spot pools


def check_arguments(**given: tuple[Any, Any]) -> None:
    """Refuse an argument the scheduler could not read: ``name=(kind, value)``, where ``kind`` is an
    Enum class or ``"timedelta"`` (a :class:`~daskcollab.UsageError` naming the argument and the fix).

    Examples
    --------
    >>> check_arguments(mode=(Mode, "cheapest"), no_worker_timeout=("timedelta", "90s"))
    >>> check_arguments(mode=(Mode, "fast"))
    Traceback (most recent call last):
    ...
    daskcollab._errors.UsageError: PlacementPlugin, field 'mode': 'fast' is not one of 'fastest', 'cheapest', 'balanced'. Fix: pass one of 'fastest', 'cheapest', 'balanced'
    """
    for name, (kind, value) in given.items():
        if value is None:
            continue
        try:
            parse_timedelta(value) if kind == "timedelta" else kind(value)
        except (KeyError, ValueError, TypeError):
            allowed = ("a duration such as 60, '90s', '5m' or '1h'" if kind == "timedelta"
                       else "one of " + ", ".join(repr(m.value) for m in kind))
            raise UsageError(f"PlacementPlugin, field {name!r}: {value!r} is not {allowed}. "
                             f"Fix: pass {allowed}") from None


def arguments(*, pools: Iterable[Pool | Mapping[str, Any]] | None = None, **given: Any) -> dict[str, Any]:
    """The plugin's arguments, checked (:func:`check_arguments`), as keyword arguments of :func:`resolve`."""
    check_arguments(mode=(Mode, given.get("mode")), on_budget_miss=(BudgetAction, given.get("on_budget_miss")),
                    budget_counts=(BudgetBasis, given.get("budget_counts")),
                    no_worker_timeout=("timedelta", given.get("no_worker_timeout")),
                    task_overhead=("timedelta", given.get("task_overhead")),
                    spot_policy=(SpotPolicy, given.get("spot_policy")))
    return {**given, "pools": None if pools is None else list(pools)}


def _enum(kind: type[Enum], key: str, value: Any) -> Any:
    return kind(_config.setting(f"placement.{key}", None if value is None else kind(value).value))


def resolve(*, mode: Mode | str | None = None, tradeoff: float | None = None,
            pools: Iterable[Pool | Mapping[str, Any]] | None = None, learn: bool | None = None,
            no_worker_timeout: float | str | None = None, on_budget_miss: BudgetAction | str | None = None,
            budget_counts: BudgetBasis | str | None = None, default_work: float | None = None,
            task_overhead: float | str | None = None, min_work: float | None = None,
            spot_policy: SpotPolicy | str | None = None) -> Settings:
    """Settings from arguments (``None``: not given), then ``collab.placement.*``, then the defaults.

    Examples
    --------
    >>> resolve(mode="cheapest").mode, resolve().no_worker_timeout
    (<Mode.CHEAPEST: 'cheapest'>, 60.0)
    """
    overhead = _config.get("placement.task-overhead", task_overhead)
    return Settings(
        mode=_enum(Mode, "mode", mode),
        tradeoff=float(_config.setting("placement.tradeoff", tradeoff)),
        min_work=float(_config.setting("placement.min-work", min_work)),
        declared={p.name: p for p in map(pool_from_mapping, _config.setting("placement.pools", pools))},
        learn=bool(_config.setting("placement.learn", learn)),
        no_worker_timeout=float(parse_timedelta(_config.setting("placement.no-worker-timeout", no_worker_timeout))),
        on_budget_miss=_enum(BudgetAction, "on-budget-miss", on_budget_miss),
        budget_counts=_enum(BudgetBasis, "budget-counts", budget_counts),
        default_work=float(_config.setting("placement.default-work", default_work)),
        task_overhead=None if overhead is None else float(parse_timedelta(overhead)),
        spot_policy=_enum(SpotPolicy, "spot-policy", spot_policy),
    )
