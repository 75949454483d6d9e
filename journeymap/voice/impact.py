"""Theme impact: how much NPS or CSAT would change if a theme's comments were removed.

For a theme T and a score (NPS or CSAT), ``impact = score(all responses) - score(responses
not in T)``: a theme that pulls the score down has negative impact, one that lifts it has
positive impact (the convention of Thematic and Qualtrics Text iQ). Only responses with that
score count; ``n_theme`` of them belong to the theme. The counts per theme are computed by the
engine (a join of the theme assignments with ``feedback``); the differences in Python.

Examples
--------
>>> import ibis
>>> from journeymap.voice.results import Theme, ThemeSet
>>> fb = ibis.memtable({"feedback_id": ["1", "2", "3", "4"], "nps": [0, 3, 10, 9],
...                     "csat": [1, 2, 5, 5]})
>>> ts = ThemeSet(themes=[Theme(name="delays", label="delays", size=2, feedback_ids=["1", "2"])], n_comments=4)
>>> r = theme_impact(fb, ts).typed_rows()
>>> [(x.metric, x.score_all, x.score_without, x.impact) for x in r]
[('nps', 0.0, 100.0, -100.0), ('csat', 50.0, 100.0, -50.0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from journeymap import engine
from journeymap.errors import InputError
from journeymap.voice.results import ThemeImpact, ThemeImpactRow, ThemeSet

METRICS = ("nps", "csat")


def _score(metric: str, good: float, bad: float, n: float) -> float | None:
    if n <= 0:
        return None
    return 100 * (good - bad) / n if metric == "nps" else 100 * good / n


def theme_impact(
    feedback: ir.Table, themes: ThemeSet, *, metrics: Sequence[str] = METRICS, con: Any = None
) -> ThemeImpact:
    """Impact of each theme on NPS and CSAT (see the module docstring for the definition).

    Parameters
    ----------
    feedback : ibis.Table
        Needs ``feedback_id`` and the score columns.
    themes : ThemeSet
        From :func:`journeymap.voice.themes.find_themes`.
    metrics : sequence of {"nps", "csat"}
    """
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise InputError(f"Metric {bad[0]!r} has no theme impact (argument metrics); use some of {', '.join(METRICS)}.")
    assign = themes.assignments()
    if not assign:
        return ThemeImpact(columns=_COLUMNS, rows=[], meta={"definition": _DEF})
    total = engine.execute(feedback.aggregate(**_aggs(feedback, metrics)), con).iloc[0]
    links = ibis.memtable({"t_id": list(assign), "theme": list(assign.values())})
    joined = feedback.inner_join(links, feedback.feedback_id == links.t_id)
    per = engine.execute(joined.group_by("theme").aggregate(**_aggs(joined, metrics)), con)
    per = per.set_index("theme")
    rows = []
    for t in themes.themes:
        for m in metrics:
            n_all, g_all, b_all = (_get(total, f"{m}_{x}") for x in ("n", "good", "bad"))
            if t.name in per.index:
                n_t, g_t, b_t = (_get(per.loc[t.name], f"{m}_{x}") for x in ("n", "good", "bad"))
            else:
                n_t = g_t = b_t = 0.0
            s_all = _score(m, g_all, b_all, n_all)
            s_wo = _score(m, g_all - g_t, b_all - b_t, n_all - n_t)
            impact = None if s_all is None or s_wo is None else s_all - s_wo
            rows.append([t.name, m, int(n_t), int(n_all), s_all, s_wo, impact])
    return ThemeImpact(columns=_COLUMNS, rows=rows, meta={"definition": _DEF})


def _aggs(t: ir.Table, metrics: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metrics:
        col = t[m]
        out[f"{m}_n"] = col.count()
        out[f"{m}_good"] = ((col >= 9) if m == "nps" else (col >= 4)).cast("int64").sum()
        if m == "nps":
            out[f"{m}_bad"] = (col <= 6).cast("int64").sum()
    return out


def _get(row: Any, key: str) -> float:
    if key not in row.index:
        return 0.0
    v = row[key]
    return 0.0 if v is None or v != v else float(v)


_COLUMNS = list(ThemeImpactRow.columns())
_DEF = "impact = score(all) - score(without the theme's responses); negative: the theme pulls the score down"
