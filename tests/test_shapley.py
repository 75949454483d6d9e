"""Shapley attribution: equal to full enumeration of channel orders on small cases; sampled within its error."""

from __future__ import annotations

from itertools import permutations
from math import factorial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeymap.attribution.paths import Paths
from journeymap.attribution.shapley import closed_form, ordered_shapley, shapley_credits
from journeymap.errors import InputError


def _enumerate(rows):
    """Shapley by averaging marginal contributions over every channel order (the definition)."""
    channels = sorted({c for seq, _ in rows for c in seq})

    def worth(coalition):
        return sum(conv for seq, conv in rows if set(seq) <= coalition)

    out = dict.fromkeys(channels, 0.0)
    for order in permutations(channels):
        seen: set[str] = set()
        for c in order:
            out[c] += worth(seen | {c}) - worth(seen)
            seen.add(c)
    return {c: v / factorial(len(channels)) for c, v in out.items()}


CASES = [
    [(("a", "b"), 2), (("a",), 1)],
    [(("a", "b", "c"), 6), (("a", "c"), 2), (("b",), 3), (("c", "c", "d"), 4), (("d", "a"), 1)],
    [(("p", "q", "r", "s", "t"), 5), (("q", "s"), 2), (("t",), 7), (("r", "p", "r"), 3)],
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_equals_full_enumeration(case):
    rows = CASES[case]
    p = Paths.from_sequences([r[0] for r in rows], [r[1] for r in rows], value=[3.0 * r[1] for r in rows])
    fit = shapley_credits(p)
    ref = _enumerate(rows)
    assert fit.exact
    for c, v, val in zip(fit.channels, fit.conversions, fit.value, strict=True):
        assert v == pytest.approx(ref[c], abs=1e-9)
        assert val == pytest.approx(3.0 * ref[c], abs=1e-9)


def test_sampled_is_within_its_error_of_the_exact_value():
    rng = np.random.default_rng(5)
    names = [f"ch{i:02d}" for i in range(18)]
    seqs = [list(rng.choice(names, size=int(rng.integers(1, 5)))) for _ in range(300)]
    p = Paths.from_sequences(seqs, conversions=rng.integers(0, 5, size=300))
    fit = shapley_credits(p, n_permutations=400, seed=2)
    exact, _ = closed_form(p)
    assert not fit.exact and fit.n_permutations == 400
    assert fit.conversions.sum() == pytest.approx(p.total_conversions)
    z = np.abs(fit.conversions - exact) / np.maximum(fit.stderr_conversions, 1e-12)
    assert z.max() < 4.5
    again = shapley_credits(p, n_permutations=400, seed=2)
    assert np.array_equal(again.conversions, fit.conversions)


def test_exact_equals_closed_form_on_channelattribution_sample(shared_data):
    from journeymap.attribution.paths import read_path_file

    p = read_path_file(shared_data / "channelattribution_paths" / "data.csv")
    fit = shapley_credits(p)
    conv, val = closed_form(p)
    assert fit.conversions == pytest.approx(conv, abs=1e-9)
    assert fit.value == pytest.approx(val, abs=1e-8)
    assert fit.conversions.sum() == pytest.approx(19785, abs=1e-6)


def test_ordered_shapley_sums_to_shapley():
    rows = CASES[1]
    p = Paths.from_sequences([r[0] for r in rows], [r[1] for r in rows])
    fit = shapley_credits(p)
    ordered = ordered_shapley(p)
    per = {}
    for ch, _pos, conv, _val in ordered:
        per[ch] = per.get(ch, 0.0) + conv
    assert per == pytest.approx(dict(zip(fit.channels, fit.conversions, strict=True)))
    # (a, b, c) 6: a first at 1, b at 2, c at 3, each 2
    assert ("b", 2, pytest.approx(2.0), pytest.approx(0.0)) in [tuple(r) for r in ordered]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.sampled_from("abcde"), min_size=1, max_size=4), st.integers(0, 6)), min_size=1, max_size=8
    )
)
def test_properties(rows):
    p = Paths.from_sequences([r[0] for r in rows], [r[1] for r in rows], nulls=[1] * len(rows))
    fit = shapley_credits(p)
    assert fit.conversions.sum() == pytest.approx(p.total_conversions)
    assert (fit.conversions >= -1e-12).all()
    perm = dict(zip("abcde", "edcba", strict=True))
    q = Paths.from_sequences([[perm[c] for c in r[0]] for r in rows], [r[1] for r in rows], nulls=[1] * len(rows))
    got = dict(zip(q.channels, shapley_credits(q).conversions, strict=True))
    for c, v in zip(fit.channels, fit.conversions, strict=True):
        assert got[perm[c]] == pytest.approx(v, abs=1e-9)


def test_one_channel_and_empty():
    fit = shapley_credits(Paths.from_sequences([["a"], ["a", "a"]], conversions=[2, 3], value=[5, 6]))
    assert fit.conversions.tolist() == [5.0] and fit.value.tolist() == [11.0]
    with pytest.raises(InputError, match="no channels"):
        shapley_credits(Paths.from_sequences([], conversions=[]))


def test_attribute_warns_with_the_error_of_sampled_shapley():
    from journeymap.attribution import attribute

    rng = np.random.default_rng(8)
    names = [f"ch{i:02d}" for i in range(17)]
    seqs = [list(rng.choice(names, size=int(rng.integers(1, 4)))) for _ in range(200)]
    p = Paths.from_sequences(seqs, conversions=rng.integers(1, 3, size=200))
    r = attribute(p, ["shapley"], seed=4)
    warning = next(w for w in r.diagnostics["warnings"] if w.startswith("Shapley sampled"))
    fit = shapley_credits(p, seed=4)
    assert f"{float(fit.stderr_conversions.max()):.3g}" in warning and "17 channels > 15" in warning
    assert r.credit("shapley") == pytest.approx(dict(zip(fit.channels, fit.conversions, strict=True)))
    assert attribute(p, ["shapley"], seed=4) == r  # a seed repeats it
