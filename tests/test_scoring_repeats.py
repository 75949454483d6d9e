"""score_feedback on repeated texts: each distinct text is scored once, every row gets its scores."""

from __future__ import annotations

import ibis
import numpy as np
import pytest

from journeymap.voice.emotions import EMOTIONS, EmotionScorer
from journeymap.voice.scoring import score_feedback, scores
from journeymap.voice.sentiment import LexiconSentiment, labels

TEXTS = [
    "Still waiting for my refund, 3 weeks now",
    "Lovely crew, thanks so much!",
    "What time does boarding start?",
    "Lost my bag AGAIN. Worst airline.",
]


def test_repeated_texts_get_the_scores_of_the_text_scored_alone(ws):
    # 11 rows, 4 distinct texts, repeats inside a batch and across batches (batch_size=3)
    rows = [TEXTS[i] for i in (0, 1, 0, 2, 3, 1, 1, 0, 3, 2, 0)]
    ids = [f"f{i:02d}" for i in range(len(rows))]
    fb = ibis.memtable(
        {"feedback_id": ids, "ts": ["2024-01-01"] * len(rows), "text": rows, "kind": ["survey"] * len(rows)}
    ).cast({"ts": "timestamp"})
    ws.con.insert("feedback", fb)
    r = score_feedback(ws.con, batch_size=3)
    assert r.scored == len(rows)
    df = scores(ws.con).order_by("feedback_id").execute()
    assert df.feedback_id.tolist() == ids
    # each text scored on its own, one call per text
    lex, emo = LexiconSentiment(), EmotionScorer()
    alone = {t: (float(lex.score([t])[0]), emo.score([t])[0]) for t in TEXTS}
    assert df.sentiment.tolist() == pytest.approx([alone[t][0] for t in rows])
    assert df.sentiment_label.tolist() == labels([alone[t][0] for t in rows])
    assert df[list(EMOTIONS)].to_numpy() == pytest.approx(np.stack([alone[t][1] for t in rows]))
    # rows with the same text carry the same scores
    same = df.assign(text=rows).groupby("text").sentiment.nunique()
    assert (same == 1).all() and len(same) == len(TEXTS)
