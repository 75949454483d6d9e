"""Markov-chain attribution of order 1..4 with exact removal effects.

Every path (converting or not) walks ``start -> s1 -> ... -> sn -> conversion``
or ``-> null``. A state of an order-``k`` chain is the tuple of the last ``k``
channels (shorter at the start of a path). Transition probabilities are the
observed transition counts, each path weighted by its journeys, divided by the
state's outgoing total. The probability of conversion from ``start`` is the
absorption probability of the chain, solved exactly by one sparse linear solve
``(I - Q) x = r`` (no simulation, no matrix powers).

Removing a channel sends every state that contains it to ``null``. The removal
effect is ``(P(conv) - P(conv without it)) / P(conv)``, never negative (removing
states cannot raise an absorption probability; rounding below zero is clipped).
A channel's credit is the total conversions (and value) split in proportion to
the removal effects, so credits sum to the totals.

ChannelAttribution's ``markov_model`` reads paths with immediate repeats
collapsed (``a > a > b`` as ``a > b``); ``collapse_repeats=True`` (the default)
does the same. At order 1 it makes no difference: self-loops do not change
absorption probabilities.

Examples
--------
>>> from journeymap.attribution.paths import Paths
>>> p = Paths.from_sequences([["a", "b"], ["a"], ["b"]], conversions=[1, 0, 1], nulls=[0, 1, 1])
>>> fit = markov_credits(p)
>>> round(fit.conversion_probability, 6), fit.conversions.round(6).tolist()
(0.5, [0.5, 1.5])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

from journeymap.attribution.paths import Paths
from journeymap.errors import InputError

MAX_ORDER = 4


@dataclass(frozen=True, eq=False)
class MarkovFit:
    """What :func:`markov_credits` returns: per channel removal effects and credits."""

    channels: list[str]
    order: int
    conversion_probability: float
    removal_effects: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    n_states: int


@dataclass(frozen=True, eq=False)
class Chain:
    """The structure of the chain for a set of paths: states, transitions, which states hold which channel.

    Counts are applied later (:meth:`fit`), so bootstrap replicates reuse it.
    """

    channels: list[str]
    order: int
    n_states: int
    pair_src: np.ndarray
    pair_dst: np.ndarray
    pair_of_step: np.ndarray
    path_of_step: np.ndarray
    last_state: np.ndarray
    contains: sparse.csc_matrix

    @classmethod
    def build(cls, paths: Paths, order: int = 1) -> Chain:
        """States and transitions of ``paths`` (already collapsed if wanted)."""
        _check_order(order)
        state = _state_ids(paths, order)
        uniq, inv = _unique_inverse(state)
        s = inv + 1  # 0 is start
        pidx = paths.path_index()
        first = paths.offsets[:-1]
        prev = np.zeros(len(s), dtype=np.int64)
        not_first = np.ones(len(s), dtype=bool)
        not_first[first] = False
        prev[not_first] = s[np.flatnonzero(not_first) - 1]
        pairs = prev * (len(uniq) + 1) + s
        pkeys, pinv = _unique_inverse(pairs)
        last = s[paths.offsets[1:] - 1]
        contains = _containment(paths, order, s, len(uniq) + 1)
        return cls(
            list(paths.channels),
            order,
            len(uniq) + 1,
            pkeys // (len(uniq) + 1),
            pkeys % (len(uniq) + 1),
            pinv.astype(np.int64),
            pidx,
            last,
            contains,
        )

    def fit(self, conversions: np.ndarray, value: np.ndarray, nulls: np.ndarray) -> MarkovFit:
        """Removal effects and credits for these per-path counts."""
        weight = conversions + nulls
        counts = np.bincount(self.pair_of_step, weights=weight[self.path_of_step], minlength=len(self.pair_src))
        conv = np.bincount(self.last_state, weights=conversions, minlength=self.n_states)
        null = np.bincount(self.last_state, weights=nulls, minlength=self.n_states)
        out = np.bincount(self.pair_src, weights=counts, minlength=self.n_states) + conv + null
        safe = np.where(out > 0, out, 1.0)
        q = sparse.csr_matrix(
            (counts / safe[self.pair_src], (self.pair_src, self.pair_dst)), shape=(self.n_states, self.n_states)
        )
        r = conv / safe
        base = _absorb(q, r, np.ones(self.n_states, dtype=bool))
        effects = np.zeros(len(self.channels))
        if base > 0:
            for c in range(len(self.channels)):
                keep = np.asarray(self.contains[:, c].toarray()).ravel() == 0
                effects[c] = max(0.0, (base - _absorb(q, r, keep)) / base)
        total_c, total_v = float(conversions.sum()), float(value.sum())
        share = effects / effects.sum() if effects.sum() > 0 else np.zeros_like(effects)
        return MarkovFit(self.channels, self.order, base, effects, share * total_c, share * total_v, self.n_states)


def markov_credits(paths: Paths, order: int = 1, *, collapse_repeats: bool = True) -> MarkovFit:
    """Fit an order-``order`` chain on ``paths`` and split the conversions by removal effects.

    Parameters
    ----------
    paths
        Aggregated paths, converting and not.
    order
        1 to 4: how many previous channels a state remembers.
    collapse_repeats
        Read ``a > a > b`` as ``a > b`` (ChannelAttribution's Markov reading).
    """
    _check_order(order)
    if paths.n_paths == 0:
        raise InputError("There are no paths to fit a Markov model on; check the filters, lookback and --paths file.")
    p = paths.collapsed(merge=False) if collapse_repeats else paths
    chain = Chain.build(p, order)
    return chain.fit(p.conversions, p.value, p.nulls)


def _check_order(order: int) -> None:
    if not isinstance(order, (int, np.integer)) or not 1 <= order <= MAX_ORDER:
        raise InputError(f"Markov order {order!r} is not supported; use 1 to {MAX_ORDER} (--order).")


def _unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for non-negative integers; a lookup table when they are small."""
    top = int(values.max()) + 1 if len(values) else 0
    if top > max(1 << 22, 4 * len(values)):
        uniq, inv = np.unique(values, return_inverse=True)
        return uniq, np.asarray(inv, dtype=np.int64).ravel()
    present = np.zeros(top, dtype=bool)
    present[values] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present).astype(np.int64), rank[values]


def _state_ids(paths: Paths, order: int) -> np.ndarray:
    base = len(paths.channels) + 1
    if base**order >= 2**62:
        raise InputError(f"Markov order {order} with {base - 1} channels is too large; lower --order.")
    pos = np.arange(len(paths.codes)) - paths.offsets[paths.path_index()]
    state = np.zeros(len(paths.codes), dtype=np.int64)
    for j in range(order):
        ok = pos >= j
        idx = np.flatnonzero(ok)
        state[idx] += (paths.codes[idx - j] + 1) * base**j
    return state


def _containment(paths: Paths, order: int, s: np.ndarray, n_states: int) -> sparse.csc_matrix:
    pos = np.arange(len(paths.codes)) - paths.offsets[paths.path_index()]
    rows, cols = [], []
    for j in range(order):
        idx = np.flatnonzero(pos >= j)
        rows.append(s[idx])
        cols.append(paths.codes[idx - j])
    r, c = np.concatenate(rows), np.concatenate(cols)
    m = sparse.csc_matrix((np.ones(len(r)), (r, c)), shape=(n_states, len(paths.channels)))
    m.data[:] = 1.0
    return m


def _absorb(q: sparse.csr_matrix, r: np.ndarray, keep: np.ndarray) -> float:
    """P(absorbed in conversion | start) with only the ``keep`` states (removed ones lead to null)."""
    idx = np.flatnonzero(keep)
    qk = q[idx][:, idx]
    a = (sparse.identity(len(idx), format="csc") - qk).tocsc()
    if len(idx) == 1:
        return float(r[idx][0] / a[0, 0]) if a[0, 0] != 0 else 0.0
    x = spsolve(a, r[idx])
    return float(x[0])
