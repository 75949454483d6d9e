"""score_feedback: incremental, batched scoring of the feedback table into feedback_scores."""

from __future__ import annotations

import ibis
import numpy as np
import pytest

from journeymap.errors import InputError
from journeymap.results import Result
from journeymap.voice.emotions import EMOTIONS, EmotionScorer
from journeymap.voice.scoring import FeedbackScoring, score_feedback, scores
from journeymap.voice.sentiment import LexiconSentiment, labels

TEXTS = [
    "Still waiting for my refund, 3 weeks now",
    "Lovely crew, thanks so much!",
    "What time does boarding start?",
    "Lost my bag AGAIN. Worst airline.",
    "I am worried I'll miss my connection",
]


def _insert(ws, ids, texts):
    n = len(ids)
    fb = ibis.memtable(
        {
            "feedback_id": ids,
            "ts": [f"2024-01-{i % 28 + 1:02d}" for i in range(n)],
            "text": texts,
            "kind": ["social"] * n,
        }
    ).cast({"ts": "timestamp", "feedback_id": "string", "text": "string"})
    ws.con.insert("feedback", fb)


def test_scores_new_rows_once_and_matches_the_scorers(ws):
    ids = [f"f{i}" for i in range(len(TEXTS))]
    _insert(ws, ids + ["empty", "none", None], TEXTS + ["  ", None, "no id here"])
    seen = []
    r = score_feedback(ws.con, batch_size=2, progress=lambda d, t: seen.append((d, t)))
    assert (r.scored, r.already_scored, r.with_text, r.without_text, r.without_id) == (
        5,
        0,
        5,
        2,
        1,
    )
    assert seen == [(2, 5), (4, 5), (5, 5)]
    df = scores(ws.con).order_by("feedback_id").execute()
    assert df.feedback_id.tolist() == ids
    expected = LexiconSentiment().score(TEXTS)
    assert df.sentiment.to_numpy() == pytest.approx(expected)
    assert df.sentiment_label.tolist() == labels(expected)
    assert df[list(EMOTIONS)].to_numpy() == pytest.approx(EmotionScorer().score(TEXTS))
    assert set(df.backend) == {"lexicon"} and df.scored_at.notna().all()
    # incremental: nothing new, then one new row
    again = score_feedback(ws.con)
    assert (again.scored, again.already_scored) == (0, 5)
    _insert(ws, ["f9"], ["Great job getting us home safely"])
    third = score_feedback(ws.con)
    assert (third.scored, third.already_scored) == (1, 5)
    assert scores(ws.con).count().execute() == 6


def test_rescore_and_result_round_trip(ws):
    _insert(ws, ["a", "b"], TEXTS[:2])
    score_feedback(ws.con)
    r = score_feedback(ws.con, rescore=True)
    assert r.scored == 2 and scores(ws.con).count().execute() == 2
    assert isinstance(r, FeedbackScoring) and Result.from_json(r.to_json()) == r


def test_duplicate_ids_are_scored_once(ws):
    _insert(ws, ["a", "a", "b"], ["bad", "bad", "good"])
    r = score_feedback(ws.con)
    assert (r.scored, r.already_scored, r.with_text) == (2, 0, 2)


def test_custom_backend_object_and_errors(ws):
    class Always:
        name = "always"

        def score(self, texts):
            return np.full(len(texts), 0.5)

        def classify(self, texts):
            return ["positive"] * len(texts)

    _insert(ws, ["a"], ["whatever"])
    assert score_feedback(ws.con, backend=Always()).scored == 1
    assert scores(ws.con, "always").sentiment_label.execute().tolist() == ["positive"]
    assert scores(ws.con).count().execute() == 0  # lexicon scores kept apart
    with pytest.raises(InputError, match="'bert'"):
        score_feedback(ws.con, backend="bert")
    with pytest.raises(InputError, match="batch_size=0"):
        score_feedback(ws.con, batch_size=0)


@pytest.mark.slow
def test_score_feedback_on_each_engine(con):
    """The same incremental scoring on DuckDB and Spark (tables made and dropped here)."""
    from journeymap import schema

    for name in ("feedback", "feedback_scores"):
        if name in con.list_tables():
            con.drop_table(name)
    con.create_table("feedback", schema=schema.FEEDBACK)
    try:
        fb = ibis.memtable(
            {
                "feedback_id": ["a", "b", "b", "c"],
                "ts": ["2024-01-01"] * 4,
                "text": [TEXTS[0], TEXTS[1], TEXTS[1], None],
            }
        ).cast({"ts": "timestamp", "text": "string"})
        con.insert("feedback", fb)
        r = score_feedback(con)
        assert (r.scored, r.already_scored, r.with_text, r.without_text) == (2, 0, 2, 1)
        assert score_feedback(con).scored == 0
        df = scores(con).order_by("feedback_id").execute()
        assert df.feedback_id.tolist() == ["a", "b"]
        assert df.sentiment.to_numpy() == pytest.approx(LexiconSentiment().score(TEXTS[:2]))
        assert score_feedback(con, rescore=True).scored == 2
        assert scores(con).count().execute() == 2
    finally:
        for name in ("feedback", "feedback_scores"):
            if name in con.list_tables():
                con.drop_table(name)
