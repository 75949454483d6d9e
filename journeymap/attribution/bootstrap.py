"""Bootstrap intervals for Markov and Shapley credits: resample journeys, refit, take percentiles.

Resampling journeys of aggregated paths is a multinomial draw: the ``N``
journeys (conversions plus non-conversions of every path) are drawn again with
replacement, i.e. the counts of each (path, outcome) cell come from one
multinomial with probabilities proportional to the observed counts. A converting
journey keeps its path's mean value. The Markov chain's structure is built once
and refitted per replicate. ``seed`` makes the intervals repeatable.

Examples
--------
>>> from journeymap.attribution.paths import Paths
>>> p = Paths.from_sequences([["a", "b"], ["a"], ["b"]], conversions=[5, 3, 4], nulls=[5, 7, 6])
>>> iv = bootstrap_intervals(p, n=50, models=("markov",))
>>> bool((iv["markov"][0] <= iv["markov"][1]).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from journeymap.attribution.markov import Chain
from journeymap.attribution.paths import Paths
from journeymap.attribution.shapley import shapley_credits
from journeymap.errors import InputError


def resample_counts(paths: Paths, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One bootstrap replicate of (conversions, value, nulls) per path."""
    cells = np.concatenate([paths.conversions, paths.nulls])
    total = int(round(cells.sum()))
    draw = rng.multinomial(total, cells / cells.sum()).astype(float)
    conv, nulls = draw[: paths.n_paths], draw[paths.n_paths :]
    mean_value = np.divide(paths.value, paths.conversions, out=np.zeros(paths.n_paths), where=paths.conversions > 0)
    return conv, conv * mean_value, nulls


def bootstrap_intervals(
    paths: Paths,
    n: int = 200,
    *,
    models: Sequence[str] = ("markov", "shapley"),
    order: int = 1,
    collapse_repeats: bool = True,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Percentile intervals per model: ``(conv_low, conv_high, value_low, value_high)`` per channel."""
    if n < 2:
        raise InputError(f"--bootstrap {n!r} is too few replicates; use 100 or more (or 0 for none).")
    if paths.n_paths == 0 or (paths.conversions + paths.nulls).sum() == 0:
        raise InputError("There are no journeys to resample; check the filters and lookback.")
    rng = np.random.default_rng(seed)
    mp = paths.collapsed() if collapse_repeats else paths
    chain = Chain.build(mp, order) if "markov" in models else None
    draws: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m: [] for m in models}
    for _ in range(n):
        if chain is not None:
            c, v, u = resample_counts(mp, rng)
            fit = chain.fit(c, v, u)
            draws["markov"].append((fit.conversions, fit.value))
        if "shapley" in models:
            c, v, u = resample_counts(paths, rng)
            s = shapley_credits(paths.with_counts(c, v, u), seed=int(rng.integers(2**31)))
            draws["shapley"].append((s.conversions, s.value))
    alpha = (1 - level) / 2 * 100
    out = {}
    for m, rows in draws.items():
        conv = np.array([r[0] for r in rows])
        val = np.array([r[1] for r in rows])
        out[m] = (
            np.percentile(conv, alpha, axis=0),
            np.percentile(conv, 100 - alpha, axis=0),
            np.percentile(val, alpha, axis=0),
            np.percentile(val, 100 - alpha, axis=0),
        )
    return out
