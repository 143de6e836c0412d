"""The placement policy API the plugin imports: a re-export of :mod:`daskcollab.placement._planning`.

The module keeps its name so that ``_plugin.py``, ``_accounting.py``, ``_emulate.py``, ``_pools.py``,
``_local.py`` and ``daskcollab.placement`` import from one place; the former greedy stand-in is gone
and the real pure policy (HEFT / IC-PCP-style cheapest / slack-guided balanced) lives in
``_planning.py``.
"""

from __future__ import annotations

from daskcollab.placement._planning import (
    Assignment,
    CostModel,
    LowerBounds,
    Mode,
    Objective,
    Plan,
    Pool,
    TaskSpec,
    eligible_pools,
    lower_bounds,
    plan,
    unplaceable,
)

__all__ = [
    "Assignment", "CostModel", "LowerBounds", "Mode", "Objective", "Plan", "Pool", "TaskSpec",
    "eligible_pools", "lower_bounds", "plan", "unplaceable",
]
