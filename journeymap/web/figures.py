"""Key figures of one map element, kept with a comment, and the sentences comparing them with today's.

A comment stores :func:`key_figures` of its element when it is written; after the map is rebuilt the
page shows :func:`compare` of those and the new ones ("conversion was 18.3%, now 21.0%"). Figures are
read from the document only (nothing is computed here), each as ``{"value", "n", "unit"}``, with ``k``
for rates.

Element ids are :func:`journeymap.report.view.element_id`; a touchpoint's id is its name, so a
blueprint rename moves its comments with :func:`rename_element` / :func:`renamed_ids`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from journeymap.maps.models import KPI, Emotion, JourneyMap, Rate
from journeymap.report import formatting
from journeymap.report.view import element_id, opportunity_rows, parse_element_id

Figure = dict[str, Any]
"""One figure: ``value`` (float or None), ``n`` (int or None), ``unit`` (share, score, count, nps,
csat, ces), and ``k`` for a rate."""

LABELS = {
    "reach": "reach",
    "conversion": "conversion",
    "conversion_to_next": "go on to the next stage",
    "drop_off": "drop-off",
    "nps": "NPS",
    "csat": "CSAT",
    "ces": "CES",
    "emotion": "emotion",
    "sentiment": "sentiment",
    "friction": "friction",
    "friction_rank": "friction rank",
    "score": "friction × reach",
    "rank": "rank",
    "priority": "priority",
    "customers": "customers",
    "comments": "comments",
    "share": "share of comments",
}
"""The words of each figure in :func:`compare`'s sentences, in the order they are compared."""


def _rate(r: Rate | None) -> Figure | None:
    return None if r is None else {"value": r.value, "k": r.k, "n": r.n, "unit": "share"}


def _value(value: float | int | None, n: int | None, unit: str) -> Figure | None:
    return None if value is None else {"value": value, "n": n, "unit": unit}


def _emotion(e: Emotion | None) -> Figure | None:
    return None if e is None or e.mean is None else {"value": e.mean, "n": e.n, "unit": "score"}


def _kpis(kpis: Iterable[KPI]) -> dict[str, Figure]:
    return {k.name: {"value": k.value, "n": k.n, "unit": k.name} for k in kpis if k.value is not None}


def _clean(figs: dict[str, Figure | None]) -> dict[str, Figure]:
    return {k: v for k, v in figs.items() if v is not None}


def key_figures(doc: JourneyMap, eid: str) -> dict[str, Figure]:
    """The key figures of element ``eid`` in ``doc``, by name (see :data:`LABELS`); ``{}`` when the map
    no longer has the element (a removed touchpoint, a pain point that left the ranking).

    - touchpoint: reach (journeys reaching it, of all journeys), conversion (rate), NPS/CSAT/CES,
      emotion (mean, n), friction (score) and its rank;
    - stage: reach, conversion, go on to the next stage, drop-off (rates), customers, KPIs, emotion;
    - pain: friction × reach (score), rank, friction, reach (share);
    - opp: priority and the numeric evidence figures of the rule;
    - theme: comments (n), share of comments, sentiment.

    Raises ValueError (one sentence) when ``eid`` is not an element id.
    """
    kind, _ = parse_element_id(eid)
    if kind == "touchpoint":
        for tp in doc.touchpoints():
            if element_id("touchpoint", tp.name) == eid:
                f = tp.figures
                total = round(f.journeys / f.share) if f.share else None
                return _clean(
                    {
                        "reach": None
                        if f.share is None
                        else {"value": f.share, "k": f.journeys, "n": total, "unit": "share"},
                        "conversion": _rate(f.conversion),
                        **_kpis(tp.kpis),
                        "emotion": _emotion(tp.emotion),
                        "friction": _value(tp.friction.score, None, "count") if tp.friction else None,
                        "friction_rank": _value(tp.friction.rank, None, "rank") if tp.friction else None,
                    }
                )
    elif kind == "stage":
        for st in doc.stages:
            if element_id("stage", st.name) == eid:
                return _clean(
                    {
                        "reach": _rate(st.reach),
                        "conversion": _rate(st.conversion),
                        "conversion_to_next": _rate(st.conversion_to_next),
                        "drop_off": _rate(st.drop_off),
                        "customers": _value(st.customers, None, "count"),
                        **_kpis(st.kpis),
                        "emotion": _emotion(st.emotion),
                    }
                )
    elif kind == "pain":
        for p in doc.pain_points:
            if element_id("pain", p.touchpoint) == eid:
                return _clean(
                    {
                        "score": _value(p.score, None, "count"),
                        "rank": _value(p.rank, None, "rank"),
                        "friction": _value(p.friction, None, "count"),
                        "reach": _value(p.reach, None, "share"),
                    }
                )
    elif kind == "opp":
        for o in opportunity_rows(doc):
            if element_id("opp", (o.rule_id, o.where)) == eid:
                figs: dict[str, Figure | None] = {"priority": _value(o.priority, None, "count")}
                for d in doc.opportunities:
                    if d.rule_id == o.rule_id and (d.touchpoint or d.stage or "overall") == o.where:
                        for name, v in d.evidence.figures.items():
                            if isinstance(v, (int, float)) and not isinstance(v, bool):
                                figs.setdefault(str(name), _value(v, None, "count"))
                        break
                return _clean(figs)
    elif kind == "theme":
        for t in doc.themes:
            if element_id("theme", t.label) == eid:
                return _clean(
                    {
                        "comments": _value(t.n, t.n, "count"),
                        "share": _value(t.share, t.n, "share"),
                        "sentiment": _value(t.sentiment, t.n, "score"),
                    }
                )
    return {}


def _text(f: Figure | None) -> str:
    if f is None or f.get("value") is None:
        return formatting.DASH
    v, unit = f["value"], f.get("unit")
    if unit == "share":
        return formatting.pct(v)
    if unit == "score":
        return formatting.signed(v)
    if unit in ("nps", "csat"):
        return formatting.num(float(v), 0) if unit == "nps" else formatting.num(float(v), 2)
    if unit == "ces":
        return formatting.num(float(v), 1)
    if unit == "rank":
        return f"#{int(v)}"
    return formatting.num(v)


def compare(then: dict[str, Figure], now: dict[str, Figure]) -> list[str]:
    """Sentences for the figures that changed between ``then`` (stored with a comment) and ``now``:
    ``"conversion was 18.3%, now 21.0%"``; a figure gone reads ``"now –"``, a new one ``"was –"``.
    Figures that print the same are left out; known figures first (:data:`LABELS`' order)."""
    names = [k for k in LABELS if k in then or k in now]
    names += sorted(k for k in {*then, *now} if k not in LABELS)
    out = []
    for name in names:
        was, is_ = _text(then.get(name)), _text(now.get(name))
        if was != is_:
            out.append(f"{LABELS.get(name, name.replace('_', ' '))} was {was}, now {is_}")
    return out


def rename_element(old_id: str, new_name: str) -> str:
    """The id ``old_id`` takes when its touchpoint is renamed to ``new_name``: a touchpoint's and a pain
    point's key is the name, an opportunity's *where*; a stage or theme id is returned unchanged."""
    kind, parts = parse_element_id(old_id)
    if kind in ("touchpoint", "pain"):
        return element_id(kind, new_name)
    if kind == "opp":
        return element_id("opp", (parts[0], new_name))
    return old_id


def renamed_ids(ids: Iterable[str], old_name: str, new_name: str) -> dict[str, str]:
    """``{old id: new id}`` for the ids in ``ids`` that name touchpoint ``old_name`` (its card, its pain
    point, the opportunities *where* it is): what the app rewrites when the blueprint renames it."""
    out = {}
    for eid in ids:
        kind, parts = parse_element_id(eid)
        if kind in ("touchpoint", "pain", "opp") and parts[-1] == old_name:
            out[eid] = rename_element(eid, new_name)
    return out


__all__ = ["LABELS", "compare", "key_figures", "rename_element", "renamed_ids"]
