"""Shapley-value attribution over channel coalitions, exact or sampled; ordered Shapley as an option.

The worth of a coalition ``S`` of channels is the conversions (or value) of the
journeys whose channel *set* lies within ``S``: ``v(S) = sum over T subset of S of
r(T)``, with ``r(T)`` the conversions of journeys whose channel set is exactly
``T`` (Zhao et al. 2018, "Shapley value methods for attribution modeling in
online advertising"). Each channel's Shapley value is the weighted sum of its
marginal contributions over all coalitions without it,
``sum |S|! (n-|S|-1)! / n! * (v(S + c) - v(S))``.

Up to ``max_exact`` channels (15) every coalition is enumerated (a subset-sum
transform gives all ``2^n`` worths at once). Above that, the value is estimated
from random channel orders (permutation sampling) with a standard error per
channel; ``seed`` makes the result repeatable. For this worth function the value
also has the closed form ``sum over T containing c of r(T) / |T|``, which the
tests use as a check.

*Ordered Shapley* (Zhao et al., section 4) also splits each channel's credit by
the position at which it first appears in the journey.

Examples
--------
>>> from journeymap.attribution.paths import Paths
>>> p = Paths.from_sequences([["a", "b"], ["a"]], conversions=[2, 1], value=[20, 5])
>>> fit = shapley_credits(p)
>>> fit.conversions.tolist(), fit.value.tolist(), fit.exact
([2.0, 1.0], [15.0, 10.0], True)
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np

from journeymap.attribution.paths import Paths
from journeymap.errors import InputError

MAX_EXACT = 15


@dataclass(frozen=True, eq=False)
class ShapleyFit:
    """Per channel Shapley credits; ``stderr`` is zero when exact."""

    channels: list[str]
    conversions: np.ndarray
    value: np.ndarray
    exact: bool
    stderr_conversions: np.ndarray
    stderr_value: np.ndarray
    n_permutations: int = 0


def channel_sets(paths: Paths) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct channel sets as a boolean matrix (sets x channels), with their conversions and value."""
    n = len(paths.channels)
    member = np.zeros((paths.n_paths, n), dtype=bool)
    if len(paths.codes):
        member[paths.path_index(), paths.codes] = True
    if n <= 62:  # one int64 bitmask per path: a fast 1-D unique
        masks = member.astype(np.int64) @ (np.int64(1) << np.arange(n, dtype=np.int64))
        uniq, inv = np.unique(masks, return_inverse=True)
        keys = ((uniq[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(bool)
    else:
        keys, inv = np.unique(member, axis=0, return_inverse=True)
    inv = np.asarray(inv).ravel()
    conv = np.bincount(inv, weights=paths.conversions, minlength=len(keys))
    val = np.bincount(inv, weights=paths.value, minlength=len(keys))
    return keys, conv, val


def shapley_credits(
    paths: Paths, *, max_exact: int = MAX_EXACT, n_permutations: int = 2000, seed: int = 0
) -> ShapleyFit:
    """Shapley credits per channel: exact up to ``max_exact`` channels, sampled above."""
    n = len(paths.channels)
    if n == 0:
        raise InputError("There are no channels to share credit between; check the filters and lookback.")
    sets, conv, val = channel_sets(paths)
    if n <= max_exact:
        c, v = _exact(sets, np.stack([conv, val]), n)
        zero = np.zeros(n)
        return ShapleyFit(list(paths.channels), c, v, True, zero, zero.copy())
    (c, v), (sc, sv) = _sampled(sets, np.stack([conv, val]), n, n_permutations, seed)
    return ShapleyFit(list(paths.channels), c, v, False, sc, sv, n_permutations)


def closed_form(paths: Paths) -> tuple[np.ndarray, np.ndarray]:
    """``sum over sets T containing c of r(T) / |T|``: the Shapley value of this game, for checks."""
    sets, conv, val = channel_sets(paths)
    size = sets.sum(axis=1)
    ok = size > 0
    share = sets[ok] / size[ok, None]
    return conv[ok] @ share, val[ok] @ share


def ordered_shapley(paths: Paths) -> list[tuple[str, int, float, float]]:
    """Ordered Shapley: ``(channel, position of first appearance, conversions, value)`` rows.

    Each path's conversions are split equally among its distinct channels and
    filed under the position (1-based) at which each first appears; summed over
    positions they equal the Shapley value.
    """
    pidx = paths.path_index()
    n = len(paths.channels)
    key = pidx * max(n, 1) + paths.codes
    _, first_idx = np.unique(key, return_index=True)
    first_idx = np.sort(first_idx)
    fp = pidx[first_idx]
    rank = np.arange(len(first_idx)) - np.searchsorted(fp, fp, side="left") + 1
    distinct = np.bincount(fp, minlength=paths.n_paths)
    conv = paths.conversions[fp] / distinct[fp]
    val = paths.value[fp] / distinct[fp]
    codes = paths.codes[first_idx]
    cell = codes * (rank.max(initial=1) + 1) + rank
    cells, inv = np.unique(cell, return_inverse=True)
    cs = np.bincount(inv, weights=conv)
    vs = np.bincount(inv, weights=val)
    width = rank.max(initial=1) + 1
    return [
        (paths.channels[int(k // width)], int(k % width), float(a), float(b))
        for k, a, b in zip(cells, cs, vs, strict=True)
    ]


def _exact(sets: np.ndarray, weights: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    masks = sets.astype(np.int64) @ (1 << np.arange(n, dtype=np.int64))
    worth = np.zeros((weights.shape[0], 1 << n))
    for k in range(weights.shape[0]):
        worth[k] = np.bincount(masks, weights=weights[k], minlength=1 << n)
    for bit in range(n):  # subset-sum (zeta) transform: worth[S] = sum over T subset of S
        step = 1 << bit
        view = worth.reshape(weights.shape[0], -1, 2 * step)
        view[:, :, step:] += view[:, :, :step]
    all_masks = np.arange(1 << n, dtype=np.int64)
    size = np.array([bin(m).count("1") for m in range(1 << n)]) if n <= 10 else _popcount(all_masks)
    coef = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    out = np.zeros((weights.shape[0], n))
    for c in range(n):
        without = all_masks[(all_masks >> c) & 1 == 0]
        gain = worth[:, without | (1 << c)] - worth[:, without]
        out[:, c] = gain @ coef[size[without]]
    return out[0], out[1]


def _popcount(masks: np.ndarray) -> np.ndarray:
    count = np.zeros(len(masks), dtype=np.int64)
    m = masks.copy()
    while m.any():
        count += m & 1
        m >>= 1
    return count


def _sampled(sets: np.ndarray, weights: np.ndarray, n: int, n_perm: int, seed: int):
    """Permutation sampling: in a random order, a set's worth goes to its last-arriving member."""
    rng = np.random.default_rng(seed)
    draws = np.zeros((n_perm, weights.shape[0], n))
    nonempty = sets.any(axis=1)
    sets, weights = sets[nonempty], weights[:, nonempty]
    for i in range(n_perm):
        rank = rng.permutation(n)
        last = np.argmax(np.where(sets, rank[None, :], -1), axis=1)
        for k in range(weights.shape[0]):
            draws[i, k] = np.bincount(last, weights=weights[k], minlength=n)
    mean = draws.mean(axis=0)
    se = draws.std(axis=0, ddof=1) / np.sqrt(n_perm) if n_perm > 1 else np.zeros_like(mean)
    return (mean[0], mean[1]), (se[0], se[1])
