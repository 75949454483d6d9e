"""Typed results of the voice-of-the-customer analyses.

Every figure carries what it stands on: the number of responses behind it (``n``), an
interval where one is meaningful, and for themes the ids of the comments and quotes behind
them, so a reader can go from a number to the words.

Examples
--------
>>> r = KpiTable(columns=["touchpoint", "metric", "n", "value"], rows=[["Checkout", "nps", 40, 12.5]])
>>> Result.from_json(r.to_json()) == r
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from journeymap.results import Result, TableResult, TableRow


@dataclass(frozen=True)
class KpiRow(TableRow):
    """One group and metric of :class:`KpiTable` (the group column(s) in ``breakdown``)."""

    metric: str
    n: int
    value: float
    low: float
    high: float
    too_small: bool
    promoters: int | None
    passives: int | None
    detractors: int | None
    satisfied: int | None


@dataclass(frozen=True)
class SentimentRow(TableRow):
    """One group of :class:`SentimentTable`: mean score and % of each label."""

    n: int
    sentiment: float | None
    negative_pct: float | None
    neutral_pct: float | None
    positive_pct: float | None
    mixed_pct: float | None
    unscored: int


@dataclass(frozen=True)
class EmotionRow(TableRow):
    """One group of :class:`EmotionTable`: mean score (0..1) of each emotion (``voice.emotions.EMOTIONS``)."""

    n: int
    delight: float | None
    trust: float | None
    frustration: float | None
    confusion: float | None
    anxiety: float | None
    disappointment: float | None


@dataclass(frozen=True)
class LinkRow(TableRow):
    """One touchpoint and linking method of :class:`LinkSummary` (touchpoint None: not linked)."""

    touchpoint: str | None
    method: str
    n: int
    mean_confidence: float | None


@dataclass(frozen=True)
class ThemeImpactRow(TableRow):
    """One theme and score of :class:`ThemeImpact`."""

    theme: str
    metric: str
    n_theme: int
    n_all: int
    score_all: float | None
    score_without: float | None
    impact: float | None


@dataclass(frozen=True)
class KeyDriverRow(TableRow):
    """One rating of :class:`KeyDrivers` (``shapley`` None beyond the ratings Shapley is computed for)."""

    driver: str
    shapley: float | None
    shapley_pct: float | None
    relative_weight: float
    correlation: float
    mean: float
    n: int
    rank: int


class KpiTable(TableResult):
    """NPS, CSAT and CES per group: one row per group and metric (long format).

    Columns: the group column(s), ``metric`` (nps, csat, ces), ``n`` (responses with that
    score), ``value`` (NPS in -100..100, CSAT in % of 4-5, CES mean on 1-7), ``low`` and
    ``high`` (the interval), ``too_small`` (n below ``meta["min_n"]``) and the counts the
    value is computed from (``promoters``, ``passives``, ``detractors`` for NPS; ``satisfied``
    for CSAT).
    """

    kind: ClassVar[str] = "voice_kpis"
    Row: ClassVar[type[TableRow]] = KpiRow


class SentimentTable(TableResult):
    """Sentiment per group: n, mean score, share of each label."""

    kind: ClassVar[str] = "voice_sentiment"
    Row: ClassVar[type[TableRow]] = SentimentRow


class EmotionTable(TableResult):
    """Mean emotion scores per group, with n."""

    kind: ClassVar[str] = "voice_emotions"
    Row: ClassVar[type[TableRow]] = EmotionRow


class LinkSummary(TableResult):
    """How feedback was linked to touchpoints: rows per touchpoint and method, with n and mean confidence."""

    kind: ClassVar[str] = "voice_links"
    Row: ClassVar[type[TableRow]] = LinkRow


class Quote(BaseModel):
    """One redacted comment and the id of the feedback row it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    feedback_id: str
    text: str
    sentiment: float | None = None
    touchpoint: str | None = None


class Theme(BaseModel):
    """A group of similar comments.

    ``name`` is what people call it (a blueprint rule's name, else ``label``); ``label`` is
    made of the theme's key phrases; ``origin`` says where it came from: ``discovered``
    (clustering), ``pinned`` (a blueprint rule's keywords), ``renamed`` or ``merged``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    label: str
    origin: str = "discovered"
    key_phrases: list[str] = Field(default_factory=list)
    size: int = 0
    share: float = 0.0
    sentiment: float | None = None
    touchpoints: dict[str, int] = Field(default_factory=dict)
    trend: dict[str, int] = Field(default_factory=dict)
    quotes: list[Quote] = Field(default_factory=list)
    feedback_ids: list[str] = Field(default_factory=list)


class ThemeSet(Result):
    """Themes found in a set of comments (see :func:`journeymap.voice.themes.find_themes`)."""

    kind: ClassVar[str] = "voice_themes"
    themes: list[Theme]
    n_comments: int
    unthemed: int = 0

    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        cols = ["theme", "label", "origin", "size", "share", "sentiment", "top_touchpoint", "quote_ids"]
        rows = []
        for t in self.themes:
            top = min(t.touchpoints.items(), key=lambda kv: (-kv[1], kv[0]))[0] if t.touchpoints else None
            rows.append(
                [
                    t.name,
                    t.label,
                    t.origin,
                    t.size,
                    round(t.share, 4),
                    None if t.sentiment is None else round(t.sentiment, 3),
                    top,
                    " ".join(q.feedback_id for q in t.quotes),
                ]
            )
        qcols = ["theme", "feedback_id", "sentiment", "touchpoint", "text"]
        qrows = [[t.name, q.feedback_id, q.sentiment, q.touchpoint, q.text] for t in self.themes for q in t.quotes]
        return {"themes": (cols, rows), "quotes": (qcols, qrows)}

    def theme(self, name: str) -> Theme | None:
        """The theme called ``name`` (or whose label is ``name``), or None."""
        return next((t for t in self.themes if name in (t.name, t.label)), None)

    def assignments(self) -> dict[str, str]:
        """``feedback_id -> theme name`` for every themed comment."""
        return {fid: t.name for t in self.themes for fid in t.feedback_ids}


class ThemeImpact(TableResult):
    """Per theme and score: the score overall, without the theme's responses, and the impact.

    ``impact = score_all - score_without``: a theme that pulls the score down has negative
    impact (the Thematic convention). ``n_theme`` responses of the theme have that score.
    """

    kind: ClassVar[str] = "voice_theme_impact"
    Row: ClassVar[type[TableRow]] = ThemeImpactRow


class KeyDrivers(TableResult):
    """Relative importance of each rating for an overall score.

    Columns: ``driver``, ``shapley`` (LMG share of R^2), ``shapley_pct`` (of R^2),
    ``relative_weight`` (Johnson), ``correlation`` (with the target), ``mean`` (of the
    rating), ``n``, ``rank`` (by ``shapley``). ``meta["r2"]`` is the full model's R^2.
    """

    kind: ClassVar[str] = "voice_key_drivers"
    Row: ClassVar[type[TableRow]] = KeyDriverRow
