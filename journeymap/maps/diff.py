"""Compare two maps: per headline, stage and touchpoint deltas with significance; touchpoints and pain points.

Rates (conversion, reach, stage-to-stage) are compared with a two-proportion
z-test (pooled) and an unpooled Wald 95% interval of the difference; means
(emotion, NPS, CSAT, CES) with a z-test whose standard errors are read from each
map's 95% intervals. Counts (customers, journeys) and scores without a sampling
model (friction) get a delta without a test.
"""

from __future__ import annotations

from typing import Any

from journeymap.maps.models import Delta, JourneyMap, MapDiff, RankChange
from journeymap.maps.stats import rate, two_means, two_proportions
from journeymap.ranking import rank_value


def diff_maps(old: JourneyMap, new: JourneyMap) -> MapDiff:
    """What changed from ``old`` to ``new`` (e.g. last month's saved map and this month's)."""
    old_tp = {c.name for c in old.touchpoints() if c.has_data}
    new_tp = {c.name for c in new.touchpoints() if c.has_data}
    old_rank = {p.touchpoint: p.rank for p in old.pain_points}
    new_rank = {p.touchpoint: p.rank for p in new.pain_points}
    ranks = []
    for tp in sorted(set(old_rank) | set(new_rank), key=lambda t: (new_rank.get(t, 10**6), old_rank.get(t, 10**6), t)):
        a, b = old_rank.get(tp), new_rank.get(tp)
        ranks.append(
            RankChange(
                touchpoint=tp, old_rank=a, new_rank=b, change=(a - b) if a is not None and b is not None else None
            )
        )
    return MapDiff(
        old=old.meta,
        new=new.meta,
        added_touchpoints=sorted(new_tp - old_tp),
        removed_touchpoints=sorted(old_tp - new_tp),
        deltas=map_deltas(old, new),
        pain_points=ranks,
    )


def map_deltas(old: JourneyMap, new: JourneyMap) -> list[Delta]:
    """Deltas of headline, stage and touchpoint figures; significant first, then by size."""
    out: list[Delta] = []
    oh = {h.key: h for h in old.summary.headlines}
    for h in new.summary.headlines:
        oh_ = oh.get(h.key)
        if oh_ is None or h.unit == "text" or not _num(h.value) or not _num(oh_.value):
            continue
        if h.key == "conversion":
            res = two_proportions(_head_rate(oh_), _head_rate(h))
        elif h.unit == "score":
            res = two_means(_Est(oh_.value, oh_.low, oh_.high, oh_.n), _Est(h.value, h.low, h.high, h.n))
        else:
            res = _plain(oh_.value, h.value)
        out.append(_delta("headline", h.key, h.key, res))
    ost = {s.name: s for s in old.stages}
    for s in new.stages:
        os_ = ost.get(s.name)
        if os_ is None:
            continue
        for metric in ("reach", "conversion_to_next", "conversion", "drop_off", "after_goal"):
            a, b = getattr(os_, metric), getattr(s, metric)
            if a is not None and b is not None:
                out.append(_delta("stage", s.name, metric, two_proportions(a, b)))
        if os_.emotion is not None and s.emotion is not None:
            out.append(_delta("stage", s.name, "emotion", two_means(os_.emotion, s.emotion)))
    otp = {c.name: c for c in old.touchpoints()}
    old_total = _journeys(old)
    new_total = _journeys(new)
    for c in new.touchpoints():
        ot = otp.get(c.name)
        if ot is None or not (ot.has_data and c.has_data):
            continue
        if old_total and new_total:
            out.append(
                _delta(
                    "touchpoint",
                    c.name,
                    "reach",
                    two_proportions(rate(ot.figures.journeys, old_total), rate(c.figures.journeys, new_total)),
                )
            )
        if ot.figures.conversion is not None and c.figures.conversion is not None:
            out.append(
                _delta("touchpoint", c.name, "conversion", two_proportions(ot.figures.conversion, c.figures.conversion))
            )
        if ot.emotion is not None and c.emotion is not None:
            out.append(_delta("touchpoint", c.name, "emotion", two_means(ot.emotion, c.emotion)))
        ok = {k.name: k for k in ot.kpis}
        for k in c.kpis:
            if k.name in ok:
                out.append(_delta("touchpoint", c.name, k.name, two_means(ok[k.name], k)))
        if ot.friction is not None and c.friction is not None:
            out.append(_delta("touchpoint", c.name, "friction", _plain(ot.friction.score, c.friction.score)))
    out.sort(key=lambda d: (not d.significant, _scope_order(d.scope), -rank_value(abs(d.delta or 0)), d.name, d.metric))
    return out


class _Est:
    def __init__(self, value, low, high, n):
        self.value, self.low, self.high, self.n = value, low, high, n


def _head_rate(h):
    n = h.n or 0
    return rate(round((h.value or 0) * n), n, h.low, h.high) if n else None


def _journeys(m: JourneyMap) -> int:
    for h in m.summary.headlines:
        if h.key == "journeys" and _num(h.value):
            return int(h.value)  # type: ignore[arg-type]  # _num checked it is a number
    return 0


def _plain(a: Any, b: Any) -> dict[str, Any]:
    return {
        "old": float(a),
        "new": float(b),
        "delta": float(b) - float(a),
        "low": None,
        "high": None,
        "p": None,
        "significant": None,
        "n_old": None,
        "n_new": None,
    }


def _delta(scope: Any, name: str, metric: str, res: dict[str, Any]) -> Delta:
    return Delta(scope=scope, name=name, metric=metric, **res)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _scope_order(scope: str) -> int:
    return {"headline": 0, "stage": 1, "touchpoint": 2, "persona": 3}.get(scope, 4)
