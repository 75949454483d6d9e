"""The JourneyMap document: models (:mod:`journeymap.maps.models`), build and diff.

The models of the document live in :mod:`journeymap.maps.models`; everything is
re-exported here (``from journeymap.maps import JourneyMap``).
"""

from journeymap.maps.models import *  # noqa: F403
from journeymap.maps.models import SCHEMA_VERSION, JourneyMap, MapDiff, json_schema

__all__ = ["SCHEMA_VERSION", "JourneyMap", "MapDiff", "json_schema"]
