"""The Markdown summary of a map: executive summary, stages, pain points, opportunities, drivers,
personas, change and data quality, every figure with its interval and n.

Examples
--------
>>> from journeymap.maps import JourneyMap
>>> doc = JourneyMap.model_validate({"meta": {"workspace": "shop", "generated_at": "2026-01-01T00:00:00Z"}})
>>> render_markdown(doc).splitlines()[0]
'# Customer touchpoint map: shop'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO, Any

from journeymap.maps.models import JourneyMap
from journeymap.report import formatting as f
from journeymap.report import view
from journeymap.safety import md_text as md

# Every string from the user's files or blueprint (names, titles, quotes, labels, notes, sentences
# naming them) goes through ``md`` so that it shows as literal text; figures formatted here do not.


def _cell(v: Any) -> str:
    """Table cell text: a pipe not escaped already (by ``md``) and newlines would break the table."""
    return re.sub(r"(?<!\\)\|", r"\\|", str(v)).replace("\n", " ")


def _table(columns: list[str], rows: list[list[Any]]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return out + [""]


def _summary(doc: JourneyMap) -> list[str]:
    out = ["## Executive summary", ""]
    out += [f"- {md(s)}" for s in doc.summary.sentences] + [""]
    rows = []
    for h in doc.summary.headlines:
        ci = (
            f"{f.headline(h.low, h.unit)} to {f.headline(h.high, h.unit)}"
            if h.low is not None and h.high is not None
            else f.DASH
        )
        rows.append([md(h.label), f.headline(h.value, h.unit), ci, f.num(h.n)])
    return out + _table(["Headline", "Value", "95% CI", "n"], rows)


def _stages(doc: JourneyMap) -> list[str]:
    rows = [
        [
            md(s.name),
            f.rate(s.reach),
            f.rate(s.conversion_to_next),
            f.rate(s.conversion),
            f.rate(s.drop_off),
            f.rate(s.after_goal),
            f.emotion(s.emotion),
            "; ".join(md(f.kpi(k)) for k in s.kpis) or f.DASH,
            ", ".join(md(t.name) for lane in s.lanes for t in lane.touchpoints),
        ]
        for s in doc.stages
    ]
    return ["## Stages", ""] + _table(
        [
            "Stage",
            "Reach",
            "Go on to next stage",
            "Convert",
            view.outcome_words(doc)["drop_off"],
            "Reached after converting",
            "Emotion",
            "KPIs",
            "Touchpoints",
        ],
        rows,
    )


def _pain_points(doc: JourneyMap) -> list[str]:
    out = ["## Pain points (friction x reach, worst first)", ""]
    for p in doc.pain_points:
        out.append(
            f"{p.rank}. **{md(p.touchpoint)}** ({md(p.stage) or f.DASH}, owner {md(p.owner) or f.DASH}): "
            f"score {p.score:.3f} = friction {p.friction:.2f} x reach {f.pct(p.reach)}. {md(p.headline)}"
        )
        out += [f"   > {md(q.text)} ({md(q.feedback_id)})" for q in p.evidence.quotes[:3]]
    return out + ([""] if doc.pain_points else ["_none_", ""])


def _opportunities(doc: JourneyMap) -> list[str]:
    rows = [
        [md(o.title), md(o.owner) or f.DASH, md(o.where), f.num(o.priority, 1), md(o.evidence)]
        for o in view.opportunity_rows(doc)
    ]
    return ["## Opportunities", ""] + _table(["Suggestion", "Owner", "Where", "Priority", "Evidence"], rows)


def _drivers(doc: JourneyMap) -> list[str]:
    rows = [
        [
            md(f.feature(d.feature)),
            md(d.kind),
            f"{f.num(d.odds_ratio)} ({f.num(d.low)} to {f.num(d.high)})",
            f.num(d.n),
            f.qvalue(d.q),
            "yes" if d.significant else "no",
        ]
        for d in doc.drivers
    ]
    return ["## Drivers of conversion (odds ratios; association, not proof of cause)", ""] + _table(
        ["Feature", "Kind", "Odds ratio (95% CI)", "n", "q", "Significant"], rows
    )


def _attribution(doc: JourneyMap) -> list[str]:
    models = doc.attribution.models
    rows = [[md(r.touchpoint)] + [f.pct(r.shares.get(m)) for m in models] for r in doc.attribution.rows]
    return [f"## Attribution (share of {f.num(doc.attribution.conversions, 1)} conversions)", ""] + _table(
        ["Touchpoint", *models], rows
    )


def _themes(doc: JourneyMap) -> list[str]:
    out = ["## Voice of the customer", ""]
    for t in doc.themes:
        out.append(
            f"- **{md(t.label)}**: {f.num(t.n)} comments ({f.pct(t.share)}), sentiment {f.signed(t.sentiment)}, "
            f"at {', '.join(md(x) for x in t.touchpoints) or f.DASH}"
        )
        out += [f"  > {md(q.text)} ({md(q.feedback_id)})" for q in t.quotes[:2]]
    return out + ([""] if doc.themes else ["_none_", ""])


def _personas(doc: JourneyMap) -> list[str]:
    rows = [
        [
            md(p.name),
            f"{f.num(p.customers)} ({f.pct(p.share)})",
            f.rate(p.conversion),
            f.emotion(p.emotion),
            ", ".join(md(x) for x in p.top_pain_points) or f.DASH,
        ]
        for p in doc.personas
    ]
    return ["## Personas", ""] + _table(["Persona", "Customers", "Conversion", "Emotion", "Top pain points"], rows)


def _change(doc: JourneyMap) -> list[str]:
    if doc.change is None:
        return []
    rows = [
        [
            md(d.scope),
            md(d.name),
            md(d.metric),
            f.num(d.old, 3),
            f.num(d.new, 3),
            f.signed(d.delta, 3),
            f.DASH if d.p is None else f"{d.p:.2g}",
            "yes" if d.significant else "no",
        ]
        for d in doc.change.deltas[:30]
    ]
    return ["## Change vs the previous period", ""] + _table(
        ["Scope", "Name", "Figure", "Before", "Now", "Change", "p", "Significant"], rows
    )


def _quality(doc: JourneyMap) -> list[str]:
    dq, dvo = doc.data_quality, doc.designed_vs_observed
    out = [
        "## Designed vs observed",
        "",
        f"- Blueprint touchpoints without data: {', '.join(md(x) for x in dvo.touchpoints_without_data) or 'none'}",
        f"- In the data, not in the blueprint: {', '.join(md(u.name) for u in dvo.unmapped_touchpoints) or 'none'}",
        "- Back-flows: "
        + (", ".join(f"{md(b.source)} -> {md(b.target)} ({b.count})" for b in dvo.back_flows[:5]) or "none"),
        "",
        "## Data quality",
        "",
    ]
    out += [f"- {md(t)}: {f.num(n)} rows" for t, n in dq.rows.items()]
    out += [f"- quarantined {md(q.table)} ({md(q.reason)}): {f.num(q.count)}" for q in dq.quarantine] or [
        "- no rows quarantined"
    ]
    return out + [f"- {md(n)}" for n in dq.notes] + [""]


def render_markdown(doc: JourneyMap, path_or_file: str | Path | IO[str] | None = None) -> str:
    """The map as a Markdown summary; written to ``path_or_file`` when given, and returned."""
    m = doc.meta
    lines = [
        f"# Customer touchpoint map: {md(m.workspace)}",
        "",
        f"_{'Persona ' + md(m.persona) + '; ' if m.persona else ''}built {m.generated_at:%Y-%m-%d %H:%M} UTC by "
        f"journeymap {m.journeymap_version or '?'} on {m.engine or '?'}; schema v{doc.schema_version}._",
        "",
    ]
    for part in (
        _summary,
        _stages,
        _pain_points,
        _opportunities,
        _drivers,
        _attribution,
        _themes,
        _personas,
        _change,
        _quality,
    ):
        lines += part(doc)
    text = "\n".join(lines).rstrip() + "\n"
    if isinstance(path_or_file, (str, Path)):
        Path(path_or_file).parent.mkdir(parents=True, exist_ok=True)
        Path(path_or_file).write_text(text, encoding="utf-8")
    elif path_or_file is not None:
        path_or_file.write(text)
    return text
