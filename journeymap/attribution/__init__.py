"""Attribution and touchpoint effectiveness: what each channel and touchpoint is worth, with evidence.

Rule-based models run in the engine over journeys' touches
(:mod:`~journeymap.attribution.heuristics`); Markov (:mod:`~journeymap.attribution.markov`)
and Shapley (:mod:`~journeymap.attribution.shapley`) run in numpy on paths aggregated
in the engine (:mod:`~journeymap.attribution.paths`); exposure lift
(:mod:`~journeymap.attribution.lift`) and A/B tests (:mod:`~journeymap.attribution.abtest`)
run statistics on counts computed in the engine.
"""

from journeymap.attribution.attribution import DEFAULT_MODELS, attribute, parse_models
from journeymap.attribution.heuristics import HEURISTIC_MODELS, heuristic_credits
from journeymap.attribution.markov import markov_credits
from journeymap.attribution.paths import Paths, aggregate_paths, read_path_file
from journeymap.attribution.results import AttributionResult
from journeymap.attribution.shapley import ordered_shapley, shapley_credits
from journeymap.attribution.touches import AttributionSettings, attribution_touches

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
