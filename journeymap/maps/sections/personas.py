"""The personas section: the side-by-side persona comparison and the grid of each persona."""

from __future__ import annotations

from journeymap.maps.inputs import MapInputs
from journeymap.maps.models import PersonaColumn, PersonaMap, PersonaStage
from journeymap.maps.sections import grid, voice
from journeymap.maps.sections._memo import memo
from journeymap.maps.sections.emotion import curve
from journeymap.maps.stats import rate


@memo
def _personas(inputs: MapInputs) -> tuple[list[PersonaColumn], list[PersonaMap]]:
    p = inputs.personas
    if p is None:
        return [], []
    bp = inputs.blueprint
    total_customers = sum(int(r["customers"]) for r in p.totals) or 1
    order = [x.name for x in bp.personas] + ["other"]
    views = voice.persona_views(inputs)
    quotes = voice.persona_quotes(inputs)
    columns, maps = [], []
    for rec in sorted(p.totals, key=lambda r: order.index(r["dimension"]) if r["dimension"] in order else len(order)):
        name = rec["dimension"]
        cells, stages = grid.grid(
            inputs,
            views.get(name) or voice.VoiceView(),
            tuple(r for r in p.touchpoints if r["dimension"] == name),
            {r["touchpoint"]: r for r in p.friction if r["dimension"] == name},
            tuple(r for r in p.funnel if r["dimension"] == name),
            {r["stage"]: r for r in p.stage_figures if r["dimension"] == name},
            int(rec["journeys"]),
            quotes=quotes.get(name, {}),
        )
        pain = grid.pain_points_of(inputs, cells)
        conversion = rate(rec["converted"], rec["journeys"])
        maps.append(
            PersonaMap(
                persona=name,
                customers=int(rec["customers"]),
                journeys=int(rec["journeys"]),
                conversion=conversion,
                stages=stages,
                emotion_curve=curve(stages, cells),
                pain_points=pain,
            )
        )
        persona_stages = []
        for r in p.funnel:
            if r["dimension"] != name:
                continue
            persona_stages.append(
                PersonaStage(
                    stage=r["stage"],
                    reach=rate(r["journeys"], rec["journeys"]),
                    conversion_to_next=None
                    if r["to_next"] is None or inputs.stage_order.get(r["stage"]) == inputs.goal_cut
                    else rate(r["to_next"], r["journeys"]),
                    after_goal=grid.after_goal(r),
                    emotion=voice.persona_emotion(inputs, name, r["stage"]),
                )
            )
        bpp = next((x for x in bp.personas if x.name == name), None)
        columns.append(
            PersonaColumn(
                name=name,
                description=bpp.description if bpp else "",
                customers=int(rec["customers"]),
                share=int(rec["customers"]) / total_customers,
                conversion=conversion,
                emotion=voice.persona_emotion(inputs, name, None),
                stages=persona_stages,
                top_pain_points=[x.touchpoint for x in pain[:3]],
                top_paths=[r["path"] for r in p.paths if r["dimension"] == name][:3],
            )
        )
    return columns, maps


def personas(inputs: MapInputs) -> list[PersonaColumn]:
    """The document's ``personas``: the side-by-side comparison."""
    return _personas(inputs)[0]


def persona_maps(inputs: MapInputs) -> list[PersonaMap]:
    """The document's ``persona_maps``: the grid of each persona."""
    return _personas(inputs)[1]
