"""The document as flat tables (one CSV file per table), every figure with its n and interval columns.

Examples
--------
>>> from journeymap.maps import JourneyMap
>>> doc = JourneyMap.model_validate({"meta": {"workspace": "shop", "generated_at": "2026-01-01T00:00:00Z"}})
>>> sorted(map_tables(doc))[:3]
['attribution', 'back_flows', 'drivers']
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from journeymap.maps.models import JourneyMap, Rate
from journeymap.safety import csv_cell

Table = tuple[list[str], list[list[Any]]]


def _rate(prefix: str, r: Rate | None) -> dict[str, Any]:
    if r is None:
        return {
            f"{prefix}": None,
            f"{prefix}_low": None,
            f"{prefix}_high": None,
            f"{prefix}_k": None,
            f"{prefix}_n": None,
        }
    return {
        f"{prefix}": r.value,
        f"{prefix}_low": r.low,
        f"{prefix}_high": r.high,
        f"{prefix}_k": r.k,
        f"{prefix}_n": r.n,
    }


def _table(records: list[dict[str, Any]], columns: list[str] | None = None) -> Table:
    cols = columns or (list(records[0]) if records else [])
    return cols, [[r.get(c) for c in cols] for r in records]


def _stages(doc: JourneyMap) -> Table:
    recs = []
    for s in doc.stages:
        e = s.emotion
        recs.append(
            {
                "order": s.order,
                "stage": s.name,
                "customers": s.customers,
                **_rate("reach", s.reach),
                **_rate("to_next", s.conversion_to_next),
                **_rate("conversion", s.conversion),
                **_rate("drop_off", s.drop_off),
                **_rate("after_goal", s.after_goal),
                "median_time_s": s.median_time_s,
                "emotion": e.mean if e else None,
                "emotion_low": e.low if e else None,
                "emotion_high": e.high if e else None,
                "emotion_n": e.n if e else None,
            }
        )
    return _table(recs)


def _touchpoints(doc: JourneyMap) -> Table:
    recs = []
    for t in doc.touchpoints():
        f, e, li = t.figures, t.emotion, t.lift
        recs.append(
            {
                "order": t.order,
                "touchpoint": t.name,
                "stage": t.stage,
                "channel": t.channel,
                "owner": t.owner,
                "kind": t.kind,
                "in_blueprint": t.in_blueprint,
                "has_data": t.has_data,
                "events": f.events,
                "customers": f.customers,
                "journeys": f.journeys,
                "reach": f.share,
                **_rate("conversion", f.conversion),
                "exit_rate": f.exit_rate,
                "exits": f.exits,
                "repeat_rate": f.repeat_rate,
                "median_position": f.median_position,
                "median_time_to_conversion_s": f.median_time_to_conversion_s,
                "emotion": e.mean if e else None,
                "emotion_low": e.low if e else None,
                "emotion_high": e.high if e else None,
                "emotion_n": e.n if e else None,
                "friction": t.friction.score if t.friction else None,
                "friction_rank": t.friction.rank if t.friction else None,
                "lift": li.effect if li else None,
                "lift_low": li.low if li else None,
                "lift_high": li.high if li else None,
                "lift_q": li.q if li else None,
                "lift_significant": li.significant if li else None,
            }
        )
    return _table(recs)


def _kpis(doc: JourneyMap) -> Table:
    places = [("stage", s.name, s.kpis) for s in doc.stages]
    places += [("touchpoint", t.name, t.kpis) for t in doc.touchpoints()]
    recs = [
        {"level": level, "place": name, "kpi": k.name, **k.model_dump(exclude={"name"})}
        for level, name, kpis in places
        for k in kpis
    ]
    return _table(
        recs, ["level", "place", "kpi", "value", "low", "high", "n", "small_sample", "target", "meets_target", "mean"]
    )


def _quotes(doc: JourneyMap) -> Table:
    seen: set[tuple[str, str]] = set()
    recs = []
    places = [(f"touchpoint:{t.name}", t.quotes) for t in doc.touchpoints()]
    places += [(f"pain_point:{p.touchpoint}", p.evidence.quotes) for p in doc.pain_points]
    places += [(f"theme:{th.label}", th.quotes) for th in doc.themes]
    for where, quotes in places:
        for q in quotes:
            if (where, q.feedback_id) in seen:
                continue
            seen.add((where, q.feedback_id))
            recs.append(
                {
                    "where": where,
                    "feedback_id": q.feedback_id,
                    "touchpoint": q.touchpoint,
                    "theme": q.theme,
                    "sentiment": q.sentiment,
                    "text": q.text,
                }
            )
    return _table(recs, ["where", "feedback_id", "touchpoint", "theme", "sentiment", "text"])


def _attribution(doc: JourneyMap) -> Table:
    models = doc.attribution.models
    recs = []
    for r in doc.attribution.rows:
        rec: dict[str, Any] = {"touchpoint": r.touchpoint, "channel": r.channel}
        for m in models:
            rec[f"{m}_credit"] = r.credits.get(m)
            rec[f"{m}_share"] = r.shares.get(m)
        recs.append(rec)
    return _table(recs, ["touchpoint", "channel"] + [f"{m}_{x}" for m in models for x in ("credit", "share")])


def _personas(doc: JourneyMap) -> tuple[Table, Table]:
    cols, stages = [], []
    for p in doc.personas:
        cols.append(
            {
                "persona": p.name,
                "customers": p.customers,
                "share": p.share,
                **_rate("conversion", p.conversion),
                "emotion": p.emotion.value if p.emotion else None,
                "emotion_low": p.emotion.low if p.emotion else None,
                "emotion_high": p.emotion.high if p.emotion else None,
                "emotion_n": p.emotion.n if p.emotion else None,
                "top_pain_points": " | ".join(p.top_pain_points),
                "top_paths": " | ".join(p.top_paths),
            }
        )
        for s in p.stages:
            stages.append(
                {
                    "persona": p.name,
                    "stage": s.stage,
                    **_rate("reach", s.reach),
                    **_rate("to_next", s.conversion_to_next),
                    **_rate("after_goal", s.after_goal),
                    "emotion": s.emotion.value if s.emotion else None,
                    "emotion_n": s.emotion.n if s.emotion else None,
                }
            )
    return _table(cols), _table(stages)


def _dump(items: list[Any], exclude: set[str] | None = None) -> Table:
    return _table([i.model_dump(mode="json", exclude=exclude) for i in items])


def map_tables(doc: JourneyMap) -> dict[str, Table]:
    """Every table of the document: name -> (columns, rows). Empty tables keep their name."""
    personas, persona_stages = _personas(doc)
    dvo = doc.designed_vs_observed
    tables: dict[str, Table] = {
        "headlines": _dump(doc.summary.headlines),
        "stages": _stages(doc),
        "touchpoints": _touchpoints(doc),
        "kpis": _kpis(doc),
        "transitions": _dump(doc.flows.top_transitions),
        "sankey_links": _dump(doc.flows.links),
        "emotion_curve": _dump(doc.emotion_curve.stages + doc.emotion_curve.touchpoints),
        "pain_points": _table(
            [
                {
                    **p.model_dump(mode="json", exclude={"themes", "evidence"}),
                    "themes": " | ".join(t.theme for t in p.themes),
                }
                for p in doc.pain_points
            ]
        ),
        "opportunities": _table(
            [
                {
                    **o.model_dump(mode="json", exclude={"evidence"}),
                    "evidence": "; ".join(f"{k}={v}" for k, v in o.evidence.figures.items()),
                    "note": o.evidence.note,
                }
                for o in doc.opportunities
            ]
        ),
        "attribution": _attribution(doc),
        "drivers": _dump(doc.drivers),
        "themes": _table(
            [
                {
                    **t.model_dump(mode="json", exclude={"quotes", "touchpoints"}),
                    "touchpoints": " | ".join(t.touchpoints),
                }
                for t in doc.themes
            ]
        ),
        "quotes": _quotes(doc),
        "personas": personas,
        "persona_stages": persona_stages,
        "back_flows": _dump(dvo.back_flows),
        "skipped_stages": _table(
            [{**s.model_dump(mode="json"), "skipped": " | ".join(s.skipped)} for s in dvo.skipped_stages]
        ),
        "unmapped_touchpoints": _dump(dvo.unmapped_touchpoints),
        "quarantine": _dump(doc.data_quality.quarantine),
    }
    if doc.change is not None:
        tables["changes"] = _dump(doc.change.deltas)
    return tables


def write_csv(doc: JourneyMap, folder: str | Path) -> list[Path]:
    """Write one CSV file per table of :func:`map_tables` into ``folder``; returns the paths.

    Every cell goes through :func:`~journeymap.safety.csv_cell`: a text cell starting with
    ``= + - @``, tab or CR (a name such as ``=HYPERLINK(...)`` or ``-1`` from the user's files) gets a
    leading ``'`` so that a spreadsheet shows it instead of running it; numbers are written as they are.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (columns, rows) in map_tables(doc).items():
        path = folder / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(columns)
            w.writerows([[csv_cell(v) for v in row] for row in rows])
        paths.append(path)
    return paths
