"""What the renderers lay out, read from the document: grid rows, per-stage lists, chart data.

Only grouping and ordering of what the JourneyMap already holds; no figure is computed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from journeymap.maps.models import JourneyMap, Opportunity, PainPoint, TouchpointCell, Transition

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


@dataclass
class GridView:
    """The map grid: channel rows across stage columns, plus the per-stage lists of the other lanes."""

    channels: list[str]
    cells: dict[tuple[str, str], list[TouchpointCell]]
    transitions: dict[str, list[Transition]]
    pain_points: dict[str, list[PainPoint]]
    opportunities: dict[str, list[Opportunity]]
    tp_ids: dict[str, str] = field(default_factory=dict)


def grid(doc: JourneyMap, transitions_per_stage: int = 3) -> GridView:
    """The grid of ``doc``: channels in order of first appearance, touchpoints per (stage, channel)."""
    channels: list[str] = []
    cells: dict[tuple[str, str], list[TouchpointCell]] = {}
    stage_of: dict[str, str] = {}
    for st in doc.stages:
        for lane in st.lanes:
            if lane.channel not in channels:
                channels.append(lane.channel)
            cells[(st.name, lane.channel)] = list(lane.touchpoints)
            for tp in lane.touchpoints:
                stage_of[tp.name] = st.name
    transitions: dict[str, list[Transition]] = {st.name: [] for st in doc.stages}
    for t in doc.flows.top_transitions:  # already most frequent first
        stage = stage_of.get(t.source)
        if stage is not None and len(transitions[stage]) < transitions_per_stage:
            transitions[stage].append(t)
    pains: dict[str, list[PainPoint]] = {st.name: [] for st in doc.stages}
    for p in doc.pain_points:
        if p.stage in pains:
            pains[p.stage].append(p)
    opps: dict[str, list[Opportunity]] = {st.name: [] for st in doc.stages}
    for o in doc.opportunities:
        stage = o.stage or stage_of.get(o.touchpoint or "")
        if stage in opps:
            opps[stage].append(o)
    tp_ids = {tp.name: f"tp-{i}" for i, tp in enumerate(doc.touchpoints())}
    return GridView(channels, cells, transitions, pains, opps, tp_ids)


def chart_data(doc: JourneyMap) -> dict[str, Any]:
    """The data the charts draw, as plain JSON-ready values taken from the document."""
    return {
        "emotion": {
            "stages": [p.model_dump(mode="json") for p in doc.emotion_curve.stages],
            "touchpoints": [p.model_dump(mode="json") for p in doc.emotion_curve.touchpoints],
        },
        "sankey": {
            "nodes": [n.model_dump(mode="json") for n in doc.flows.nodes],
            "links": [lk.model_dump(mode="json") for lk in doc.flows.links],
            "unit": doc.flows.unit,
        },
        "funnel": [
            {"stage": s.name, "reach": s.reach.model_dump(mode="json") if s.reach else None,
             "to_next": s.conversion_to_next.model_dump(mode="json") if s.conversion_to_next else None}
            for s in doc.stages
        ],
        "personas": [
            {"name": p.name,
             "stages": [{"stage": s.stage, "reach": s.reach.model_dump(mode="json") if s.reach else None}
                        for s in p.stages],
             "top_pain_points": p.top_pain_points}
            for p in doc.personas
        ],
        "attribution": {
            "models": doc.attribution.models,
            "rows": [{"touchpoint": r.touchpoint, "shares": r.shares, "credits": r.credits}
                     for r in doc.attribution.rows],
        },
    }


def script_json(data: Any) -> str:
    """JSON safe to inline in a ``<script type="application/json">`` element (no ``</script>`` break-out)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
