"""The sections of the JourneyMap document: each a pure function of :class:`~journeymap.maps.inputs.MapInputs`.

:data:`SECTIONS` maps each part of the document to the function that makes it; :func:`compose` puts them
together; :func:`build_section` rebuilds one part alone from the same inputs (what the web map needs to
refresh one part). A part several sections read (the grid, the pain points) is computed once per inputs.

========================  ==========================================================================
section                   module
========================  ==========================================================================
``stages``, ``lanes``     :mod:`.grid` (stage columns; the touchpoint cells of their lanes)
``pain_points``           :mod:`.grid`
``designed_vs_observed``  :mod:`.grid`
``flows``                 :mod:`.flows`
``emotion_curve``         :mod:`.emotion`
``opportunities``         :mod:`.summary` (rules of :mod:`journeymap.maps.opportunities`)
``personas``              :mod:`.personas` (``persona_maps`` too)
``themes``                :mod:`.voice` (KPIs, emotion and quotes of the cells come from it too)
``data_quality``          :mod:`.quality`
``summary``, ``meta``     :mod:`.summary` (``change`` too)
``attribution``           the attribution comparison of the inputs
``drivers``               the drivers of the inputs
========================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from journeymap.errors import InputError
from journeymap.maps.inputs import MapInputs
from journeymap.maps.models import JourneyMap
from journeymap.maps.sections import emotion, flows, grid, personas, quality, summary, voice

SECTIONS: dict[str, Callable[[MapInputs], Any]] = {
    "meta": summary.meta,
    "summary": summary.summary,
    "stages": grid.stages,
    "lanes": grid.lanes,
    "flows": flows.flows,
    "emotion_curve": emotion.emotion_curve,
    "pain_points": grid.pain_points,
    "opportunities": summary.opportunities,
    "attribution": lambda inputs: inputs.attribution.doc,
    "drivers": lambda inputs: list(inputs.drivers),
    "themes": voice.themes,
    "personas": personas.personas,
    "persona_maps": personas.persona_maps,
    "designed_vs_observed": grid.designed_vs_observed,
    "change": summary.change,
    "data_quality": quality.data_quality,
}
"""Section name -> its function. Every name but ``lanes`` is a field of :class:`JourneyMap`; ``lanes`` is the
touchpoint cells of the stages' lanes in journey order (``JourneyMap.touchpoints()``)."""

ALIASES = {"emotion": "emotion_curve", "pain": "pain_points", "voice": "themes", "quality": "data_quality"}


def build_section(name: str, inputs: MapInputs) -> Any:
    """One section of the document, rebuilt from ``inputs`` alone, as it is in :func:`journeymap.maps.build_map`'s
    document (figures to 9 significant digits).

    >>> sorted(ALIASES)
    ['emotion', 'pain', 'quality', 'voice']
    """
    from journeymap.ranking import round_figures

    key = ALIASES.get(name, name)
    if key not in SECTIONS:
        raise InputError(f"Map section {name!r} is unknown; the sections are: {', '.join(SECTIONS)}.")
    if key == "lanes":
        return sorted(
            (tp for st in build_section("stages", inputs) for lane in st.lanes for tp in lane.touchpoints),
            key=lambda c: c.order,
        )
    value = SECTIONS[key](inputs)
    from pydantic import TypeAdapter

    annotation: Any = JourneyMap.model_fields[key].annotation
    return TypeAdapter(annotation).validate_python(round_figures(_dump(value)))


def compose(inputs: MapInputs, *, compared: bool = True) -> JourneyMap:
    """The document from its sections (``compared=False``: without the change against the previous map)."""
    parts = {
        name: f(inputs)
        for name, f in SECTIONS.items()
        if name not in ("lanes", "change", "summary") or name == "summary" and compared
    }
    if not compared:
        parts["summary"] = summary._summary(inputs)
    else:
        parts["change"] = summary.change(inputs)
    return JourneyMap(**parts)


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


__all__ = ["SECTIONS", "build_section", "compose"]
