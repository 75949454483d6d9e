"""The voice section: KPIs, emotion, themes and quotes of the map, from the voice figures of the inputs.

Every figure is :mod:`journeymap.voice.summary`'s (the same as ``journeymap voice summary`` prints); this
module only turns them into the document's models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from journeymap.maps.inputs import ALL, Key, MapInputs, Rows
from journeymap.maps.models import KPI, Emotion, EmotionShare, Estimate, Quote, Theme, ThemeRef
from journeymap.maps.sections._memo import memo
from journeymap.maps.stats import mean_interval
from journeymap.voice.summary import METHOD, UNASSIGNED, FeedbackFigures, NegativeQuote, pick_quotes

__all__ = [
    "METHOD",
    "VoiceView",
    "emotion",
    "kpi",
    "persona_quotes",
    "persona_views",
    "quotes",
    "themes",
    "themes_at",
    "view",
]


def emotion(f: FeedbackFigures) -> Emotion | None:
    """The document's emotion of a group's figures (None without scored items)."""
    if f.n == 0:
        return None
    est = mean_interval(f.mean, f.sd, f.n)
    return Emotion(
        mean=est.value,
        low=est.low,
        high=est.high,
        n=f.n,
        negative_share=f.negative_share,
        dominant=[EmotionShare(emotion=e, share=share, n=k) for e, k, share in f.dominant()],
    )


def estimate(f: FeedbackFigures | None) -> Estimate | None:
    """A mean emotion with its interval (persona figures)."""
    return None if f is None else mean_interval(f.mean, f.sd, f.n)


def kpi(r: Mapping[str, Any], targets: Any, f: FeedbackFigures | None) -> KPI:
    """The document's KPI of a :func:`journeymap.voice.kpis.kpis` row; its mean from the group's figures."""
    name = r["metric"]
    target = getattr(targets, name, None)
    mean = f.kpi_means.get(name) if f is not None else None
    value = _f(r["value"])
    meets = None
    n = int(r["n"] or 0)
    if target is not None and value is not None:
        if name == "csat" and target <= 5:
            meets = None if mean is None else mean >= target
        else:
            meets = value >= target
    return KPI(
        name=name,
        value=value,
        low=_f(r["low"]),
        high=_f(r["high"]),
        n=n,
        small_sample=bool(r["too_small"]),
        target=target,
        meets_target=meets,
        mean=mean,
    )


@dataclass(frozen=True)
class VoiceView:
    """KPIs, emotion and themes per ``(level, name)`` of one scope of the feedback (all of it, or a persona's)."""

    kpis: Mapping[Key, list[KPI]] = field(default_factory=dict)
    emotions: Mapping[Key, Emotion] = field(default_factory=dict)
    themes: Mapping[str, list[ThemeRef]] = field(default_factory=dict)

    def kpis_at(self, level: str | None, name: str | None) -> list[KPI]:
        return list(self.kpis.get((level, name), []))

    def emotion_at(self, level: str | None, name: str | None) -> Emotion | None:
        return self.emotions.get((level, name))

    def themes_at(self, tp: str) -> list[ThemeRef]:
        return list(self.themes.get(tp, []))


def _view(
    figures: Mapping[Key, FeedbackFigures],
    kpi_rows: Mapping[Key, Rows],
    targets: Any,
    theme_refs: Mapping[str, list[ThemeRef]],
) -> VoiceView:
    emotions = {k: e for k, f in figures.items() if (e := emotion(f)) is not None}
    kpis = {k: [kpi(r, targets, figures.get(k)) for r in rows] for k, rows in kpi_rows.items()}
    return VoiceView(kpis=kpis, emotions=emotions, themes=theme_refs)


@memo
def view(inputs: MapInputs) -> VoiceView:
    """The voice of the whole map."""
    return _view(inputs.voice.figures, inputs.voice.kpis, inputs.blueprint.targets, themes_at(inputs))


@memo
def persona_views(inputs: MapInputs) -> dict[str, VoiceView]:
    """The voice of each persona (no themes: themes are of the whole map)."""
    v = inputs.voice
    return {
        who: _view(v.persona_levels.get(who, {}), v.persona_kpis.get(who, {}), inputs.blueprint.targets, {})
        for who in set(v.persona_levels) | set(v.persona_kpis)
    }


def persona_emotion(inputs: MapInputs, persona: str, stage: str | None) -> Estimate | None:
    """Mean emotion of a persona's feedback at ``stage`` (``None``: over all its feedback)."""
    return estimate(inputs.voice.persona_figures.get((persona, ALL if stage is None else stage)))


# -- themes ----------------------------------------------------------------------------------------
@memo
def _themes(inputs: MapInputs) -> tuple[list[Theme], dict[str, list[ThemeRef]], dict[str, list[Quote]]]:
    """The themes of the map, the themes of each touchpoint and, per touchpoint, the theme quotes linked to it."""
    ts = inputs.voice.themes
    if ts is None:
        return [], {}, {}
    docs = []
    refs: dict[str, list[ThemeRef]] = {}
    quotes_at: dict[str, list[Quote]] = {}
    for i, th in enumerate(ts.themes):
        tps = sorted(th.touchpoints.items(), key=lambda kv: (-kv[1], kv[0]))
        qs = [
            Quote(feedback_id=q.feedback_id, text=q.text, sentiment=q.sentiment, touchpoint=q.touchpoint, theme=th.name)
            for q in th.quotes
        ]
        docs.append(
            Theme(
                theme_id=i + 1,
                label=th.name,
                n=th.size,
                share=th.share,
                sentiment=th.sentiment,
                touchpoints=[k for k, _ in tps if k != UNASSIGNED][:5],
                quotes=qs[:5],
            )
        )
        for tp, n in tps:
            if tp == UNASSIGNED:
                continue
            f = inputs.voice.figures.get(("touchpoint", tp))
            total = f.texts if f is not None else 0
            refs.setdefault(tp, []).append(
                ThemeRef(
                    theme=th.name,
                    theme_id=i + 1,
                    n=int(n),
                    share=(n / total) if total else None,
                    sentiment=th.sentiment,
                )
            )
            quotes_at.setdefault(tp, []).extend(q for q in qs if q.touchpoint == tp)
    refs = {tp: sorted(r, key=lambda x: (-x.n, x.theme))[:5] for tp, r in refs.items()}
    return docs, refs, quotes_at


def themes(inputs: MapInputs) -> list[Theme]:
    """The document's ``themes``."""
    return _themes(inputs)[0]


def themes_at(inputs: MapInputs) -> dict[str, list[ThemeRef]]:
    """The top themes of each touchpoint."""
    return _themes(inputs)[1]


# -- quotes ----------------------------------------------------------------------------------------
def _quote(q: Quote | NegativeQuote) -> Quote:
    if isinstance(q, Quote):
        return q
    return Quote(
        feedback_id=q.feedback_id,
        text=q.text,
        sentiment=q.sentiment,
        touchpoint=q.touchpoint,
        time=q.time,
        source=q.source,
    )


def _picked(
    theme_quotes: Mapping[str, list[Quote]],
    negative: Mapping[str, tuple[NegativeQuote, ...]],
    order: Mapping[str, list[ThemeRef]],
) -> dict[str, list[Quote]]:
    chosen = pick_quotes(
        theme_quotes,
        negative,
        {tp: [r.theme for r in refs] for tp, refs in order.items()},
        theme_of=lambda q: getattr(q, "theme", None),
    )
    return {tp: [_quote(q) for q in qs] for tp, qs in chosen.items()}


@memo
def quotes(inputs: MapInputs) -> dict[str, list[Quote]]:
    """3-5 quotes per touchpoint: one from each of its top themes first, then its most negative comments."""
    if not inputs.voice.n_feedback:
        return {}
    _, refs, theme_quotes = _themes(inputs)
    return _picked(theme_quotes, inputs.voice.negative_quotes, refs)


@memo
def persona_quotes(inputs: MapInputs) -> dict[str, dict[str, list[Quote]]]:
    """Per persona, the most negative comments of each touchpoint (of its customers)."""
    if not inputs.voice.n_feedback:
        return {}
    return {who: _picked({}, negative, {}) for who, negative in inputs.voice.persona_negative_quotes.items()}


def _f(x: Any) -> float | None:
    from journeymap.voice.summary import _f as f

    return f(x)
