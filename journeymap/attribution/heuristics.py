"""Rule-based attribution models, computed in the engine over the touches of converting paths.

Every model gives each touch of a converting path a weight; the weights of a
path sum to 1 (participation excepted: it gives 1 to each distinct channel) and a
channel's credit is the sum of weight x conversions (and weight x value) over
its touches. One query computes every model (per-path figures — length, first and last
position, decay sum — by a group-by joined back to the touches, then one
group-by per channel), so nothing per touch leaves the engine.

=================  =====================================================================
model              weight of the touch at position ``pos`` of ``n``
=================  =====================================================================
first              1 at pos 1
last               1 at pos n
last_non_direct    1 at the last touch whose channel is not direct (the last touch when
                   every touch is direct)
linear             1/n (repeats count: ``a > b > a`` gives a 2/3, as ChannelAttribution)
time_decay         2^(-t/half-life), normalised per path; t = time before the conversion
position           U-shaped 40/20/40: first 0.4, last 0.4, the middle share 0.2; two
                   touches 50/50; one touch all
j_shaped           J: last 0.6, first 0.2, middle 0.2 (two touches 0.75 / 0.25)
inverse_j          first 0.6, last 0.2, middle 0.2
custom             ``custom_weights=(first, middle, last)``, normalised the same way
participation      1 to every distinct channel of the path
=================  =====================================================================

Examples
--------
>>> import ibis
>>> touches = ibis.memtable({"path_id": ["p"] * 3, "channel": ["a", "b", "a"], "pos": [1, 2, 3],
...                          "conversions": [1.0] * 3, "value": [9.0] * 3})
>>> df = heuristic_credits(touches, ["first", "linear", "position"]).execute()
>>> sorted(zip(df.model, df.channel, df.conversions.round(3)))  # doctest: +NORMALIZE_WHITESPACE
[('first', 'a', 1.0), ('first', 'b', 0.0), ('linear', 'a', 0.667), ('linear', 'b', 0.333),
 ('position', 'a', 0.8), ('position', 'b', 0.2)]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import ibis
import ibis.expr.types as ir

from journeymap.errors import InputError

POSITIONAL = {
    "position": (0.4, 0.2, 0.4),
    "j_shaped": (0.2, 0.2, 0.6),
    "inverse_j": (0.6, 0.2, 0.2),
}
"""(first, middle, last) weights of the position-based models."""

HEURISTIC_MODELS = (
    "first",
    "last",
    "last_non_direct",
    "linear",
    "time_decay",
    "position",
    "j_shaped",
    "inverse_j",
    "custom",
    "participation",
)
"""Every rule-based model, by name."""

ALIASES = {
    "u": "position",
    "u_shaped": "position",
    "position_based": "position",
    "j": "j_shaped",
    "first_touch": "first",
    "last_touch": "last",
    "linear_touch": "linear",
    "decay": "time_decay",
    "lnd": "last_non_direct",
}
"""Other names users type for the same models."""

NEEDS_TIME = ("time_decay",)


def heuristic_credits(
    touches: ir.Table,
    models: Sequence[str] = ("first", "last", "linear"),
    *,
    half_life: timedelta = timedelta(days=7),
    direct: Sequence[str] = ("direct",),
    custom_weights: Sequence[float] | None = None,
) -> ir.Table:
    """Credits per model and channel: ``model, channel, conversions, value`` (an Ibis expression).

    ``touches`` has ``path_id, channel, pos, conversions, value`` (and
    ``t_before`` in seconds for time decay), as :func:`attribution_touches` or
    :func:`journeymap.attribution.paths.path_touches` give; paths without
    conversions are ignored.
    """
    models = [canonical_model(m) for m in models]
    if "custom" in models:
        _check_custom(custom_weights)
    converting = touches.filter((touches.conversions > 0) & touches.channel.notnull())
    weighted = [m for m in models if m != "participation"]
    parts = []
    if weighted:
        t = _with_path_figures(converting, weighted, half_life, direct)
        aggs = {}
        for m in weighted:
            w = _weight(t, m, custom_weights)
            aggs[f"_c_{m}"] = (w * t.conversions).sum()
            aggs[f"_v_{m}"] = (w * t.value).sum()
        g = t.group_by("channel").agg(**aggs)
        parts = [
            g.select(model=ibis.literal(m), channel=g.channel, conversions=g[f"_c_{m}"], value=g[f"_v_{m}"])
            for m in weighted
        ]
    if "participation" in models:  # each distinct (path, channel) once: a group-by, no join
        pc = converting.group_by(["path_id", "channel"]).agg(c=converting.conversions.max(), v=converting.value.max())
        pc = pc.group_by("channel").agg(conversions=pc.c.sum(), value=pc.v.sum())
        parts.append(
            pc.select(
                model=ibis.literal("participation"), channel=pc.channel, conversions=pc.conversions, value=pc.value
            )
        )
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p)
    return out


def _with_path_figures(t: ir.Table, models: list[str], half_life: timedelta, direct: Sequence[str]) -> ir.Table:
    """Each touch with its path's length, first and last position (a group-by joined back: no sort)."""
    if "time_decay" in models:
        if "t_before" not in t.columns:
            raise InputError(
                "Model 'time_decay' needs touch times, which an aggregated path file lacks; "
                "drop time_decay from --models or attribute journeys from the workspace."
            )
        t = t.mutate(_decay=ibis.literal(2.0) ** (-t.t_before / half_life.total_seconds()))
    figures = {"_n": t.count(), "_first": t.pos.min(), "_last": t.pos.max()}
    if "last_non_direct" in models:
        is_direct = t.channel.lower().isin([d.lower() for d in direct])
        figures["_lnd"] = ibis.ifelse(is_direct, None, t.pos).max()
    if "time_decay" in models:
        figures["_decay_sum"] = t._decay.sum()
    per = t.group_by(_pid="path_id").agg(**figures)
    t = t.inner_join(per, t.path_id == per._pid).drop("_pid")
    return t


def canonical_model(name: str) -> str:
    """The model's canonical name (aliases such as ``u`` or ``first_touch`` allowed).

    >>> canonical_model("U"), canonical_model("first_touch")
    ('position', 'first')
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in HEURISTIC_MODELS:
        raise InputError(f"Model {name!r} is not a rule-based model; use one of {', '.join(HEURISTIC_MODELS)}.")
    return key


def _check_custom(weights: Sequence[float] | None) -> None:
    if weights is None or len(weights) != 3 or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise InputError(
            f"custom_weights {weights!r} must be three non-negative numbers (first, middle, last) "
            "with a positive sum, e.g. 0.3,0.4,0.3."
        )


def _weight(t: ir.Table, model: str, custom: Sequence[float] | None) -> ir.FloatingValue:
    first, last, n = t.pos == t._first, t.pos == t._last, t._n
    if model == "first":
        return first.cast("float64")
    if model == "last":
        return last.cast("float64")
    if model == "linear":
        return 1.0 / n.cast("float64")
    if model == "last_non_direct":
        return (t.pos == t._lnd.coalesce(t._last)).cast("float64")
    if model == "time_decay":
        return t._decay / t._decay_sum
    if model == "custom":
        assert custom is not None  # _check_custom ran first
        f, m, la = custom
    else:
        f, m, la = POSITIONAL[model]
    return _positional(first, last, n, f, m, la)


def _positional(
    is_first: ir.BooleanValue, is_last: ir.BooleanValue, n: ir.IntegerValue, first: float, middle: float, last: float
) -> ir.FloatingValue:
    total = first + middle + last
    f, m, la = first / total, middle / total, last / total
    two_f = first / (first + last) if first + last > 0 else 0.5
    return ibis.cases(
        (n == 1, 1.0),
        ((n == 2) & is_first, two_f),
        (n == 2, 1.0 - two_f),
        (is_first, f),
        (is_last, la),
        else_=m / (n.cast("float64") - 2.0),
    )
