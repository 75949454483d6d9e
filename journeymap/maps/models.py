"""The JourneyMap document: the pydantic models (data first, picture second).

One versioned JSON document holds, per stage and touchpoint, the figures and
their evidence (sample sizes, intervals, quotes), plus flows, the emotion curve,
ranked pain points, opportunities, attribution, drivers, themes, personas,
designed vs observed, change vs a previous period and the data-quality summary.
Reports and the web app render it; :func:`journeymap.maps.diff_maps` compares two.

Conventions used throughout:

* shares and rates are fractions in [0, 1] (not percentages);
* durations are seconds (``*_s``);
* intervals are 95% (``low``/``high``); ``None`` means "not computable" (too few data);
* ``n`` is always the sample size behind a figure;
* emotion/sentiment scores are on the scale -1 (very negative) .. +1 (very positive).

Examples
--------
>>> m = JourneyMap.model_validate({"meta": {"workspace": "shop", "generated_at": "2026-01-01T00:00:00Z"}})
>>> JourneyMap.from_json(m.to_json()) == m
True
>>> m.schema_version == SCHEMA_VERSION
True
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from journeymap.errors import InputError
from journeymap.results import Result

SCHEMA_VERSION = 3
"""Version of the document's shape. Bump on any change a reader could notice and add its migration step to
:data:`MIGRATIONS`: readers migrate older documents (1 and 2 load) and refuse newer ones.

2: ``persona_maps`` (the grid per persona); ``post_goal`` on stages, touchpoint cells, pain points and
opportunities (touches after the goal's stage are judged against post-purchase touches).
3: ``after_goal`` on stages and persona stages (of converted journeys, the share whose customer reaches the
stage after converting, within the conversion window); ``conversion_to_next`` is None on the goal's stage.
Additions within 3, each with a default so documents written before them still load: ``meta.emotion_min_n``;
``driver`` and ``caveats`` on pain points, ``caveats`` on touchpoint cells; ``target``/``meets_target`` on
headlines; ``converted_journeys``, ``unattributed`` and ``denominator_note`` on the attribution."""

EMOTION_MIN_N = 10
"""Default of :attr:`Meta.emotion_min_n` (equal to :data:`journeymap.stats.EMOTION_MIN_N`; the document's models
import nothing that may load ibis, so the number is stated here): emotion is coloured only where this many scored items or more stand
behind it (``[report] emotion_min_n`` in journeymap.toml, or ``build_map(emotion_min_n=...)``)."""

PURCHASE_PATH_CAVEAT = "Sits on the purchase path: its lift reflects position, not proof it helps."
"""The caveat of a touchpoint that is both a top-5 pain point and a conversion driver (see
:attr:`TouchpointCell.caveats`)."""

Scalar = float | int | str | bool | None


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


# -- small building blocks -----------------------------------------------------------------------
class Rate(_Doc):
    """A proportion ``k / n`` with its 95% Wilson score interval."""

    k: int = 0
    """Numerator: how many succeeded (converted, continued, exited...)."""
    n: int = 0
    """Denominator: how many could (the sample size)."""
    value: float | None = None
    """``k / n``; None when ``n`` is 0."""
    low: float | None = None
    """Lower bound of the 95% Wilson score interval."""
    high: float | None = None
    """Upper bound of the 95% Wilson score interval."""


class Estimate(_Doc):
    """A mean (or other estimate) with its 95% interval and sample size."""

    value: float | None = None
    """The estimate; None when there are no data."""
    low: float | None = None
    """Lower bound of the 95% interval (None when n is too small)."""
    high: float | None = None
    """Upper bound of the 95% interval (None when n is too small)."""
    n: int = 0
    """Number of observations behind the estimate."""


class KPI(_Doc):
    """A survey KPI (NPS, CSAT or CES) at a stage or touchpoint."""

    name: Literal["nps", "csat", "ces"]
    """Which KPI: ``nps`` (-100..100), ``csat`` (% of 4-5 answers on 1-5, 0..100), ``ces`` (mean on 1-7, higher = easier)."""
    value: float | None = None
    """The KPI's value on its own scale (see ``name``)."""
    low: float | None = None
    """Lower bound of the 95% interval."""
    high: float | None = None
    """Upper bound of the 95% interval."""
    n: int = 0
    """Number of survey responses behind it."""
    small_sample: bool = True
    """True when ``n`` is below the reliability threshold (read with caution; renderers grey it out)."""
    target: float | None = None
    """The blueprint's target for this KPI here, when it sets one."""
    meets_target: bool | None = None
    """Whether the KPI meets ``target`` (None without a target or enough data). A CSAT target of 5 or less is
    read as a mean on 1-5 and compared with ``mean``."""
    mean: float | None = None
    """Mean raw answer (NPS 0-10, CSAT 1-5, CES 1-7), for targets written on that scale."""


class EmotionShare(_Doc):
    """One emotion's share of the feedback at a place."""

    emotion: str
    """Emotion name from the lexicon (joy, anger, fear, sadness, surprise, trust...)."""
    share: float
    """Share of feedback items at this place that carry this emotion (0..1)."""
    n: int = 0
    """Number of feedback items carrying it."""


class Emotion(_Doc):
    """How customers feel at a stage or touchpoint: mean sentiment of feedback and ratings."""

    mean: float | None = None
    """Mean emotion score on -1..+1 (text sentiment and ratings rescaled to -1..+1, pooled)."""
    low: float | None = None
    """Lower bound of the 95% interval of the mean."""
    high: float | None = None
    """Upper bound of the 95% interval of the mean."""
    n: int = 0
    """Number of scored feedback items (texts and ratings) behind the mean."""
    negative_share: float | None = None
    """Share of items scored negative (< -0.05)."""
    dominant: list[EmotionShare] = Field(default_factory=list)
    """The most frequent emotions, most frequent first (up to 3)."""


class Friction(_Doc):
    """Friction at a touchpoint (from :func:`journeymap.journeys.friction`)."""

    score: float
    """Friction score (0 = none; the sum of the capped components)."""
    rank: int | None = None
    """Rank among all touchpoints by friction score (1 = most friction)."""
    components: dict[str, float | None] = Field(default_factory=dict)
    """The parts of the score (exits, repeats/loops, slowness, negative feedback...), each as computed by friction()."""


class Lift(_Doc):
    """Exposure lift: conversion of customers exposed to the touchpoint vs comparable customers not exposed."""

    effect: float | None = None
    """Difference in conversion rate, exposed minus not exposed (absolute, in rate units)."""
    low: float | None = None
    """Lower bound of the 95% interval of the effect."""
    high: float | None = None
    """Upper bound of the 95% interval of the effect."""
    relative: float | None = None
    """Relative lift: exposed rate / unexposed rate - 1."""
    p: float | None = None
    """Two-sided p-value of the difference."""
    q: float | None = None
    """Benjamini-Hochberg adjusted p-value across all touchpoints tested."""
    significant: bool = False
    """True when ``q`` < 0.05."""
    exposed: Rate | None = None
    """Conversion of exposed customers (k converted of n exposed)."""
    unexposed: Rate | None = None
    """Conversion of unexposed customers."""


class ThemeRef(_Doc):
    """A theme as it appears at one place (stage/touchpoint)."""

    theme: str
    """Theme label (its key phrases)."""
    theme_id: int | str | None = None
    """Id of the theme in :attr:`JourneyMap.themes`."""
    n: int = 0
    """Feedback items of this theme at this place."""
    share: float | None = None
    """Share of this place's feedback in this theme."""
    sentiment: float | None = None
    """Mean sentiment (-1..+1) of those items."""


class Quote(_Doc):
    """A verbatim from feedback, redacted (emails, phones, card numbers, names removed)."""

    feedback_id: str
    """Id of the feedback row it comes from (the evidence trail)."""
    text: str
    """The redacted text."""
    sentiment: float | None = None
    """Its sentiment score (-1..+1)."""
    touchpoint: str | None = None
    """Touchpoint it is linked to."""
    theme: str | None = None
    """Theme it belongs to, when themed."""
    time: datetime | None = None
    """When it was given."""
    source: str | None = None
    """Where it came from (survey, review, support...)."""


class Evidence(_Doc):
    """Why a claim holds: the figures and the quotes behind it."""

    figures: dict[str, Scalar] = Field(default_factory=dict)
    """Named figures, e.g. ``{"exit_rate": 0.31, "customers": 1200, "friction": 1.4}``."""
    quotes: list[Quote] = Field(default_factory=list)
    """Supporting verbatims (redacted, with feedback ids)."""
    note: str = ""
    """One sentence of how the figures were computed or compared."""


# -- meta, summary --------------------------------------------------------------------------------
class Meta(_Doc):
    """Provenance: what was mapped, when, how."""

    workspace: str
    """Workspace name (its folder name)."""
    generated_at: datetime
    """When the document was built (UTC)."""
    period_start: datetime | None = None
    """Start of the mapped period (inclusive), None = from the first event."""
    period_end: datetime | None = None
    """End of the mapped period (exclusive), None = up to the data's end."""
    data_start: datetime | None = None
    """Time of the first event in the mapped data."""
    data_end: datetime | None = None
    """Time of the last event in the data (journeys still open then are in progress)."""
    filters: dict[str, Any] = Field(default_factory=dict)
    """The filters applied (start, end, personas, where)."""
    persona: str | None = None
    """The persona this map is for; None = all customers."""
    compare_to: str | None = None
    """The compared period as written (``previous`` or ``START:END``), None when not compared."""
    models: list[str] = Field(default_factory=list)
    """Attribution models computed."""
    engine: str | None = None
    """Engine the figures were computed on (duckdb, spark...)."""
    journey_definition: dict[str, Any] = Field(default_factory=dict)
    """The journey settings used (inactivity gap, goals, ...), from the blueprint."""
    schema_version: int = SCHEMA_VERSION
    """Version of this document's schema (same as :attr:`JourneyMap.schema_version`)."""
    journeymap_version: str = ""
    """Version of journeymap that built it."""
    build_seconds: float | None = None
    """Wall time the build took."""
    warnings: list[str] = Field(default_factory=list)
    """Parts that could not be computed, and why (e.g. no feedback table)."""
    emotion_min_n: int = EMOTION_MIN_N
    """Fewest scored feedback items an emotion needs to be shown as a colour and a word (very negative ...
    very positive); with fewer, renderers print "few comments (n)" and no colour. From ``[report]
    emotion_min_n`` in journeymap.toml (default 10)."""


class Headline(_Doc):
    """One headline number for the top of the report."""

    key: str
    """Stable identifier (customers, journeys, conversion, nps, ...)."""
    label: str
    """Plain-words label."""
    value: Scalar = None
    """The number (shares as fractions)."""
    unit: Literal["count", "share", "score", "seconds", "currency", "text"] = "count"
    """How to format ``value``."""
    low: float | None = None
    """Lower bound of its 95% interval, when it has one."""
    high: float | None = None
    """Upper bound of its 95% interval, when it has one."""
    n: int | None = None
    """Sample size behind it."""
    delta: float | None = None
    """Change vs the compared period (same unit), when compared."""
    significant: bool | None = None
    """Whether the change is significant at 5%, when compared."""
    target: float | None = None
    """The blueprint's target for it (``targets.conversion_rate`` for conversion, the NPS/CSAT/CES targets), in
    the unit of ``value`` (a CSAT target of 5 or less is a mean rating on 1-5, see :attr:`KPI.meets_target`)."""
    meets_target: bool | None = None
    """Whether ``value`` meets ``target`` (None without a target or a value)."""


class Summary(_Doc):
    """The executive summary: plain-words sentences plus headline numbers."""

    sentences: list[str] = Field(default_factory=list)
    """Plain-words sentences, most important first, each traceable to a section of the map."""
    headlines: list[Headline] = Field(default_factory=list)
    """Headline numbers (customers, journeys, conversion, NPS, top pain point...)."""


# -- stages, lanes, touchpoints -------------------------------------------------------------------
class TouchpointFigures(_Doc):
    """Behaviour at a touchpoint (from touchpoints(), funnels and journeys)."""

    events: int = 0
    """Events at this touchpoint."""
    customers: int = 0
    """Distinct customers with at least one event here."""
    journeys: int = 0
    """Distinct journeys reaching it."""
    share: float | None = None
    """Reach: share of all journeys that reach it."""
    conversion: Rate | None = None
    """Share of journeys reaching it that convert (Wilson interval)."""
    median_position: float | None = None
    """Median step number (1 = first) at which journeys reach it."""
    median_time_to_conversion_s: float | None = None
    """Median seconds from here to the conversion, in converting journeys."""
    repeat_rate: float | None = None
    """Share of journeys reaching it that come back to it more than once."""
    exit_rate: float | None = None
    """Share of touches here that are the last touch of a dropped journey (friction()'s exit_rate)."""
    exits: int | None = None
    """Dropped journeys whose last touch is here."""


class TouchpointCell(_Doc):
    """One touchpoint on the map: who owns it, what happens there, how it feels, and the evidence."""

    name: str
    """Touchpoint name (as in the blueprint)."""
    stage: str | None = None
    """Stage it belongs to."""
    post_goal: bool = False
    """In a stage after the goal's (post-purchase): its journeys follow a conversion and rarely convert again, so
    its exits and friction are judged against post-purchase touches only, not against the whole journey."""
    channel: str | None = None
    """Channel (web, app, store, email, paid search...)."""
    owner: str | None = None
    """Owner team (from the blueprint)."""
    kind: Literal["owned", "paid", "earned"] | None = None
    """Owned, paid or earned media."""
    interaction: Literal["direct", "indirect"] = "direct"
    """Direct (customer and business interact) or indirect."""
    in_blueprint: bool = True
    """Whether the blueprint defines it (False: seen in the data only)."""
    has_data: bool = True
    """Whether any event in the mapped period is at it."""
    order: int = 0
    """Position in journey order across the whole map (stage order, then median position)."""
    figures: TouchpointFigures = Field(default_factory=TouchpointFigures)
    """Behaviour figures."""
    kpis: list[KPI] = Field(default_factory=list)
    """Survey KPIs linked to this touchpoint."""
    emotion: Emotion | None = None
    """Emotion here (sentiment of linked feedback and ratings)."""
    friction: Friction | None = None
    """Friction score and components."""
    attribution: dict[str, float] = Field(default_factory=dict)
    """Share of conversion credit per attribution model (model -> 0..1)."""
    lift: Lift | None = None
    """Exposure lift on conversion."""
    themes: list[ThemeRef] = Field(default_factory=list)
    """Top themes of feedback linked here."""
    quotes: list[Quote] = Field(default_factory=list)
    """3-5 representative redacted quotes (most negative first when friction is high)."""
    caveats: list[str] = Field(default_factory=list)
    """Plain-words cautions on reading its figures, e.g. :data:`PURCHASE_PATH_CAVEAT` when it is both a top-5
    pain point and a conversion driver (significant positive lift, or a significant odds ratio above 1)."""


class Lane(_Doc):
    """One row of the map within a stage: the touchpoints of one channel."""

    channel: str
    """Channel name (``unassigned`` when touchpoints have none)."""
    touchpoints: list[TouchpointCell] = Field(default_factory=list)
    """The channel's touchpoints in this stage, in journey order."""


class StageColumn(_Doc):
    """One stage (a column of the map)."""

    order: int
    """Position in the blueprint's stage order (0-based)."""
    name: str
    """Stage name."""
    post_goal: bool = False
    """After the goal's stage (post-purchase): its journeys follow a conversion, so its drop-off is not customers
    giving up on buying (the summary's drop sentence reads only the stages up to the goal's)."""
    description: str = ""
    """Blueprint description."""
    reach: Rate | None = None
    """Journeys reaching this stage out of all journeys (k of n)."""
    customers: int = 0
    """Distinct customers reaching this stage."""
    conversion_to_next: Rate | None = None
    """Of journeys touching this stage, share touching the next stage afterwards, in the same journey
    (stage_funnel()'s to_next). None for the last stage and for the goal's stage: a journey ends at its goal, so
    what converters do next is in ``after_goal`` of the stages after it."""
    after_goal: Rate | None = None
    """Stages after the goal's only: of converted journeys (``n``), those whose customer touches this stage after
    converting, within the conversion window (``k``; stage_funnel()'s after_goal). Conversions near the data's end
    have had less time."""
    conversion: Rate | None = None
    """Of journeys touching this stage, share that convert."""
    drop_off: Rate | None = None
    """Journeys whose last touch is in this stage and that dropped (gave up), of journeys touching it."""
    median_time_s: float | None = None
    """Median seconds from the first touch of this stage to the conversion, in converting journeys."""
    kpis: list[KPI] = Field(default_factory=list)
    """Survey KPIs of feedback at this stage."""
    emotion: Emotion | None = None
    """Emotion at this stage."""
    lanes: list[Lane] = Field(default_factory=list)
    """Touchpoints grouped by channel."""


# -- flows, emotion curve -------------------------------------------------------------------------
class Transition(_Doc):
    """A step from one touchpoint to the next within journeys."""

    source: str
    """From touchpoint (``(start)`` for journey starts)."""
    target: str
    """To touchpoint, or how the journey ends there in words: ``Converted``, ``Gave up``, ``Still in progress``
    (a blueprint without goals: ``Ended``, ``Continued``)."""
    count: int
    """Number of such transitions."""
    share: float | None = None
    """Share of all transitions out of ``source``."""
    median_gap_s: float | None = None
    """Median seconds between the two events."""


class SankeyNode(_Doc):
    """A node of the Sankey flow: a touchpoint (or end state) at a step."""

    id: str
    """Unique id (e.g. ``2:Checkout``)."""
    label: str
    """What to print (touchpoint name or end state)."""
    step: int | None = None
    """Step number (1 = first event), when the Sankey is by step."""
    stage: str | None = None
    """Stage of the touchpoint."""


class SankeyLink(_Doc):
    """A link between two Sankey nodes."""

    source: str
    """Id of the source node."""
    target: str
    """Id of the target node."""
    value: int
    """Customers or transitions on it (see :attr:`Flows.unit`)."""


class Flows(_Doc):
    """What customers do: top transitions and the Sankey."""

    unit: Literal["customers", "journeys", "transitions"] = "journeys"
    """What the Sankey's link values count."""
    total: int = 0
    """Total of that unit (the whole population of the flow)."""
    top_transitions: list[Transition] = Field(default_factory=list)
    """Most frequent transitions, most frequent first."""
    nodes: list[SankeyNode] = Field(default_factory=list)
    """Sankey nodes."""
    links: list[SankeyLink] = Field(default_factory=list)
    """Sankey links."""
    note: str = ""
    """How the flow was built (steps shown, small paths merged into "other"...)."""


class EmotionPoint(_Doc):
    """A point of the emotion curve."""

    level: Literal["stage", "touchpoint"]
    """Whether the point is a stage or a touchpoint."""
    name: str
    """Stage or touchpoint name."""
    stage: str | None = None
    """Stage (the touchpoint's, or the stage itself)."""
    order: int = 0
    """Position along the journey (stages in order; touchpoints in journey order)."""
    mean: float | None = None
    """Mean emotion score (-1..+1)."""
    low: float | None = None
    """Lower bound of the 95% interval."""
    high: float | None = None
    """Upper bound of the 95% interval."""
    n: int = 0
    """Scored items behind it."""


class EmotionCurve(_Doc):
    """The emotion curve: how customers feel along the journey."""

    stages: list[EmotionPoint] = Field(default_factory=list)
    """Per stage, in stage order."""
    touchpoints: list[EmotionPoint] = Field(default_factory=list)
    """Per touchpoint, in journey order."""
    method: str = ""
    """How scores were made (lexicon sentiment of texts, ratings rescaled to -1..+1)."""


# -- pain points, opportunities -------------------------------------------------------------------
class PainPoint(_Doc):
    """A touchpoint where customers struggle, ranked by friction x reach."""

    rank: int
    """1 = worst."""
    touchpoint: str
    """Touchpoint name."""
    stage: str | None = None
    """Its stage."""
    owner: str | None = None
    """Owner team."""
    score: float
    """Friction score x reach (share of journeys reaching it): the ranking key."""
    post_goal: bool = False
    """Post-purchase touchpoint (a stage after the goal's): its exits end journeys that follow a conversion
    without another one, judged against post-purchase touches; not customers giving up on buying."""
    friction: float
    """Friction score."""
    reach: float
    """Share of journeys reaching it."""
    headline: str = ""
    """One plain-words sentence on what goes wrong: ``Touchpoint: `` then the figure of the component that drives
    the friction score (see ``driver``) against its expectation, then the top complaint when there is one."""
    driver: Literal["exits", "loops", "waits"] | None = None
    """The friction component with the largest positive part (exits, loops or waits), the one ``headline``
    names; None when no component is positive."""
    caveats: list[str] = Field(default_factory=list)
    """Cautions on reading it (the same as its touchpoint cell's ``caveats``)."""
    themes: list[ThemeRef] = Field(default_factory=list)
    """Top negative themes of feedback here."""
    evidence: Evidence = Field(default_factory=Evidence)
    """Figures and quotes."""


class Opportunity(_Doc):
    """A concrete suggestion that a rule derived from the evidence."""

    rule_id: str
    """Which rule fired (see docs/map.md: fix_friction, drive_traffic, kpi_below_target, back_flow, no_data, unmapped)."""
    title: str
    """The suggestion in plain words ("Fix delivery charges at Delivery options")."""
    owner: str | None = None
    """Owner team to act (the touchpoint's owner, when known)."""
    touchpoint: str | None = None
    """Touchpoint concerned, when one."""
    stage: str | None = None
    """Stage concerned, when one."""
    post_goal: bool = False
    """About a post-purchase touchpoint (a stage after the goal's), judged against post-purchase journeys."""
    priority: float = 0.0
    """Sort key (higher first): estimated customers affected or rule-specific size."""
    evidence: Evidence = Field(default_factory=Evidence)
    """Figures and quotes that made the rule fire."""


# -- attribution, drivers, themes -----------------------------------------------------------------
class AttributionRow(_Doc):
    """One touchpoint's credit under each model."""

    touchpoint: str
    """Touchpoint name."""
    channel: str | None = None
    """Its channel."""
    credits: dict[str, float] = Field(default_factory=dict)
    """Model -> conversions credited."""
    shares: dict[str, float] = Field(default_factory=dict)
    """Model -> share of all credit (0..1)."""


class AttributionComparison(_Doc):
    """Attribution models side by side."""

    models: list[str] = Field(default_factory=list)
    """Models, in the order to show."""
    conversions: float = 0
    """Conversions attributed (each model distributes this total)."""
    rows: list[AttributionRow] = Field(default_factory=list)
    """Per touchpoint, largest data-driven credit first."""
    note: str = ""
    """Settings (lookback, which touchpoints count)."""
    converted_journeys: int | None = None
    """Converted journeys in the map (``conversions`` counts those of them with a credited touch)."""
    unattributed: dict[str, int] = Field(default_factory=dict)
    """Converted journeys left out of ``conversions``, by reason: ``no_touch_before_goal`` (the goal was their
    only touch), ``no_credited_touch`` (no touchpoint that takes part: only service touches by default),
    ``outside_lookback`` (touches that take part, all older than the lookback before the goal)."""
    denominator_note: str = ""
    """One sentence: what ``conversions`` counts and why it differs from the converted journeys."""


class Driver(_Doc):
    """A touchpoint or customer attribute associated with converting (odds ratio)."""

    feature: str
    """Touchpoint name, or ``attribute=value``."""
    kind: Literal["touchpoint", "attribute"] = "touchpoint"
    """What the feature is."""
    odds_ratio: float | None = None
    """Odds of converting with the feature / without."""
    low: float | None = None
    """Lower bound of the 95% interval of the odds ratio."""
    high: float | None = None
    """Upper bound of the 95% interval."""
    p: float | None = None
    """p-value."""
    q: float | None = None
    """Benjamini-Hochberg adjusted p-value."""
    n: int = 0
    """Journeys/customers with the feature."""
    significant: bool = False
    """q < 0.05."""


class Theme(_Doc):
    """A theme of feedback across the whole map."""

    theme_id: int | str
    """Stable id within this document."""
    label: str
    """Key phrases naming it."""
    n: int = 0
    """Feedback items in it."""
    share: float | None = None
    """Share of all themed feedback."""
    sentiment: float | None = None
    """Mean sentiment (-1..+1)."""
    touchpoints: list[str] = Field(default_factory=list)
    """Touchpoints where it comes up most, most first."""
    quotes: list[Quote] = Field(default_factory=list)
    """Representative redacted quotes."""


# -- personas, designed vs observed, change, data quality -----------------------------------------
class PersonaStage(_Doc):
    """A stage's figures for one persona."""

    stage: str
    """Stage name."""
    reach: Rate | None = None
    """Journeys of this persona reaching the stage."""
    conversion_to_next: Rate | None = None
    """Share going on to the next stage in the same journey (None for the last stage and the goal's stage)."""
    after_goal: Rate | None = None
    """Stages after the goal's: of this persona's converted journeys, share whose customer reaches this stage
    after converting, within the conversion window."""
    emotion: Estimate | None = None
    """Mean emotion at this stage for this persona."""


class PersonaColumn(_Doc):
    """One persona in the side-by-side comparison."""

    name: str
    """Persona name (``other`` for customers matching none)."""
    description: str = ""
    """Blueprint description."""
    customers: int = 0
    """Customers of this persona with journeys in the period."""
    share: float | None = None
    """Share of all customers."""
    conversion: Rate | None = None
    """Journeys converting."""
    emotion: Estimate | None = None
    """Mean emotion overall."""
    stages: list[PersonaStage] = Field(default_factory=list)
    """Per stage, in stage order."""
    top_pain_points: list[str] = Field(default_factory=list)
    """Touchpoints with the highest friction x reach for this persona."""
    top_paths: list[str] = Field(default_factory=list)
    """Most frequent paths (touchpoints joined by ' > ')."""


class PersonaMap(_Doc):
    """The map grid for one persona's customers: what the report needs to swap the whole grid.

    Computed from the same materialised journeys as the full map, keeping only this persona's
    journeys; every figure equals the one in ``build_map(ws, persona=name)`` (stages, touchpoint
    figures, friction, KPIs, emotions, pain point ranking). Attribution, lift, themes and theme
    quotes are not computed per persona (cells leave them empty): read the full map or build
    the persona's own map for them.
    """

    persona: str
    """Persona name (``other`` for customers matching none)."""
    customers: int = 0
    """Customers of this persona with journeys in the period."""
    journeys: int = 0
    """Journeys of this persona (the denominator of its reach figures)."""
    conversion: Rate | None = None
    """Journeys of this persona converting."""
    stages: list[StageColumn] = Field(default_factory=list)
    """The grid for this persona: stages in order with their figures and lanes of touchpoint cells."""
    emotion_curve: EmotionCurve = Field(default_factory=lambda: EmotionCurve())
    """Emotion along the journey, this persona's feedback only."""
    pain_points: list[PainPoint] = Field(default_factory=list)
    """This persona's pain points, ranked by friction x reach within the persona (quotes: its negative comments)."""


class UnmappedTouchpoint(_Doc):
    """A touchpoint seen in the data but not defined in the blueprint."""

    name: str
    """Touchpoint (or raw event) name."""
    events: int = 0
    """Events at it."""
    customers: int = 0
    """Customers with events at it."""


class BackFlow(_Doc):
    """Customers going back to an earlier stage than the one they are in."""

    source: str
    """From touchpoint."""
    source_stage: str
    """Its stage."""
    target: str
    """To touchpoint (in an earlier stage)."""
    target_stage: str
    """Its stage."""
    count: int
    """Transitions going back."""
    share: float | None = None
    """Share of all transitions out of ``source``."""


class SkippedStage(_Doc):
    """Journeys jumping over one or more stages."""

    source_stage: str
    """Stage left."""
    target_stage: str
    """Stage reached next."""
    skipped: list[str] = Field(default_factory=list)
    """Stages in between, not visited."""
    count: int = 0
    """Transitions doing so."""
    share: float | None = None
    """Share of all transitions out of ``source_stage``."""


class DesignedVsObserved(_Doc):
    """Where the blueprint (designed journey) and the data (observed journey) disagree."""

    touchpoints_without_data: list[str] = Field(default_factory=list)
    """Blueprint touchpoints with no events in the period."""
    unmapped_touchpoints: list[UnmappedTouchpoint] = Field(default_factory=list)
    """Touchpoints in the data missing from the blueprint."""
    stages_without_data: list[str] = Field(default_factory=list)
    """Blueprint stages no journey reaches."""
    back_flows: list[BackFlow] = Field(default_factory=list)
    """Transitions against the stage order, most frequent first."""
    skipped_stages: list[SkippedStage] = Field(default_factory=list)
    """Transitions jumping over stages, most frequent first."""


class Delta(_Doc):
    """A figure now vs in the compared period, with significance."""

    scope: Literal["headline", "stage", "touchpoint", "persona"]
    """What the figure belongs to."""
    name: str
    """Stage/touchpoint/persona name, or the headline key."""
    metric: str
    """Which figure (reach, conversion, conversion_to_next, exit_rate, emotion, nps...)."""
    old: float | None = None
    """Value in the compared (earlier) period / old map."""
    new: float | None = None
    """Value now / in the new map."""
    delta: float | None = None
    """new - old."""
    low: float | None = None
    """Lower bound of the 95% interval of the delta (rates: unpooled Wald)."""
    high: float | None = None
    """Upper bound of the 95% interval of the delta."""
    p: float | None = None
    """Two-sided p-value (two-proportion z-test for rates; Welch z for means)."""
    significant: bool | None = None
    """p < 0.05 (None when no test was possible)."""
    n_old: int | None = None
    """Sample size before."""
    n_new: int | None = None
    """Sample size now."""


class Change(_Doc):
    """Change vs a previous period."""

    previous_start: datetime | None = None
    """Start of the compared period."""
    previous_end: datetime | None = None
    """End of the compared period (exclusive)."""
    current_start: datetime | None = None
    """Start of the current period."""
    current_end: datetime | None = None
    """End of the current period (exclusive)."""
    deltas: list[Delta] = Field(default_factory=list)
    """Deltas, significant and largest first."""


class QuarantineCount(_Doc):
    """Rows set aside at ingest, by table and reason."""

    table: str
    """Canonical table (events, feedback, customers)."""
    reason: str
    """Why rows were quarantined."""
    count: int
    """How many."""


class IngestEntry(_Doc):
    """One line of the ingest log."""

    time: datetime | None = None
    """When the ingest ran."""
    table: str = ""
    """Target table."""
    source: str = ""
    """File or URL read."""
    rows_read: int | None = None
    """Rows read."""
    rows_loaded: int | None = None
    """Rows loaded."""
    rows_quarantined: int | None = None
    """Rows quarantined."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Other columns of the log row."""


class DataQuality(_Doc):
    """How much data there is and what was set aside."""

    rows: dict[str, int] = Field(default_factory=dict)
    """Rows per canonical table (events, feedback, customers)."""
    mapped_rows: dict[str, int] = Field(default_factory=dict)
    """Rows in the mapped period/filters (events, feedback)."""
    quarantine: list[QuarantineCount] = Field(default_factory=list)
    """Quarantined rows by table and reason."""
    ingest_log: list[IngestEntry] = Field(default_factory=list)
    """Ingest runs, latest first."""
    journey_status: dict[str, int] = Field(default_factory=dict)
    """Journeys by status (converted, abandoned, in_progress)."""
    notes: list[str] = Field(default_factory=list)
    """Plain-words caveats (small samples, unlinked feedback share...)."""
    feedback_languages: dict[str, int] = Field(default_factory=dict)
    """Feedback comments in the period per language (``und``: too short to tell), largest first."""
    unscored_feedback: dict[str, int] = Field(default_factory=dict)
    """Comments without a text sentiment, per reason (e.g. a language the lexicon does not read)."""


# -- the document ---------------------------------------------------------------------------------
def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2: ``persona_maps`` (none: a version 1 map has no grid per persona) and ``post_goal`` (False on
    every stage, cell, pain point and opportunity: a version 1 map did not judge post-purchase touches apart)."""
    data = {**data, "persona_maps": data.get("persona_maps") or []}
    stages = []
    for st in data.get("stages") or []:
        lanes = [
            {**lane, "touchpoints": [{"post_goal": False, **c} for c in lane.get("touchpoints") or []]}
            for lane in st.get("lanes") or []
        ]
        stages.append({"post_goal": False, **st, "lanes": lanes})
    data["stages"] = stages
    for key in ("pain_points", "opportunities"):
        data[key] = [{"post_goal": False, **x} for x in data.get(key) or []]
    return _versioned(data, 2)


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 -> 3: ``after_goal`` (None: not computed) on stages and persona stages; ``conversion_to_next`` is
    None on the goal's stage (journeys end at the goal; what follows it is ``after_goal``)."""
    goals = set(((data.get("meta") or {}).get("journey_definition") or {}).get("goals") or [])

    def goal_stage(stages: list[dict[str, Any]]) -> str | None:
        for st in sorted(stages, key=lambda x: x.get("order", 0)):
            if any(c.get("name") in goals for lane in st.get("lanes") or [] for c in lane.get("touchpoints") or []):
                return st.get("name")
        return None

    def fixed(stages: list[dict[str, Any]], goal: str | None, name: str = "name") -> list[dict[str, Any]]:
        return [
            {"after_goal": None, **st, **({"conversion_to_next": None} if st.get(name) == goal else {})}
            for st in stages
        ]

    goal = goal_stage(data.get("stages") or [])
    data = {**data, "stages": fixed(data.get("stages") or [], goal)}
    data["personas"] = [
        {**p, "stages": fixed(p.get("stages") or [], goal, "stage")} for p in data.get("personas") or []
    ]
    data["persona_maps"] = [{**m, "stages": fixed(m.get("stages") or [], goal)} for m in data.get("persona_maps") or []]
    return _versioned(data, 3)


def _versioned(data: dict[str, Any], version: int) -> dict[str, Any]:
    meta = data.get("meta")
    return {
        **data,
        "schema_version": version,
        **({"meta": {**meta, "schema_version": version}} if isinstance(meta, dict) else {}),
    }


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3}
"""Schema migration steps of the document: ``MIGRATIONS[v]`` turns a version ``v`` document (a dict) into version
``v + 1``. A version 4 adds ``MIGRATIONS[3]``; :meth:`JourneyMap.from_dict` runs the steps in turn."""

# the document's version is a field (it is in its JSON), where other results keep it on the class
warnings.filterwarnings("ignore", message='Field name "schema_version" in "JourneyMap" shadows', category=UserWarning)


class JourneyMap(Result):
    """The Customer Touchpoint Map: one versioned document, every figure with its evidence.

    A :class:`~journeymap.results.Result` of kind ``journey_map`` whose JSON is the document itself (no ``kind``
    key); documents of an older schema load through :data:`MIGRATIONS`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    kind: ClassVar[str] = "journey_map"
    migrations: ClassVar[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = MIGRATIONS

    schema_version: int = SCHEMA_VERSION  # type: ignore[misc]  # a field here: the document's JSON carries it
    """Version of this document's schema; :meth:`from_json` migrates older versions and refuses newer ones."""
    meta: Meta  # type: ignore[assignment]  # the document's own provenance model, not a dict
    """Provenance: workspace, period, filters, persona, versions."""
    summary: Summary = Field(default_factory=Summary)
    """Executive summary and headline numbers."""
    stages: list[StageColumn] = Field(default_factory=list)
    """The map grid: stages in order, each with lanes of touchpoints."""
    flows: Flows = Field(default_factory=Flows)
    """Top transitions and the Sankey."""
    emotion_curve: EmotionCurve = Field(default_factory=EmotionCurve)
    """Emotion along the journey."""
    pain_points: list[PainPoint] = Field(default_factory=list)
    """Ranked by friction x reach, worst first."""
    opportunities: list[Opportunity] = Field(default_factory=list)
    """Suggestions from rules, highest priority first."""
    attribution: AttributionComparison = Field(default_factory=AttributionComparison)
    """Attribution models side by side: credit per touchpoint under each model."""
    drivers: list[Driver] = Field(default_factory=list)
    """Touchpoints and attributes most associated with converting, strongest first."""
    themes: list[Theme] = Field(default_factory=list)
    """Themes of feedback, largest first."""
    personas: list[PersonaColumn] = Field(default_factory=list)
    """Per-persona comparison (empty in a single-persona map)."""
    persona_maps: list[PersonaMap] = Field(default_factory=list)
    """The grid per persona, in blueprint order then ``other`` (empty in a single-persona map): the report's
    persona filter swaps :attr:`stages`, :attr:`emotion_curve` and :attr:`pain_points` for these."""
    designed_vs_observed: DesignedVsObserved = Field(default_factory=DesignedVsObserved)
    """Blueprint vs data."""
    change: Change | None = None
    """Change vs a previous period, when compared."""
    data_quality: DataQuality = Field(default_factory=DataQuality)
    """Rows, quarantine, ingest log."""

    # -- navigation --------------------------------------------------------------------------------
    def touchpoints(self) -> list[TouchpointCell]:
        """Every touchpoint cell, in journey order."""
        cells = [tp for st in self.stages for lane in st.lanes for tp in lane.touchpoints]
        return sorted(cells, key=lambda c: c.order)

    def touchpoint(self, name: str) -> TouchpointCell:
        """The cell of touchpoint ``name``."""
        for cell in self.touchpoints():
            if cell.name == name:
                return cell
        raise InputError(
            f"Touchpoint {name!r} is not on this map; it has: {', '.join(c.name for c in self.touchpoints())}."
        )

    def stage(self, name: str) -> StageColumn:
        """The column of stage ``name``."""
        for st in self.stages:
            if st.name == name:
                return st
        raise InputError(f"Stage {name!r} is not on this map; it has: {', '.join(s.name for s in self.stages)}.")

    # -- serialisation -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return self.model_dump(mode="json")

    def to_json(self, indent: int | None = 2) -> str:
        """The document as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JourneyMap:
        """Load a document from :meth:`to_dict` output: older schema versions are migrated, others refused."""
        if not isinstance(data, dict) or "meta" not in data:
            raise InputError(
                "This is not a JourneyMap document (no 'meta'); make one with `journeymap map -o map.json`."
            )
        version = data.get("schema_version")
        if isinstance(version, int) and not isinstance(version, bool) and 1 <= version < SCHEMA_VERSION:
            data = cls.migrate(data, version, SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise InputError(
                f"JourneyMap schema_version {version!r} is not the version this journeymap reads "
                f"({SCHEMA_VERSION}); rebuild the map with `journeymap map -o map.json`."
            )
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise InputError(
                f"JourneyMap document is not valid: {e.errors()[0]['loc']}: "
                f"{e.errors()[0]['msg']}; rebuild it with `journeymap map -o map.json`."
            ) from e

    @classmethod
    def from_json(cls, text: str) -> JourneyMap:
        """Load a document from JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(
                f"JourneyMap JSON is not valid JSON ({e}); pass a file written by `journeymap map -o`."
            ) from e
        return cls.from_dict(data)

    def save(self, path: str | Path) -> Path:
        """Write the document as JSON; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> JourneyMap:
        """Read a document written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"Map file {str(path)!r} does not exist; write one with `journeymap map -o {path.name}`.")
        return cls.from_json(path.read_text(encoding="utf-8"))


# -- diff of two maps ----------------------------------------------------------------------------
class RankChange(_Doc):
    """A pain point's rank in the old and the new map."""

    touchpoint: str
    """Touchpoint name."""
    old_rank: int | None = None
    """Rank in the old map (None: not a pain point then)."""
    new_rank: int | None = None
    """Rank in the new map (None: no longer a pain point)."""
    change: int | None = None
    """old_rank - new_rank (positive = got worse, moved up the list)."""


class MapDiff(_Doc):
    """What changed between two saved maps."""

    old: Meta
    """The old map's meta."""
    new: Meta
    """The new map's meta."""
    added_touchpoints: list[str] = Field(default_factory=list)
    """Touchpoints with data in the new map only."""
    removed_touchpoints: list[str] = Field(default_factory=list)
    """Touchpoints with data in the old map only."""
    deltas: list[Delta] = Field(default_factory=list)
    """Headline, stage and touchpoint deltas (significance where counts allow)."""
    pain_points: list[RankChange] = Field(default_factory=list)
    """Pain point rank changes."""

    def to_json(self, indent: int | None = 2) -> str:
        """The diff as JSON text."""
        return json.dumps(self.model_dump(mode="json"), indent=indent, ensure_ascii=False, allow_nan=False)


def json_schema() -> dict[str, Any]:
    """The JSON schema of the document (``JourneyMap.model_json_schema()`` with the version in its title)."""
    schema = JourneyMap.model_json_schema()
    schema["title"] = f"JourneyMap (schema_version {SCHEMA_VERSION})"
    return schema
