"""Journey analytics: journeys, touchpoints, transitions, paths, funnels, stages, friction, retention, drivers.

Every function builds Ibis expressions over the canonical ``events`` table and
reads the one journey definition in :mod:`journeymap.journeys.journeys`.
"""

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
