"""The voice summary: one score per feedback item and its figures per group, and the quotes to show.

One place computes what the map's voice parts (emotion per touchpoint, stage, persona and overall; KPI
means; the quotes of a touchpoint) and ``journeymap voice summary`` print, so both say the same:

- :func:`scored_feedback`: feedback (linked or not) with its stored sentiment and emotion scores and
  ``_score``, one item score on -1..+1 (:func:`item_score`);
- :func:`feedback_figures`: per group, the number of scored items, the mean score and its standard
  deviation, the share of negative items (below :data:`NEGATIVE`), the number of texts, the KPI means
  and how many texts show each emotion (at least :data:`EMOTION_THRESHOLD`);
- :func:`voice_summary`: those figures as a table (the ``journeymap voice summary`` command);
- :func:`most_negative` and :func:`pick_quotes`: the quotes of a touchpoint.

The thresholds are voice's own, kept in :mod:`journeymap.stats`: :data:`NEGATIVE` (the lower end of the
sentiment labels' neutral band) and :data:`EMOTION_THRESHOLD` (:func:`journeymap.voice.emotions.dominant`'s). Nothing here writes to the warehouse:
:func:`stored_scores` reads the scores made by :func:`journeymap.voice.scoring.score_feedback`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

import ibis
import ibis.expr.types as ir

from journeymap import engine
from journeymap.ranking import RANK_DECIMALS
from journeymap.results import TableResult, TableRow
from journeymap.stats import EMOTION_THRESHOLD, NEGATIVE, Z95, normal_interval
from journeymap.voice.emotions import EMOTIONS

QUOTES_PER_TOUCHPOINT = 5
"""Quotes shown per touchpoint."""
UNASSIGNED = "unassigned"
"""``link_touchpoint`` of feedback linked to no touchpoint."""
METHOD = (
    "Each feedback item gets one score on -1..+1: the mean of its lexicon text sentiment and its "
    "ratings rescaled to -1..+1 (rating on 1..scale, NPS (x-5)/5, CSAT (x-3)/2, CES (x-4)/3). "
    "Means with 95% normal intervals."
)
"""How the item score and its means are made, in words (the map's ``emotion_curve.method``)."""


# -- the scores -----------------------------------------------------------------------------------
def stored_scores(con: Any, backend: str = "lexicon") -> ir.Table:
    """The ``feedback_scores`` rows of ``backend`` without ``backend`` and ``scored_at``, keyed ``s_id``.

    Reads only: without the table (nothing scored yet) an empty table of the same columns.
    """
    from journeymap.voice.scoring import SCHEMA, TABLE

    if engine.table_exists(con, TABLE) and all(c in con.table(TABLE).columns for c in SCHEMA.names):
        t = con.table(TABLE)
        t = t.filter(t.backend == backend)
    else:
        t = ibis.memtable(SCHEMA.to_pyarrow().empty_table())
    return t.drop("backend", "scored_at").rename(s_id="feedback_id")


def unscored_count(con: Any, backend: str = "lexicon") -> int:
    """Feedback texts (distinct ids) without a score from ``backend`` yet; reads only."""
    from journeymap.voice.scoring import _has_text

    if not engine.table_exists(con, "feedback"):
        return 0
    fb = con.table("feedback")
    done = stored_scores(con, backend)
    if "language" in done.columns:
        done = done.filter(done.language.notnull())
    todo = fb.filter(_has_text(fb), fb.feedback_id.notnull()).select("feedback_id").distinct()
    todo = todo.anti_join(done.select(feedback_id="s_id"), "feedback_id")
    return int(engine.execute(todo.count(), con) or 0)


def item_score(t: ir.Table) -> ir.FloatingValue:
    """One score per feedback item on -1..+1: the mean of the text sentiment and the rescaled ratings,
    each clamped to -1..+1 (a rating of 0 on a 1..5 scale, or a score from a hand-built table, cannot
    weigh more than the scale's end)."""
    rating, scale = t.rating.cast("float64"), t.rating_scale.cast("float64")
    parts = [
        t.sentiment.cast("float64"),
        ibis.ifelse(scale > 1, (rating - 1) / (scale - 1) * 2 - 1, ibis.null("float64")),
        (t.nps.cast("float64") - 5) / 5,
        (t.csat.cast("float64") - 3) / 2,
        (t.ces.cast("float64") - 4) / 3,
    ]
    parts = [p.clip(-1.0, 1.0) for p in parts]
    num = sum((p.fill_null(0) for p in parts), ibis.literal(0.0))
    den = sum((p.notnull().cast("int64") for p in parts), ibis.literal(0))
    return ibis.ifelse(den > 0, num / den.cast("float64"), ibis.null("float64"))


def scored_feedback(feedback: ir.Table, scores: ir.Table) -> ir.Table:
    """``feedback`` left-joined with ``scores`` (:func:`stored_scores`) and with ``_score`` (:func:`item_score`).

    Unscored items keep their ratings: their ``_score`` is the mean of their rescaled ratings.
    """
    t = feedback.left_join(scores, feedback.feedback_id == scores.s_id).drop("s_id")
    return t.mutate(_score=item_score(t))


def feedback_table(
    feedback: ir.Table,
    blueprint: Any,
    con: Any,
    *,
    customers: ir.Table | None = None,
    scores: ir.Table | None = None,
    materialize: Callable[[ir.Table], ir.Table] | None = None,
) -> ir.Table:
    """``feedback`` linked to touchpoints (``link_touchpoint``, ``link_stage``), with its customer's ``persona``
    (``other`` without one) and its stored scores (:func:`scored_feedback`): the table the voice summary reads.

    ``customers`` gives the personas (blueprint rules); ``materialize`` is passed to
    :func:`journeymap.voice.linking.link_feedback`; ``scores`` defaults to :func:`stored_scores`.
    """
    from journeymap.voice.linking import link_feedback

    linked = (
        link_feedback(feedback, blueprint, con=con, materialize=materialize)
        if blueprint.touchpoints
        else feedback.mutate(
            link_touchpoint=ibis.literal(UNASSIGNED),
            link_method=ibis.literal(UNASSIGNED),
            link_confidence=ibis.literal(0.0),
        )
    )
    stage_map = {t.name: t.stage for t in blueprint.touchpoints if t.stage}
    t = linked.mutate(
        link_stage=linked.link_touchpoint.substitute(stage_map, else_=ibis.null("string"))
        if stage_map
        else ibis.null("string")
    )
    if customers is not None and blueprint.personas:
        from journeymap.journeys import assign_personas

        pa = assign_personas(customers, blueprint).select(_pc="customer_id", persona="persona")
        t = t.left_join(pa, t.customer_id == pa._pc).drop("_pc")
        t = t.mutate(persona=t.persona.fill_null("other"))
    else:
        t = t.mutate(persona=ibis.literal("other"))
    return scored_feedback(t, stored_scores(con, "lexicon") if scores is None else scores)


# -- figures per group ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedbackFigures:
    """The voice figures of one group of feedback items."""

    n: int
    """Items with a score."""
    mean: float | None
    """Mean item score (-1..+1)."""
    sd: float | None
    """Sample standard deviation of the item scores."""
    negative_share: float | None
    """Share of scored items below :data:`NEGATIVE`."""
    texts: int
    """Items with a text sentiment."""
    kpi_means: Mapping[str, float | None]
    """Mean raw ``nps``, ``csat`` and ``ces`` of the group's responses."""
    emotion_counts: tuple[tuple[str, int], ...]
    """Per emotion (EMOTIONS order), the items whose score for it reaches :data:`EMOTION_THRESHOLD`."""

    def interval(self) -> tuple[float | None, float | None]:
        """The normal-approximation 95% interval of :attr:`mean` (None bounds with n < 2 or no sd)."""
        if self.mean is None:
            return None, None
        return normal_interval(self.mean, self.sd, self.n, Z95)

    def dominant(self, top: int = 3) -> list[tuple[str, int, float]]:
        """The most frequent emotions: ``(emotion, items, share of texts)``, most frequent first (ties: name)."""
        ranked = sorted(((k, e) for e, k in self.emotion_counts), key=lambda x: (-x[0], x[1]))
        return [(e, k, k / self.texts) for k, e in ranked[:top] if k > 0 and self.texts]


def feedback_figures(t: ir.Table, by: str | Sequence[str] | None, con: Any) -> dict[Any, FeedbackFigures]:
    """:class:`FeedbackFigures` of ``t`` (:func:`scored_feedback` output) per group of ``by`` in one query.

    Keys: the group's value (a tuple of values for several columns); ``None`` without ``by``.
    """
    cols = [by] if isinstance(by, str) else list(by or [])
    aggs = dict(
        n=t._score.count(),
        mean=t._score.mean(),
        sd=t._score.std(how="sample"),
        neg=(t._score < NEGATIVE).cast("float64").mean(),
        texts=t.sentiment.count(),
        nps_mean=t.nps.cast("float64").mean(),
        csat_mean=t.csat.cast("float64").mean(),
        ces_mean=t.ces.cast("float64").mean(),
        **{f"e_{e}": (t[e] >= EMOTION_THRESHOLD).cast("int64").sum() for e in EMOTIONS},
    )
    df = engine.execute(t.group_by(cols).aggregate(**aggs) if cols else t.aggregate(**aggs), con)
    out: dict[Any, FeedbackFigures] = {}
    for r in df.to_dict("records"):
        key = None if not cols else (r[cols[0]] if len(cols) == 1 else tuple(r[c] for c in cols))
        out[key] = FeedbackFigures(
            n=_count(r["n"]),
            mean=_f(r["mean"]),
            sd=_f(r["sd"]),
            negative_share=_f(r["neg"]),
            texts=_count(r["texts"]),
            kpi_means={k: _f(r[f"{k}_mean"]) for k in ("nps", "csat", "ces")},
            emotion_counts=tuple((e, _count(r[f"e_{e}"])) for e in EMOTIONS),
        )
    return out


@dataclass(frozen=True)
class SummaryRow(TableRow):
    """One group of :class:`VoiceSummary` (``group`` is ``all`` without ``by``; ``emotions`` in words)."""

    group: str | None
    n: int
    mean: float | None
    low: float | None
    high: float | None
    negative_share: float | None
    texts: int
    emotions: str


class VoiceSummary(TableResult):
    """``journeymap voice summary``: per group, the scored items, mean score with its 95% interval, the
    negative share and the most frequent emotions (the figures of the map's emotion)."""

    kind: ClassVar[str] = "voice_summary"
    Row: ClassVar[type[TableRow]] = SummaryRow


SUMMARY_COLUMNS = list(SummaryRow.columns())


def voice_summary(t: ir.Table, by: str | None, con: Any) -> VoiceSummary:
    """The voice summary of ``t`` (:func:`scored_feedback` output) per group of ``by`` (overall without)."""
    figures = feedback_figures(t, by, con)
    rows = []
    for key in sorted(figures, key=lambda k: (k is None, str(k))):
        f = figures[key]
        low, high = f.interval()
        emotions = ", ".join(f"{e} {share * 100:.0f}%" for e, _, share in f.dominant())
        rows.append([None if key is None else str(key), f.n, f.mean, low, high, f.negative_share, f.texts, emotions])
    if by is None:
        rows = [["all", *r[1:]] for r in rows]
    return VoiceSummary(
        columns=SUMMARY_COLUMNS,
        rows=rows,
        meta={"by": by, "method": METHOD, "negative_below": NEGATIVE, "emotion_threshold": EMOTION_THRESHOLD},
    )


# -- quotes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NegativeQuote:
    """A comment among the most negative of its touchpoint (redacted)."""

    feedback_id: str
    text: str
    sentiment: float | None
    touchpoint: str
    time: datetime | None
    source: str | None


def most_negative(
    t: ir.Table, con: Any, *, by_persona: bool, per: int = 3 * QUOTES_PER_TOUCHPOINT
) -> dict[str | None, dict[str, list[NegativeQuote]]]:
    """The ``per`` most negative comments per touchpoint (and ``persona`` with ``by_persona``; else key None),
    most negative first (ties: feedback id), in one windowed query; texts redacted."""
    from journeymap.voice.redact import redact

    t = t.filter(t.text.notnull() & (t.text.strip() != "") & (t.link_touchpoint != UNASSIGNED))
    keys = [t.persona, t.link_touchpoint] if by_persona else [t.link_touchpoint]
    w = ibis.window(group_by=keys, order_by=[t.sentiment.round(RANK_DECIMALS).asc(nulls_first=False), t.feedback_id])
    ranked = t.mutate(_r=ibis.row_number().over(w))
    cols = ["feedback_id", "text", "sentiment", "link_touchpoint", "ts", "kind", "_r"]
    df = engine.execute(
        ranked.filter(ranked._r <= per).select(*cols, _who=ranked.persona if by_persona else ibis.null("string")), con
    )
    df = df.sort_values(["_r", "feedback_id"], kind="stable")
    out: dict[str | None, dict[str, list[NegativeQuote]]] = {}
    for r in df.to_dict("records"):
        who = _s(r["_who"]) if by_persona else None
        out.setdefault(who, {}).setdefault(r["link_touchpoint"], []).append(
            NegativeQuote(
                feedback_id=str(r["feedback_id"]),
                text=redact(r["text"]) or "",
                sentiment=_f(r["sentiment"]),
                touchpoint=r["link_touchpoint"],
                time=_ts(r["ts"]),
                source=_s(r.get("kind")),
            )
        )
    return out


class QuoteLike(Protocol):
    """What :func:`pick_quotes` reads of a quote."""

    feedback_id: str
    text: str


def pick_quotes(
    theme_quotes: Mapping[str, Sequence[Any]],
    negative: Mapping[str, Sequence[Any]],
    theme_order: Mapping[str, Sequence[str]],
    theme_of: Callable[[Any], str | None],
    per: int = QUOTES_PER_TOUCHPOINT,
) -> dict[str, list[Any]]:
    """Up to ``per`` quotes per touchpoint: one of each of its top themes first (``theme_order``), then its most
    negative comments; no feedback id or wording twice."""
    out: dict[str, list[Any]] = {}
    for tp in set(negative) | set(theme_quotes):
        picked: list[Any] = []
        seen: set[str] = set()  # feedback ids and texts already picked (no repeated wording)
        by_theme: dict[str, list[Any]] = {}
        for q in theme_quotes.get(tp, []):
            by_theme.setdefault(theme_of(q) or "", []).append(q)
        for name in theme_order.get(tp, []):
            for q in by_theme.get(name, [])[:1]:
                if q.feedback_id not in seen and _norm(q.text) not in seen:
                    picked.append(q)
                    seen.update((q.feedback_id, _norm(q.text)))
        for q in negative.get(tp, []):
            if len(picked) >= per:
                break
            if q.feedback_id not in seen and _norm(q.text) not in seen:
                picked.append(q)
                seen.update((q.feedback_id, _norm(q.text)))
        out[tp] = picked[:per]
    return out


# -- helpers --------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _f(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v


def _count(x: Any) -> int:
    """A count from the engine: 0 for None or NaN (a sum over no rows, or over nulls, on some engines)."""
    return int(_f(x) or 0)


def _s(x: Any) -> str | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return str(x)


def _ts(x: Any) -> datetime | None:
    if x is None:
        return None
    try:
        import pandas as pd

        if pd.isna(x):
            return None
        return pd.Timestamp(x).to_pydatetime()
    except (TypeError, ValueError):
        return None
