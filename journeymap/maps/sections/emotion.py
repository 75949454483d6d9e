"""The emotion section: the emotion curve along the stages and touchpoints."""

from __future__ import annotations

from journeymap.maps.inputs import MapInputs
from journeymap.maps.models import EmotionCurve, EmotionPoint, StageColumn, TouchpointCell
from journeymap.maps.sections import grid
from journeymap.voice.summary import METHOD


def curve(stages: list[StageColumn], cells: list[TouchpointCell], method: str = METHOD) -> EmotionCurve:
    """The emotion curve of a grid (the map's, or a persona's)."""
    return EmotionCurve(
        stages=[
            EmotionPoint(
                level="stage",
                name=s.name,
                stage=s.name,
                order=s.order,
                mean=s.emotion.mean,
                low=s.emotion.low,
                high=s.emotion.high,
                n=s.emotion.n,
            )
            for s in stages
            if s.emotion is not None and s.emotion.n > 0
        ],
        touchpoints=[
            EmotionPoint(
                level="touchpoint",
                name=c.name,
                stage=c.stage,
                order=c.order,
                mean=c.emotion.mean,
                low=c.emotion.low,
                high=c.emotion.high,
                n=c.emotion.n,
            )
            for c in cells
            if c.emotion is not None and c.emotion.n > 0
        ],
        method=method,
    )


def emotion_curve(inputs: MapInputs) -> EmotionCurve:
    """The document's ``emotion_curve``."""
    return curve(grid.stages(inputs), grid.lanes(inputs))
