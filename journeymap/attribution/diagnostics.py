"""What the attribution was computed on, and warnings when it is thin.

Examples
--------
>>> from journeymap.attribution.paths import Paths
>>> p = Paths.from_sequences([["a"], ["a", "b"]], conversions=[3, 1], nulls=[1, 0])
>>> d = path_diagnostics(p)
>>> d["paths"], d["conversions"], d["single_touch_share"], d["warnings"][0][:20]
(2, 4.0, 0.75, 'Only 4 conversions; ')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from journeymap.attribution.paths import Paths

MIN_CONVERSIONS = 100
"""Below this many conversions the credits are noisy; a warning says so."""

MIN_CHANNEL_CONVERSIONS = 10


def path_diagnostics(paths: Paths, *, unattributed: float = 0.0) -> dict[str, Any]:
    """Paths, journeys, channels, conversions, value, single-touch share and warnings."""
    conv = paths.total_conversions
    lengths = paths.lengths()
    single = float(paths.conversions[lengths == 1].sum()) / conv if conv else 0.0
    out: dict[str, Any] = {
        "paths": paths.n_paths,
        "journeys": float((paths.conversions + paths.nulls).sum()),
        "channels": len(paths.channels),
        "conversions": conv,
        "conversion_value": paths.total_value,
        "non_converting": float(paths.nulls.sum()),
        "conversion_rate": conv / float((paths.conversions + paths.nulls).sum()) if paths.n_paths else 0.0,
        "single_touch_share": single,
        "mean_path_length": float(np.average(lengths, weights=paths.conversions + paths.nulls))
        if paths.n_paths
        else 0.0,
        "unattributed_conversions": unattributed,
    }
    out["warnings"] = _warnings(paths, out)
    return out


def _warnings(paths: Paths, d: dict[str, Any]) -> list[str]:
    w = []
    if d["conversions"] == 0:
        w.append("No conversions: every credit is zero; check the goals in blueprint.yaml and the lookback.")
    elif d["conversions"] < MIN_CONVERSIONS:
        w.append(
            f"Only {d['conversions']:g} conversions; credits this thin move a lot between samples "
            "(use --bootstrap to see how much)."
        )
    if d["non_converting"] == 0 and d["conversions"] > 0:
        w.append(
            "No non-converting journeys: the Markov model cannot tell channels apart by their "
            "drop-off; include dropped journeys or add total_null to the path file."
        )
    if d["single_touch_share"] > 0.8:
        w.append(
            f"{d['single_touch_share']:.0%} of conversions had one touch; multi-touch models "
            "then agree with last touch."
        )
    if d["channels"] == 1:
        w.append("Only one channel: every model gives it all the credit.")
    if d["unattributed_conversions"] > 0:
        w.append(
            f"{d['unattributed_conversions']:g} conversions had no credited touch in the lookback "
            "and are not in the totals (widen --lookback or use --include-service)."
        )
    per = np.zeros(len(paths.channels))
    if len(paths.codes):
        np.add.at(per, paths.codes, paths.conversions[paths.path_index()])
    thin = [c for c, n in zip(paths.channels, per, strict=True) if n < MIN_CHANNEL_CONVERSIONS]
    if thin and d["conversions"] > 0:
        w.append(
            f"Channels on fewer than {MIN_CHANNEL_CONVERSIONS} converting paths: "
            f"{', '.join(thin[:10])}; their credit is unreliable."
        )
    return w
