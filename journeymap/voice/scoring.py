"""Score feedback text for sentiment and emotions, incrementally, into ``feedback_scores``.

:func:`score_feedback` finds the rows of ``feedback`` that have text and no score yet from
the chosen backend (an anti-join in the engine), brings only their ids and texts to Python
in batches (text models need them), and appends one row per feedback to
``feedback_scores``: ``feedback_id, sentiment (-1..1), sentiment_label``, one column per
emotion (0..1, always from the lexicon scorer), ``backend``, ``scored_at``, ``language`` (see
:mod:`journeymap.voice.language`), ``scored_by`` (the model that scored the row) and
``unscored_reason``. Each batch
is written as it is done, so an interrupted run keeps its progress and a re-run scores only
what is left. Scores of different backends live side by side; :func:`scores` reads one.

Languages: a backend that reads only some languages says so (``languages = ("en",)`` on the
lexicon, the MiniLM and the trained backends). A row in another language is never scored
by it: it goes to :func:`journeymap.voice.sentiment.backend_for_language` (the workspace's
ratings model, when it has one) or stays unscored, ``sentiment``, its label and the
emotions null and ``unscored_reason`` saying why ("language pt: no ratings model; the
English lexicon is not applied"). A text too short to tell (``und``) is read as the
workspace's main language (the most common determined one; the chosen backend when none
is). :func:`language_summary` counts rows per language and the unscored per reason.

Ratings: the default backend (``"lexicon"``) learns from the workspace's own ratings. Where at
least :data:`~journeymap.voice.sentiment.MIN_RATINGS` comments with text carry a rating, NPS
or CSAT, a :class:`~journeymap.voice.sentiment.RatingsSentiment` model (character and word
n-grams, any language) is trained on four in five of them plus the ``journeymap label``
corrections, and scores every comment, rated or not, in every language (``scored_by``
``ratings``); the fifth held out (``heldout`` true; chosen by feedback id, see
:func:`~journeymap.voice.sentiment.heldout`) measures it, and :func:`model_info` gives the
figures (kept in ``feedback_models``). With fewer ratings the lexicon scores. When the rated
comments or labels change, the next run that has comments to score scores every comment again,
so one model scores all of a workspace's comments. The other backends hand rows in a language
they do not read to the ratings model, when the workspace has one.

Examples
--------
>>> import ibis, tempfile
>>> from journeymap.workspace import Workspace
>>> ws = Workspace.init(tempfile.mkdtemp() + "/w")
>>> fb = ibis.memtable({"feedback_id": ["a", "b"], "ts": ["2024-01-01", "2024-01-02"],
...                     "text": ["Still waiting for my refund", "Lovely crew, thanks!"]})
>>> ws.con.insert("feedback", fb.cast({"ts": "timestamp"}))
>>> score_feedback(ws.con).scored
2
>>> score_feedback(ws.con).scored   # nothing new
0
>>> scores(ws.con).order_by("feedback_id").sentiment_label.to_list()
['negative', 'positive']
>>> ws.close()
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pyarrow as pa
from ibis.backends import BaseBackend

from journeymap import engine
from journeymap.errors import InputError
from journeymap.results import Result
from journeymap.voice.emotions import EMOTIONS, EmotionScorer
from journeymap.voice.language import UNDETERMINED, main_language
from journeymap.voice.language import detect as detect_languages
from journeymap.voice.sentiment import (
    BACKENDS,
    LABELS,
    MIN_RATINGS,
    LexiconSentiment,
    RatingsSentiment,
    SentimentBackend,
    backend_for_language,
    fit_ratings_model,
    get_backend,
    lexicon_labels,
    rating_classes,
    read_labels,
)

TABLE = "feedback_scores"
SCHEMA = ibis.schema(
    {
        "feedback_id": dt.string,
        "sentiment": dt.float64,
        "sentiment_label": dt.string,
        **{e: dt.float64 for e in EMOTIONS},
        "backend": dt.string,
        "scored_at": dt.timestamp,
        "language": dt.string,
        "scored_by": dt.string,
        "unscored_reason": dt.string,
        "heldout": dt.boolean,
    }
)
"""Columns of ``feedback_scores``: one row per feedback and sentiment backend.

``scored_by`` is the model that gave the sentiment (``ratings``, ``lexicon``, ``embedding``,
``trained``); ``heldout`` is true for the rated comments the ratings model did not learn from
(its held-out measure), false for the other rows it scored, null for the other models'."""

MODELS = "feedback_models"
MODELS_SCHEMA = ibis.schema(
    {
        "backend": dt.string,
        "model": dt.string,
        "trained_at": dt.timestamp,
        "n_rated": dt.int64,
        "n_train": dt.int64,
        "n_heldout": dt.int64,
        "n_labels": dt.int64,
        "heldout_macro_f1": dt.float64,
        "heldout_accuracy": dt.float64,
        "fingerprint": dt.string,
    }
)
"""Columns of ``feedback_models``: which model scores a backend's rows and how well it did."""


class FeedbackScoring(Result):
    """What one :func:`score_feedback` run did.

    ``with_text`` = ``scored`` + ``already_scored`` (distinct ids of rows with text); rows
    without text, or without a ``feedback_id``, are counted apart and never scored.
    """

    kind: ClassVar[str] = "feedback_scoring"
    backend: str
    scored: int
    already_scored: int
    with_text: int
    without_text: int
    without_id: int
    seconds: float
    languages: dict[str, int] = {}
    unscored: int = 0


def ensure_table(con: BaseBackend) -> None:
    """Create ``feedback_scores`` when it is missing; add the columns of a table made by an older version.

    Rows of an older table have no ``language``: :func:`score_feedback` scores them again.
    """
    if not engine.table_exists(con, TABLE):
        con.create_table(TABLE, schema=SCHEMA)
        return
    t = con.table(TABLE)
    missing = [c for c in SCHEMA.names if c not in t.columns]
    if missing:
        full = t.mutate(**{c: ibis.null(SCHEMA[c]) for c in missing}).select(*SCHEMA.names)
        con.create_table(f"{TABLE}_upgrade", full, overwrite=True)
        con.create_table(TABLE, con.table(f"{TABLE}_upgrade"), overwrite=True)
        con.drop_table(f"{TABLE}_upgrade")


def model_info(con: BaseBackend, backend: str = "lexicon") -> dict[str, Any] | None:
    """Which model scored ``backend``'s rows (as of the last run that scored any) and how well it did.

    A dict of :data:`MODELS_SCHEMA` but the fingerprint, plus ``min_ratings``: ``model`` is
    ``ratings`` or ``lexicon``; ``n_rated`` the rated comments with text, ``n_train`` and
    ``n_heldout`` how they were split (``n_train`` counts the labels too); ``heldout_macro_f1``
    and ``heldout_accuracy`` the ratings model's figures on the held-out ones. None before the
    first run of the default backend.
    """
    import pandas as pd

    if not engine.table_exists(con, MODELS):
        return None
    t = con.table(MODELS)
    df = engine.execute(t.filter(t.backend == backend).limit(1), con)
    if df.empty:
        return None
    out: dict[str, Any] = {}
    for k, v in df.iloc[0].to_dict().items():
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            out[k] = None
        elif k == "trained_at":
            out[k] = str(v)
        elif isinstance(v, np.integer | np.floating):
            out[k] = v.item()
        else:
            out[k] = v
    out.pop("fingerprint", None)
    out["min_ratings"] = MIN_RATINGS
    return out


def pending(con: BaseBackend, backend: str = "lexicon") -> bool:
    """Whether :func:`score_feedback` with ``backend`` would write to the warehouse.

    True when ``feedback_scores`` is missing or some feedback text has no score from ``backend``
    yet; the command line opens a workspace for writing only then (read-only otherwise).
    """
    if not engine.table_exists(con, TABLE):
        return True
    fb = con.table("feedback")
    done = con.table(TABLE)
    if "language" not in done.columns:
        return True
    done = done.filter(done.backend == backend, done.language.notnull()).select("feedback_id")
    todo = fb.filter(_has_text(fb), fb.feedback_id.notnull()).select("feedback_id").anti_join(done, "feedback_id")
    return bool(engine.execute(todo.limit(1).count(), con))


def _has_text(fb: ibis.Table) -> ibis.BooleanColumn:
    return fb.text.notnull() & (fb.text.strip().length() > 0)


def scores(con: BaseBackend, backend: str = "lexicon") -> ibis.Table:
    """The ``feedback_scores`` rows of one backend, as an Ibis table (empty when none yet)."""
    ensure_table(con)
    t = con.table(TABLE)
    return t.filter(t.backend == backend)


def score_feedback(
    con: BaseBackend,
    *,
    backend: str | SentimentBackend = "lexicon",
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
    workspace: Any = None,
    rescore: bool = False,
    ratings: bool = True,
) -> FeedbackScoring:
    """Score the feedback rows that have text and no score yet from ``backend``.

    Parameters
    ----------
    con : ibis backend
        The warehouse connection (``Workspace.con``).
    backend : str or SentimentBackend
        ``"lexicon"`` (default), ``"embedding"``, ``"trained"``, or a backend object.
    batch_size : int
        Texts scored and written per batch.
    progress : callable, optional
        Called as ``progress(done, total)`` after each batch.
    workspace : Workspace, optional
        Needed by the ``trained`` backend (labels) and for the embedding cache.
    rescore : bool
        Drop this backend's existing scores first and score everything again.
    ratings : bool
        Whether the workspace's ratings may train a model (see the module); False keeps the
        default backend on the lexicon and leaves other languages to ``backend_for_language``.

    Returns
    -------
    FeedbackScoring
    """
    started = time.perf_counter()
    if batch_size < 1:
        raise InputError(f"batch_size={batch_size!r} must be at least 1; pass a positive number.")
    if isinstance(backend, str) and backend not in BACKENDS:
        raise InputError(
            f"Sentiment backend {backend!r} is unknown (argument backend); use one of {', '.join(BACKENDS)}."
        )
    ensure_table(con)
    name = backend if isinstance(backend, str) else backend.name
    if rescore:
        _drop_backend(con, name)
    else:
        _drop_backend(con, name, only_without_language=True)
    fb = con.table("feedback")
    has_text = _has_text(fb)
    counts = engine.execute(
        fb.aggregate(
            with_text=fb.feedback_id.nunique(where=has_text),
            # fill_null: over no feedback a sum is NULL, which Spark's result brings back as NaN (NaN or 0 is NaN)
            without_text=(~has_text).sum().fill_null(0),
            without_id=(has_text & fb.feedback_id.isnull()).sum().fill_null(0),
        ),
        con,
    ).iloc[0]
    done = scores(con, name).select("feedback_id")
    todo_expr = (
        fb.filter(has_text, fb.feedback_id.notnull())
        .select("feedback_id", "text")
        .distinct(on="feedback_id", keep="first")
        .anti_join(done, "feedback_id")
        .order_by("feedback_id")
    )
    todo = engine.to_pyarrow(todo_expr, con)
    total = todo.num_rows
    if total:
        rated = _RatingsModel(con, workspace, ratings)
        model: SentimentBackend | None = None
        if backend == "lexicon":
            model = rated.get()
            fingerprint = rated.fingerprint
            if _stored_fingerprint(con, name) != fingerprint and engine.execute(scores(con, name).count(), con):
                # the model changed (first ratings model, more ratings, new labels): rescore all
                _drop_backend(con, name)
                todo = engine.to_pyarrow(todo_expr, con)
                total = todo.num_rows
            _store_model(con, name, model or LexiconSentiment(), fingerprint, rated.n_rated)
        langs = detect_languages(todo.column("text").to_pylist())
        before = _language_counts(con, name)
        main = main_language(before + Counter(langs))
        if model is None:
            model = get_backend(backend, workspace=workspace) if isinstance(backend, str) else backend
        router = _Router(model, workspace, main, fallback=rated.get)
        emotions = EmotionScorer()
        for start in range(0, total, batch_size):
            part = todo.slice(start, batch_size)
            _write_batch(con, part, router, emotions, name, langs[start : start + batch_size])
            if progress is not None:
                progress(min(start + batch_size, total), total)
    summary = language_summary(con, name)
    with_text = int(counts["with_text"] or 0)
    return FeedbackScoring(
        backend=name,
        scored=total,
        already_scored=with_text - total,
        with_text=with_text,
        without_text=int(counts["without_text"] or 0),
        without_id=int(counts["without_id"] or 0),
        seconds=round(time.perf_counter() - started, 3),
        languages=summary["languages"],
        unscored=summary["unscored"],
        meta={
            "table": TABLE,
            "batch_size": batch_size,
            "rescore": rescore,
            "unscored_reasons": summary["unscored_reasons"],
            **({"model": model_info(con, name)} if name == "lexicon" else {}),
        },
    )


class _RatingsModel:
    """The workspace's ratings model, trained on first use (None with too few ratings)."""

    def __init__(self, con: BaseBackend, workspace: Any, allowed: bool):
        self.con, self.workspace, self.allowed = con, workspace, allowed
        self.done = False
        self.model: RatingsSentiment | None = None
        self.fingerprint = "lexicon"
        self.n_rated: int | None = None

    def get(self) -> RatingsSentiment | None:
        if not self.done:
            self.done = True
            if self.allowed:
                self._train()
        return self.model

    def _train(self) -> None:
        import hashlib

        con = self.con
        fb = con.table("feedback")
        cols = [c for c in ("rating", "rating_scale", "nps", "csat") if c in fb.columns]
        scored = [c for c in cols if c != "rating_scale"]
        if not scored:
            self.n_rated = 0
            return
        rated = (
            fb.filter(_has_text(fb), fb.feedback_id.notnull(), ibis.or_(*[fb[c].notnull() for c in scored]))
            .select("feedback_id", "text", *cols)
            .distinct(on="feedback_id", keep="first")
        )
        self.n_rated = int(engine.execute(rated.count(), con))
        if self.n_rated < MIN_RATINGS:
            return
        df = engine.execute(rated.order_by("feedback_id"), con)
        df["cls"] = rating_classes(**{c: df[c].tolist() for c in cols})
        df = df[df["cls"].notna()]
        if len(df) < MIN_RATINGS or df["cls"].nunique() < 2:
            return
        lab = read_labels(self.workspace) if self.workspace is not None else None
        lab = lab[lab["label"].isin(LABELS)] if lab is not None else None
        lab_texts = lab["text"].tolist() if lab is not None else []
        lab_values = lab["label"].tolist() if lab is not None else []
        h = hashlib.md5(usedforsecurity=False)
        for part in (df["feedback_id"], df["text"], df["cls"], lab_texts, lab_values):
            h.update("\x1f".join(map(str, part)).encode("utf-8") + b"\x1e")
        self.model = fit_ratings_model(
            df["feedback_id"].tolist(),
            df["text"].tolist(),
            df["cls"].tolist(),
            labelled_texts=lab_texts,
            labelled=lab_values,
        )
        self.fingerprint = "ratings:" + h.hexdigest()


def _stored_fingerprint(con: BaseBackend, name: str) -> str | None:
    if not engine.table_exists(con, MODELS):
        return None
    t = con.table(MODELS)
    df = engine.execute(t.filter(t.backend == name).select("fingerprint").limit(1), con)
    return None if df.empty else df["fingerprint"].iloc[0]


def _store_model(con: BaseBackend, name: str, model: SentimentBackend, fingerprint: str, n_rated: int | None) -> None:
    """Record which model scores ``name``'s rows (one row per backend in ``feedback_models``)."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    row = {
        "backend": [name],
        "model": [model.name],
        "trained_at": [now],
        "n_rated": [n_rated],
        "n_train": [getattr(model, "n_train_", None)],
        "n_heldout": [getattr(model, "n_heldout_", None)],
        "n_labels": [getattr(model, "n_labels_", None)],
        "heldout_macro_f1": [getattr(model, "heldout_macro_f1_", None)],
        "heldout_accuracy": [getattr(model, "heldout_accuracy_", None)],
        "fingerprint": [fingerprint],
    }
    new = ibis.memtable(pa.table(row, schema=MODELS_SCHEMA.to_pyarrow()))
    if not engine.table_exists(con, MODELS):
        con.create_table(MODELS, schema=MODELS_SCHEMA)
    t = con.table(MODELS)
    keep = t.filter(t.backend != name).cast(MODELS_SCHEMA)
    con.create_table(f"{MODELS}_keep", keep.union(new.cast(MODELS_SCHEMA)), overwrite=True)
    con.create_table(MODELS, con.table(f"{MODELS}_keep"), overwrite=True)
    con.drop_table(f"{MODELS}_keep")


def _language_counts(con: BaseBackend, backend: str) -> Counter:
    t = scores(con, backend)
    t = t.filter(t.language.notnull())
    df = engine.execute(t.group_by("language").aggregate(n=t.count()), con)
    return Counter({str(r["language"]): int(r["n"]) for r in df.to_dict("records")})


def language_summary(con: BaseBackend, backend: str = "lexicon", feedback_ids: ibis.Table | None = None) -> dict:
    """Rows per language and unscored rows per reason among ``backend``'s scores.

    ``feedback_ids`` (a table with a ``feedback_id`` column) limits the count to those rows.
    Returns ``{"languages": {lang: n}, "unscored": n, "unscored_reasons": {reason: n}}``, each
    dict largest first (ties by name).
    """
    t = scores(con, backend)
    if feedback_ids is not None:
        t = t.semi_join(feedback_ids.select("feedback_id").distinct(), "feedback_id")
    df = engine.execute(t.group_by([t.language, t.unscored_reason]).aggregate(n=t.count()), con)
    langs: Counter = Counter()
    reasons: Counter = Counter()
    for r in df.to_dict("records"):
        lang = r["language"] if isinstance(r["language"], str) else "unknown"
        langs[lang] += int(r["n"])
        if isinstance(r["unscored_reason"], str):
            reasons[r["unscored_reason"]] += int(r["n"])

    def ranked(c: Counter) -> dict[str, int]:
        return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))

    return {"languages": ranked(langs), "unscored": sum(reasons.values()), "unscored_reasons": ranked(reasons)}


class _Router:
    """Which model scores a row of a language: the chosen backend when it reads the language, else
    :func:`~journeymap.voice.sentiment.backend_for_language` (the ratings model), else none (with the reason)."""

    def __init__(self, model, workspace: Any, main: str, fallback: Callable[[], Any] | None = None):
        self.model = model
        self.fallback = fallback
        self.workspace = workspace
        self.main = main
        self.memos: dict[str, _Memo] = {}
        self._routes: dict[str, tuple[Any, str | None]] = {}

    def route(self, language: str) -> tuple[Any, str | None]:
        """``(model, None)`` or ``(None, reason)`` for rows detected as ``language``."""
        found = self._routes.get(language)
        if found is None:
            found = self._routes[language] = self._decide(language)
        return found

    def _decide(self, language: str) -> tuple[Any, str | None]:
        lang = self.main if language == UNDETERMINED else language
        reads = getattr(self.model, "languages", None)
        if lang == UNDETERMINED or reads is None or lang in reads:
            return self.model, None
        other = (self.fallback() if self.fallback is not None else None) or backend_for_language(
            lang, workspace=self.workspace
        )
        if other is not None:
            return other, None
        what = (
            "the English lexicon"
            if self.model.name == "lexicon"
            else f"the {'/'.join(reads)} '{self.model.name}' backend"
        )
        said = (
            f"language {lang}"
            if language != UNDETERMINED
            else f"language und (too short to tell; read as {lang}, the workspace's main language)"
        )
        return None, f"{said}: no ratings model; {what} is not applied"

    def memo(self, model) -> _Memo:
        return self.memos.setdefault(model.name + f"@{id(model)}", _Memo())


class _Memo:
    """Scores of the texts already scored in this run, by text.

    Feedback repeats itself (form answers, canned replies, templates): each distinct text is
    scored once and its scores are copied to every row that has it. A text's scores depend on
    the text only, so the rows get the same values as when each is scored on its own.
    """

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.sentiment: list[np.ndarray] = []
        self.labels: list[str] = []
        self.emotions: list[np.ndarray] = []

    def add(self, texts: list[str], model, emotions: EmotionScorer, lexicon: bool) -> None:
        """Score the texts not seen yet (each distinct text once)."""
        new = [t for t in dict.fromkeys(texts) if t not in self.index]
        if not new:
            return
        if lexicon:
            f = model.features(new)
            s = np.ascontiguousarray(f[:, 0], dtype=np.float64)
            labs = lexicon_labels(f, neutral=model.neutral)
        elif isinstance(model, RatingsSentiment):
            s, labs = model.score_and_classify(new)
            s = np.asarray(s, dtype=np.float64)
        else:
            s = np.asarray(model.score(new), dtype=np.float64)
            labs = model.classify(new)
        emo = emotions.score(new, sentiment=s if lexicon else None)
        base = len(self.labels)
        self.index.update((t, base + i) for i, t in enumerate(new))
        self.sentiment.append(s)
        self.labels.extend(labs)
        self.emotions.append(emo)

    def rows(self, texts: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Sentiment, label and emotions of each text (all scored already)."""
        at = np.fromiter((self.index[t] for t in texts), dtype=np.int64, count=len(texts))
        s = np.concatenate(self.sentiment)[at]
        emo = np.concatenate(self.emotions)[at]
        return s, [self.labels[i] for i in at], emo


def _write_batch(con, part: pa.Table, router: _Router, emotions: EmotionScorer, name: str, langs: list[str]) -> None:
    texts = part.column("text").to_pylist()
    n = len(texts)
    s = np.full(n, np.nan)
    labs: list[str | None] = [None] * n
    emo = np.full((n, len(EMOTIONS)), np.nan)
    by: list[str | None] = [None] * n
    why: list[str | None] = [None] * n
    groups: dict[int, tuple[Any, list[int]]] = {}
    for i, lang in enumerate(langs):
        model, reason = router.route(lang)
        if model is None:
            why[i] = reason
        else:
            groups.setdefault(id(model), (model, []))[1].append(i)
    for model, rows in groups.values():
        memo = router.memo(model)
        sub = [texts[i] for i in rows]
        memo.add(sub, model, emotions, isinstance(model, LexiconSentiment))
        gs, glabs, gemo = memo.rows(sub)
        at = np.asarray(rows)
        s[at] = gs
        # the emotion lexicon is English: other languages get none
        english = np.asarray(
            [(router.main if langs[i] == UNDETERMINED else langs[i]) in ("en", UNDETERMINED) for i in rows]
        )
        emo[at[english]] = gemo[english]
        for j, i in enumerate(rows):
            labs[i] = glabs[j]
            by[i] = model.name
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    columns = {
        "feedback_id": part.column("feedback_id"),
        "sentiment": pa.array(s, pa.float64(), from_pandas=True),
        "sentiment_label": pa.array(labs, pa.string()),
        **{e: pa.array(emo[:, j], pa.float64(), from_pandas=True) for j, e in enumerate(EMOTIONS)},
        "backend": pa.array([name] * n, pa.string()),
        "scored_at": pa.array([now] * n, pa.timestamp("us")),
        "language": pa.array(langs, pa.string()),
        "scored_by": pa.array(by, pa.string()),
        "unscored_reason": pa.array(why, pa.string()),
        "heldout": _heldout_column(router, part.column("feedback_id").to_pylist(), by),
    }
    con.insert(TABLE, ibis.memtable(pa.table(columns)))


def _heldout_column(router: _Router, ids: list[str], by: list[str | None]) -> pa.Array:
    """True for the ratings model's held-out rated rows, false for its other rows, null otherwise."""
    rated = (
        router.model
        if isinstance(router.model, RatingsSentiment)
        else (router.fallback() if router.fallback is not None and "ratings" in by else None)
    )
    held = getattr(rated, "heldout_ids_", None)
    if held is None:
        return pa.nulls(len(ids), pa.bool_())
    return pa.array([(i in held) if b == "ratings" else None for i, b in zip(ids, by, strict=True)], pa.bool_())


def _drop_backend(con: BaseBackend, name: str, only_without_language: bool = False) -> None:
    t = con.table(TABLE)
    if only_without_language:
        stale = t.filter(t.backend == name, t.language.isnull())
        if not engine.execute(stale.limit(1).count(), con):
            return
        keep = t.filter((t.backend != name) | t.language.notnull())
    else:
        keep = t.filter(t.backend != name)
    con.create_table(f"{TABLE}_keep", keep, overwrite=True)
    con.create_table(TABLE, con.table(f"{TABLE}_keep"), overwrite=True)
    con.drop_table(f"{TABLE}_keep")
