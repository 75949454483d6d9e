"""Score feedback text for sentiment and emotions, incrementally, into ``feedback_scores``.

:func:`score_feedback` finds the rows of ``feedback`` that have text and no score yet from
the chosen backend (an anti-join in the engine), brings only their ids and texts to Python
in batches (text models need them), and appends one row per feedback to
``feedback_scores``: ``feedback_id, sentiment (-1..1), sentiment_label``, one column per
emotion (0..1, always from the lexicon scorer), ``backend`` and ``scored_at``. Each batch
is written as it is done, so an interrupted run keeps its progress and a re-run scores only
what is left. Scores of different backends live side by side; :func:`scores` reads one.

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
from journeymap.voice.sentiment import BACKENDS, SentimentBackend, get_backend, labels

TABLE = "feedback_scores"
SCHEMA = ibis.schema(
    {
        "feedback_id": dt.string,
        "sentiment": dt.float64,
        "sentiment_label": dt.string,
        **{e: dt.float64 for e in EMOTIONS},
        "backend": dt.string,
        "scored_at": dt.timestamp,
    }
)
"""Columns of ``feedback_scores``: one row per feedback and sentiment backend."""


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


def ensure_table(con: BaseBackend) -> None:
    """Create ``feedback_scores`` when it is missing."""
    if not engine.table_exists(con, TABLE):
        con.create_table(TABLE, schema=SCHEMA)


def pending(con: BaseBackend, backend: str = "lexicon") -> bool:
    """Whether :func:`score_feedback` with ``backend`` would write to the warehouse.

    True when ``feedback_scores`` is missing or some feedback text has no score from ``backend``
    yet; the command line opens a workspace for writing only then (read-only otherwise).
    """
    if not engine.table_exists(con, TABLE):
        return True
    fb = con.table("feedback")
    done = con.table(TABLE)
    done = done.filter(done.backend == backend).select("feedback_id")
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
    fb = con.table("feedback")
    has_text = _has_text(fb)
    counts = engine.execute(
        fb.aggregate(
            with_text=fb.feedback_id.nunique(where=has_text),
            without_text=(~has_text).sum(),
            without_id=(has_text & fb.feedback_id.isnull()).sum(),
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
        model = get_backend(backend, workspace=workspace) if isinstance(backend, str) else backend
        emotions = EmotionScorer()
        memo = _Memo()
        for start in range(0, total, batch_size):
            part = todo.slice(start, batch_size)
            _write_batch(con, part, model, emotions, name, memo)
            if progress is not None:
                progress(min(start + batch_size, total), total)
    with_text = int(counts["with_text"] or 0)
    return FeedbackScoring(
        backend=name,
        scored=total,
        already_scored=with_text - total,
        with_text=with_text,
        without_text=int(counts["without_text"] or 0),
        without_id=int(counts["without_id"] or 0),
        seconds=round(time.perf_counter() - started, 3),
        meta={"table": TABLE, "batch_size": batch_size, "rescore": rescore},
    )


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
        s = np.asarray(model.score(new), dtype=np.float64)
        labs = labels(s, neutral=model.neutral) if lexicon else model.classify(new)
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


def _write_batch(con, part: pa.Table, model, emotions: EmotionScorer, name: str, memo: _Memo | None = None) -> None:
    from journeymap.voice.sentiment import LexiconSentiment

    lexicon = isinstance(model, LexiconSentiment)
    texts = part.column("text").to_pylist()
    memo = memo or _Memo()
    memo.add(texts, model, emotions, lexicon)
    s, labs, emo = memo.rows(texts)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    columns = {
        "feedback_id": part.column("feedback_id"),
        "sentiment": pa.array(s, pa.float64()),
        "sentiment_label": pa.array(labs, pa.string()),
        **{e: pa.array(emo[:, j], pa.float64()) for j, e in enumerate(EMOTIONS)},
        "backend": pa.array([name] * len(texts), pa.string()),
        "scored_at": pa.array([now] * len(texts), pa.timestamp("us")),
    }
    con.insert(TABLE, ibis.memtable(pa.table(columns)))


def _drop_backend(con: BaseBackend, name: str) -> None:
    t = con.table(TABLE)
    keep = t.filter(t.backend != name)
    con.create_table(f"{TABLE}_keep", keep, overwrite=True)
    con.create_table(TABLE, con.table(f"{TABLE}_keep"), overwrite=True)
    con.drop_table(f"{TABLE}_keep")
