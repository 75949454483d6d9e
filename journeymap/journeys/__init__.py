"""Journey analytics: journeys, touchpoints, transitions, paths, funnels, stages, friction, retention, drivers.

Every function builds Ibis expressions over the canonical ``events`` table and
reads the one journey definition in :mod:`journeymap.journeys.journeys`.

The names below load on first use (module ``__getattr__``): ``from journeymap.journeys import
touchpoints`` imports :mod:`~journeymap.journeys.touchpoints` and what it needs, not pandas for
retention nor the other analyses, so a command pays only for the analysis it runs.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from journeymap.journeys.drivers import DriversResult, drivers, drivers_counts_expr, odds_ratio
    from journeymap.journeys.filters import Filters, apply_filters, filter_events, with_dimension
    from journeymap.journeys.friction import FrictionResult, friction, friction_expr
    from journeymap.journeys.funnel_steps import DEFAULT_WINDOW, Exclusion, Step
    from journeymap.journeys.funnels import (
        FunnelResult,
        funnel,
        funnel_customers,
        funnel_customers_expr,
        funnel_entries,
        funnel_expr,
    )
    from journeymap.journeys.journeys import (
        JOURNEY_COLUMNS,
        STATUSES,
        JourneyRules,
        build_journeys,
        data_end,
        journey_table,
        status_counts,
    )
    from journeymap.journeys.paths import (
        FlowsResult,
        PathRules,
        PathsResult,
        flows,
        flows_expr,
        variants,
        variants_expr,
    )
    from journeymap.journeys.personas import assign_personas, with_personas
    from journeymap.journeys.retention import RetentionResult, retention, retention_expr
    from journeymap.journeys.stages import StageFunnelResult, stage_funnel, stage_funnel_expr
    from journeymap.journeys.touchpoints import TouchpointsResult, touchpoints, touchpoints_expr
    from journeymap.journeys.transitions import TransitionsResult, transitions, transitions_expr

_WHERE: dict[str, str] = {
    **dict.fromkeys(("DriversResult", "drivers", "drivers_counts_expr", "odds_ratio"), "drivers"),
    **dict.fromkeys(("Filters", "apply_filters", "filter_events", "with_dimension"), "filters"),
    **dict.fromkeys(("FrictionResult", "friction", "friction_expr"), "friction"),
    **dict.fromkeys(("DEFAULT_WINDOW", "Exclusion", "Step"), "funnel_steps"),
    **dict.fromkeys(
        ("FunnelResult", "funnel", "funnel_customers", "funnel_customers_expr", "funnel_entries", "funnel_expr"),
        "funnels",
    ),
    **dict.fromkeys(
        ("JOURNEY_COLUMNS", "STATUSES", "JourneyRules", "build_journeys", "data_end", "journey_table", "status_counts"),
        "journeys",
    ),
    **dict.fromkeys(
        ("FlowsResult", "PathRules", "PathsResult", "flows", "flows_expr", "variants", "variants_expr"), "paths"
    ),
    **dict.fromkeys(("assign_personas", "with_personas"), "personas"),
    **dict.fromkeys(("RetentionResult", "retention", "retention_expr"), "retention"),
    **dict.fromkeys(("StageFunnelResult", "stage_funnel", "stage_funnel_expr"), "stages"),
    **dict.fromkeys(("TouchpointsResult", "touchpoints", "touchpoints_expr"), "touchpoints"),
    **dict.fromkeys(("TransitionsResult", "transitions", "transitions_expr"), "transitions"),
}
"""Each public name and the submodule that defines it."""


def __getattr__(name: str) -> Any:
    """Load a public name's submodule on first use (and keep the name here, so it loads once)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'journeymap.journeys' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"journeymap.journeys.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


class _Package(types.ModuleType):
    """This package's module type: importing the submodule ``touchpoints`` (``drivers``, ``friction``,
    ``retention``, ``transitions``) must not replace the public function of that name here with the module,
    as Python's import does by default; the function stays the package's attribute, as it was when this
    package imported every submodule eagerly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _WHERE.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "JOURNEY_COLUMNS",
    "STATUSES",
    "Filters",
    "JourneyRules",
    "apply_filters",
    "assign_personas",
    "build_journeys",
    "data_end",
    "filter_events",
    "journey_table",
    "status_counts",
    "with_dimension",
    "with_personas",
    # touchpoints, transitions, paths
    "FlowsResult",
    "PathRules",
    "PathsResult",
    "TouchpointsResult",
    "TransitionsResult",
    "flows",
    "flows_expr",
    "touchpoints",
    "touchpoints_expr",
    "transitions",
    "transitions_expr",
    "variants",
    "variants_expr",
    # funnels, stages, friction, retention, drivers
    "DEFAULT_WINDOW",
    "DriversResult",
    "Exclusion",
    "FrictionResult",
    "FunnelResult",
    "RetentionResult",
    "StageFunnelResult",
    "Step",
    "drivers",
    "drivers_counts_expr",
    "friction",
    "friction_expr",
    "funnel",
    "funnel_customers",
    "funnel_customers_expr",
    "funnel_entries",
    "funnel_expr",
    "odds_ratio",
    "retention",
    "retention_expr",
    "stage_funnel",
    "stage_funnel_expr",
]
