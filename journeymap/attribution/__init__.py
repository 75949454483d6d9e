"""Attribution and touchpoint effectiveness: what each channel and touchpoint is worth, with evidence.

Rule-based models run in the engine over journeys' touches
(:mod:`~journeymap.attribution.heuristics`); Markov (:mod:`~journeymap.attribution.markov`)
and Shapley (:mod:`~journeymap.attribution.shapley`) run in numpy on paths aggregated
in the engine (:mod:`~journeymap.attribution.paths`); exposure lift
(:mod:`~journeymap.attribution.lift`) and A/B tests (:mod:`~journeymap.attribution.abtest`)
run statistics on counts computed in the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from journeymap.attribution.attribution import DEFAULT_MODELS, attribute, parse_models
    from journeymap.attribution.heuristics import HEURISTIC_MODELS, heuristic_credits
    from journeymap.attribution.markov import markov_credits
    from journeymap.attribution.paths import Paths, aggregate_paths, read_path_file
    from journeymap.attribution.results import AttributionResult
    from journeymap.attribution.shapley import ordered_shapley, shapley_credits
    from journeymap.attribution.touches import AttributionSettings, attribution_touches

_WHERE: dict[str, str] = {
    **dict.fromkeys(("DEFAULT_MODELS", "attribute", "parse_models"), "attribution"),
    **dict.fromkeys(("HEURISTIC_MODELS", "heuristic_credits"), "heuristics"),
    "markov_credits": "markov",
    **dict.fromkeys(("Paths", "aggregate_paths", "read_path_file"), "paths"),
    "AttributionResult": "results",
    **dict.fromkeys(("ordered_shapley", "shapley_credits"), "shapley"),
    **dict.fromkeys(("AttributionSettings", "attribution_touches"), "touches"),
}
"""Each public name and the submodule that defines it (loaded on first use: importing one submodule,
e.g. ``touches`` for the map, does not load numpy's Markov and Shapley models)."""


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'journeymap.attribution' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"journeymap.attribution.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "DEFAULT_MODELS",
    "HEURISTIC_MODELS",
    "AttributionResult",
    "AttributionSettings",
    "Paths",
    "aggregate_paths",
    "attribute",
    "attribution_touches",
    "heuristic_credits",
    "markov_credits",
    "ordered_shapley",
    "parse_models",
    "read_path_file",
    "shapley_credits",
]
