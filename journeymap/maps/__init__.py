"""The JourneyMap document: models (:mod:`journeymap.maps.models`), build and diff.

- :mod:`journeymap.maps.models`: the document (pydantic, versioned; ``JourneyMap``);
- :func:`build_map` (:mod:`journeymap.maps.build`): gather the inputs (:mod:`journeymap.maps.inputs`) and compose
  the sections (:mod:`journeymap.maps.sections`);
- :func:`diff_maps` (:mod:`journeymap.maps.diff`): compare two saved maps;
- :mod:`journeymap.maps.opportunities`: the rules that turn evidence into suggestions.

Everything is re-exported here (``from journeymap.maps import JourneyMap, build_map``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journeymap.maps.models import *  # noqa: F403
from journeymap.maps.models import SCHEMA_VERSION, JourneyMap, MapDiff, json_schema

if TYPE_CHECKING:
    from journeymap.workspace import Workspace


def build_map(ws: Workspace, **options: Any) -> JourneyMap:
    """Build the map of a workspace (writes nothing); see :func:`journeymap.maps.build.build_map`."""
    from journeymap.maps.build import build_map as _build

    return _build(ws, **options)


def diff_maps(old: JourneyMap, new: JourneyMap) -> MapDiff:
    """Compare two maps; see :func:`journeymap.maps.diff.diff_maps`."""
    from journeymap.maps.diff import diff_maps as _diff

    return _diff(old, new)


__all__ = ["SCHEMA_VERSION", "JourneyMap", "MapDiff", "build_map", "diff_maps", "json_schema"]
