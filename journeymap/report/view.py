"""What the renderers lay out, read from the document: grid rows, per-stage lists, chart data.

Only grouping and ordering of what the JourneyMap already holds; no figure is computed here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from journeymap.maps.models import (
    JourneyMap,
    Opportunity,
    PainPoint,
    StageColumn,
    TouchpointCell,
    Transition,
)
from journeymap.report import formatting
from journeymap.safety import display_text

ELEMENT_KINDS = ("stage", "touchpoint", "pain", "opp", "theme")
"""The kinds of map element that carry a stable id (``data-element``) in the report and the web page."""


def element_id(kind: str, key: str | Sequence[str]) -> str:
    """The stable id of a map element: ``kind:key`` with every key part percent-encoded (URL-safe).

    ``key`` is the element's name (a stage, a touchpoint, the touchpoint of a pain point, a theme's
    label) or, for an opportunity, ``(rule_id, where)``. The same function names the elements of the
    file report and of the web page, so an id read in one is found in the other; invisible
    characters are dropped first, as the page shows the name without them.

    >>> element_id("touchpoint", "Checkout page")
    'touchpoint:Checkout%20page'
    >>> element_id("opp", ("back_flow", "<b>Cart</b>"))
    'opp:back_flow:%3Cb%3ECart%3C%2Fb%3E'
    """
    if kind not in ELEMENT_KINDS:
        raise ValueError(f"unknown element kind {kind!r}: one of {', '.join(ELEMENT_KINDS)}")
    parts = [key] if isinstance(key, str) else list(key)
    return ":".join([kind, *(quote(display_text(str(p)), safe="") for p in parts)])


def parse_element_id(eid: str) -> tuple[str, list[str]]:
    """``(kind, key parts)`` of an :func:`element_id`; ValueError in one sentence when it is not one."""
    kind, _, rest = eid.partition(":")
    if kind not in ELEMENT_KINDS or not rest:
        raise ValueError(f"{eid!r} is not a map element id (kind:key, kind one of {', '.join(ELEMENT_KINDS)})")
    parts = [unquote(p) for p in rest.split(":")]
    if (kind == "opp") != (len(parts) == 2) or len(parts) > 2:
        raise ValueError(f"{eid!r} is not a map element id: an opportunity has rule:where, the others one key")
    return kind, parts


EMOTION_MIN_N = 10
"""Fewest feedback items behind an emotion colour when the document does not state its own minimum."""

SECTIONS = [
    ("summary", "Executive summary"),
    ("map", "The journey map"),
    ("emotion", "Emotion curve"),
    ("flow", "Flow"),
    ("funnel", "Stage funnel"),
    ("attribution", "Attribution"),
    ("voice", "Voice of the customer"),
    ("personas", "Personas"),
    ("change", "Change vs the previous period"),
    ("designed", "Designed vs observed"),
    ("quality", "Data quality"),
]
"""Section ids and titles, in report order (the HTML's table of contents and the tests' checklist)."""

NAV_LABELS = {
    "summary": "Summary",
    "map": "Map",
    "emotion": "Emotion",
    "flow": "Flow",
    "funnel": "Funnel",
    "attribution": "Attribution",
    "voice": "Voice",
    "personas": "Personas",
    "change": "Change",
    "designed": "Designed vs observed",
    "quality": "Data quality",
}
"""Short section names for the one-line navigation bar."""


@dataclass
class GridView:
    """The map grid: channel rows across stage columns, plus the per-stage lists of the other lanes."""

    channels: list[str]
    cells: dict[tuple[str, str], list[TouchpointCell]]
    transitions: dict[str, list[Transition]]
    pain_points: dict[str, list[PainPoint]]
    opportunities: dict[str, list[OpportunityRow]]
    tp_ids: dict[str, str] = field(default_factory=dict)
    stages: list[StageColumn] = field(default_factory=list)
    """The stage columns drawn (the document's, or one persona's)."""
    touchpoints: list[TouchpointCell] = field(default_factory=list)
    """Every cell of the grid, in journey order (for the details articles)."""
    persona: str | None = None
    """The persona whose map this is; None = the document's own grid."""


def _grid(
    stages: list[StageColumn],
    top_transitions: list[Transition],
    pain_points: list[PainPoint],
    opportunities: list[OpportunityRow],
    id_prefix: str,
    persona: str | None,
    transitions_per_stage: int = 3,
    channel_order: list[str] | None = None,
) -> GridView:
    channels: list[str] = []
    cells: dict[tuple[str, str], list[TouchpointCell]] = {}
    stage_of: dict[str, str] = {}
    for st in stages:
        for lane in st.lanes:
            if lane.touchpoints and lane.channel not in channels:  # a channel row with no card in any stage folds away
                channels.append(lane.channel)
            cells[(st.name, lane.channel)] = list(lane.touchpoints)
            for tp in lane.touchpoints:
                stage_of[tp.name] = st.name
    if channel_order:
        rank = {c: i for i, c in enumerate(channel_order)}
        channels.sort(key=lambda c: rank.get(c, len(rank)))
    transitions: dict[str, list[Transition]] = {st.name: [] for st in stages}
    for t in top_transitions:  # already most frequent first
        stage = stage_of.get(t.source)
        if stage is not None and len(transitions[stage]) < transitions_per_stage:
            transitions[stage].append(t)
    pains: dict[str, list[PainPoint]] = {st.name: [] for st in stages}
    for p in pain_points:
        if p.stage in pains:
            pains[p.stage].append(p)
    opps: dict[str, list[OpportunityRow]] = {st.name: [] for st in stages}
    for o in opportunities:
        stage = o.stage or stage_of.get(o.where)
        if stage in opps:
            opps[stage].append(o)
    touchpoints = sorted((tp for st in stages for lane in st.lanes for tp in lane.touchpoints), key=lambda c: c.order)
    tp_ids = {tp.name: f"{id_prefix}-{i}" for i, tp in enumerate(touchpoints)}
    return GridView(channels, cells, transitions, pains, opps, tp_ids, list(stages), touchpoints, persona)


def grid(doc: JourneyMap, transitions_per_stage: int = 3) -> GridView:
    """The grid of ``doc``: channels in order of first appearance, touchpoints per (stage, channel)."""
    return _grid(
        doc.stages, doc.flows.top_transitions, doc.pain_points, opportunity_rows(doc), "tp", None, transitions_per_stage
    )


def persona_grids(doc: JourneyMap) -> list[GridView]:
    """One grid per persona map in the document (none when the document has no ``persona_maps``).

    The persona maps hold stages, cells and pain points; transitions and opportunities are not
    computed per persona, so those lanes stay empty (the report says so).
    """
    maps = getattr(doc, "persona_maps", None) or []
    order = grid(doc).channels
    return [
        _grid(pm.stages, [], pm.pain_points, [], f"p{i}-tp", pm.persona, channel_order=order)
        for i, pm in enumerate(maps)
    ]


def has_goals(doc: JourneyMap) -> bool:
    """Whether the map's blueprint has goals: without, a journey's end is where it *ended*, not where
    the customer gave up, and one still within the window *continued* to the data's end."""
    return bool(doc.meta.journey_definition.get("goals"))


def outcome_words(doc: JourneyMap) -> dict[str, str]:
    """Labels of the journey outcomes, in words that hold with or without goals."""
    if has_goals(doc):
        return {"dropped": "Gave up", "in_progress": "Still in progress", "drop_off": "Drop off"}
    return {"dropped": "Ended", "in_progress": "Continued", "drop_off": "End"}


def chart_data(doc: JourneyMap) -> dict[str, Any]:
    """The data the charts draw, as plain JSON-ready values taken from the document."""
    return {
        "outcomes": outcome_words(doc),
        "emotion": {
            "stages": [p.model_dump(mode="json") for p in doc.emotion_curve.stages],
            "touchpoints": [p.model_dump(mode="json") for p in doc.emotion_curve.touchpoints],
        },
        "sankey": {
            "nodes": [n.model_dump(mode="json") for n in doc.flows.nodes],
            "links": [lk.model_dump(mode="json") for lk in doc.flows.links],
            "unit": doc.flows.unit,
        },
        "funnel": _funnel_rows(doc.stages),
        "personas": [
            {
                "name": p.name,
                "stages": [
                    {"stage": s.stage, "reach": s.reach.model_dump(mode="json") if s.reach else None} for s in p.stages
                ],
                "top_pain_points": p.top_pain_points,
            }
            for p in doc.personas
        ],
        "persona_maps": [
            {
                "persona": pm.persona,
                "emotion": [p.model_dump(mode="json") for p in pm.emotion_curve.stages],
                "funnel": _funnel_rows(pm.stages),
            }
            for pm in getattr(doc, "persona_maps", None) or []
        ],
        "attribution": {
            "models": doc.attribution.models,
            "rows": [
                {"touchpoint": r.touchpoint, "shares": r.shares, "credits": r.credits} for r in doc.attribution.rows
            ],
        },
    }


def _funnel_rows(stages: list[StageColumn]) -> list[dict[str, Any]]:
    return [
        {
            "stage": s.name,
            "reach": s.reach.model_dump(mode="json") if s.reach else None,
            "to_next": s.conversion_to_next.model_dump(mode="json") if s.conversion_to_next else None,
            "after_goal": s.after_goal.model_dump(mode="json") if s.after_goal else None,
        }
        for s in stages
    ]


def _displayed(data: Any) -> Any:
    """``data`` with :func:`~journeymap.safety.display_text` applied to every string in it."""
    if isinstance(data, str):
        return display_text(data)
    if isinstance(data, dict):
        return {_displayed(k): _displayed(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_displayed(v) for v in data]
    return data


def script_json(data: Any) -> str:
    """JSON safe to inline in a ``<script type="application/json">`` element (no ``</script>`` break-out);
    every string (keys too) without invisible characters (:func:`~journeymap.safety.display_text`)."""
    text = json.dumps(_displayed(data), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass
class OpportunityRow:
    """One row of the opportunities table: a document opportunity, or back-flows from one touchpoint grouped."""

    title: str
    owner: str | None
    where: str
    stage: str | None
    priority: float
    evidence: str
    note: str
    rule_id: str
    quotes: list = field(default_factory=list)
    grouped: int = 1


def opportunity_rows(doc: JourneyMap) -> list[OpportunityRow]:
    """The document's opportunities as table rows, highest priority first.

    Back-flow suggestions from the same touchpoint become one row naming every target (their
    transition counts and shares of moves out add up: same source, same denominator); every
    other opportunity is one row with its evidence in words.
    """
    rows: list[OpportunityRow] = []
    back: dict[str, list[Opportunity]] = {}
    for o in doc.opportunities:
        if o.rule_id == "back_flow" and o.touchpoint:
            back.setdefault(o.touchpoint, []).append(o)
            continue
        rows.append(
            OpportunityRow(
                title=o.title,
                owner=o.owner,
                where=o.touchpoint or o.stage or "overall",
                stage=o.stage,
                priority=o.priority,
                evidence=formatting.evidence_words(o.rule_id, dict(o.evidence.figures)),
                note=o.evidence.note,
                rule_id=o.rule_id,
                quotes=list(o.evidence.quotes),
            )
        )
    for source, group in back.items():
        if len(group) == 1:
            o = group[0]
            rows.append(
                OpportunityRow(
                    title=o.title,
                    owner=o.owner,
                    where=source,
                    stage=o.stage,
                    priority=o.priority,
                    evidence=formatting.evidence_words(o.rule_id, dict(o.evidence.figures)),
                    note=o.evidence.note,
                    rule_id=o.rule_id,
                )
            )
            continue
        targets = [o.title.rsplit(" to ", 1)[-1] for o in group]
        counts = [int(o.evidence.figures.get("transitions") or 0) for o in group]  # type: ignore[arg-type]
        shares = [float(o.evidence.figures.get("share_of_exits") or 0) for o in group]  # type: ignore[arg-type]
        parts = [
            f"{t} {formatting.num(c)} ({formatting.pct(s)})" for t, c, s in zip(targets, counts, shares, strict=True)
        ]
        rows.append(
            OpportunityRow(
                title=f"Find out why customers go back from {source} to earlier stages ({len(group)} places)",
                owner=group[0].owner,
                where=source,
                stage=group[0].stage,
                priority=sum(o.priority for o in group),
                evidence=(
                    f"{formatting.num(sum(counts))} transitions ({formatting.pct(sum(shares))} of moves out) go "
                    f"back to an earlier stage: " + ", ".join(parts)
                ),
                note=group[0].evidence.note,
                rule_id="back_flow",
                grouped=len(group),
            )
        )
    rows.sort(key=lambda r: (-r.priority, r.rule_id, r.title))
    return rows


def emotion_min_n(doc: JourneyMap) -> int:
    """The fewest scored feedback items the document colours an emotion from (``meta.emotion_min_n``)."""
    return int(getattr(doc.meta, "emotion_min_n", EMOTION_MIN_N))


@dataclass
class LanePoint:
    """One stage's point on the emotion lane: where it sits (percent of the lane) and what it says."""

    stage: str
    x: float
    y: float | None
    low_y: float | None
    high_y: float | None
    css: str
    label: str
    word: str
    few: bool


@dataclass
class EmotionLane:
    """The emotion curve drawn as a lane of the map, one point per stage column."""

    points: list[LanePoint]
    limit: float
    """The lane spans -limit..+limit."""
    path: str
    """SVG polyline points (viewBox 0 0 100 100) through the stages with a mean."""


def emotion_lane(stages: list[StageColumn], min_n: int) -> EmotionLane:
    """Points of the emotion lane: x at each stage column's centre, y from the mean (-limit at the bottom).

    A stage with fewer than ``min_n`` feedback items is drawn muted and says "few comments (n)"; its
    interval is drawn only from 5 items on (formatting.MIN_N_INTERVAL's rule).
    """
    values = [
        v for st in stages if st.emotion for v in (st.emotion.mean, st.emotion.low, st.emotion.high) if v is not None
    ]
    limit = min(1.0, max(0.5, math.ceil(max((abs(v) for v in values), default=0.0) * 4) / 4))

    def y(v: float | None) -> float | None:
        return None if v is None else round((limit - v) / (2 * limit) * 100, 2)

    n_cols = max(len(stages), 1)
    points = []
    for i, st in enumerate(stages):
        e = st.emotion
        mean, n = (e.mean, e.n) if e else (None, 0)
        css, word = emotion_style(mean, n, min_n)
        few = mean is not None and n < min_n
        ci = e is not None and mean is not None and n >= 5 and e.low is not None and e.high is not None
        label = formatting.DASH if mean is None else f"{formatting.signed(mean)} (n={n:,})"
        points.append(
            LanePoint(
                st.name,
                round((i + 0.5) / n_cols * 100, 3),
                y(mean),
                y(e.low) if ci and e else None,
                y(e.high) if ci and e else None,
                css,
                label,
                word,
                few,
            )
        )
    path = " ".join(f"{p.x:g},{p.y:g}" for p in points if p.y is not None)
    return EmotionLane(points, limit, path)


def emotion_style(mean: float | None, n: int | None, min_n: int) -> tuple[str, str]:
    """CSS class and word of an emotion: muted "few comments (n)" below ``min_n`` items."""
    return formatting.emotion_class(mean, n, min_n), formatting.emotion_word(mean, n, min_n)


def element_ids(doc: JourneyMap) -> list[str]:
    """Every element id the map shows (:func:`element_id`), in page order and without repeats: stages,
    touchpoints, pain points (the persona maps' too), opportunities (as the table groups them), themes."""
    ids = [element_id("stage", st.name) for st in doc.stages]
    ids += [element_id("touchpoint", tp.name) for tp in doc.touchpoints()]
    pains = list(doc.pain_points) + [p for pm in getattr(doc, "persona_maps", None) or [] for p in pm.pain_points]
    ids += [element_id("pain", p.touchpoint) for p in pains]
    ids += [element_id("opp", (o.rule_id, o.where)) for o in opportunity_rows(doc)]
    ids += [element_id("theme", t.label) for t in doc.themes]
    return list(dict.fromkeys(ids))
