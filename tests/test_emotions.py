"""Emotions per text: each emotion's cues, negation, ranges, and checks against the airline labels."""

from __future__ import annotations

import numpy as np
import pytest

from journeymap.voice.emotions import EMOTIONS, EmotionScorer, dominant, score_emotions


@pytest.fixture(scope="module")
def scorer():
    return EmotionScorer()


@pytest.mark.parametrize(
    ("text", "emotion"),
    [
        ("Wow, the crew went above and beyond, absolutely amazing! 😍", "delight"),
        ("Always reliable and on time, you never let me down", "trust"),
        ("Still on hold after 2 hours!! Nobody answers. Ridiculous", "frustration"),
        (
            "I don't understand, how do I change my seat? The app says something different",
            "confusion",
        ),
        ("I'm so worried I will miss my connection, it's a tight connection", "anxiety"),
        ("Really disappointed, expected better from you", "disappointment"),
    ],
)
def test_each_emotion_wins_on_its_own_cues(scorer, text, emotion):
    row = scorer.score([text])[0]
    assert dominant(row) == emotion, dict(zip(EMOTIONS, row.round(2), strict=True))


def test_negated_delight_counts_as_disappointment(scorer):
    happy, not_happy = scorer.score(["I am happy with the flight", "I am not happy with the flight"])
    d, dis = EMOTIONS.index("delight"), EMOTIONS.index("disappointment")
    assert happy[d] > 0.4 and not_happy[d] == 0.0
    assert not_happy[dis] > happy[dis]


def test_scores_are_bounded_and_saturate(scorer):
    texts = ["", None, "frustrated " * 50, "ok", "🤬🤬🤬 ugh!!!"]
    m = scorer.score(texts)
    assert m.shape == (len(texts), len(EMOTIONS))
    assert np.all((m >= 0) & (m <= 1))
    assert np.all(m[0] == 0) and np.all(m[1] == 0) and np.all(m[3] == 0)
    f = EMOTIONS.index("frustration")
    # one cue of weight w scores 1 - exp(-w): "frustrated" has weight 1.3
    assert scorer.score(["frustrated"])[0, f] == pytest.approx(1 - np.exp(-1.3))
    assert m[2, f] > 0.99


def test_score_emotions_dict_and_dominant():
    d = score_emotions(["help, will I make my connection?"])
    assert set(d) == set(EMOTIONS) and d["anxiety"][0] > 0.5
    assert dominant([0.0] * 6) is None


@pytest.mark.slow
def test_emotions_against_airline_labels(shared_data):
    """What can be checked on labelled data: AUCs against the tweet labels and reasons."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    df = pd.read_csv(shared_data / "twitter_airline_sentiment" / "Tweets.csv")
    e = pd.DataFrame(EmotionScorer().score(df.text.tolist()), columns=EMOTIONS)
    neg = df.airline_sentiment == "negative"
    assert roc_auc_score(df.airline_sentiment == "positive", e.delight) > 0.68
    assert roc_auc_score(neg, e.frustration) > 0.65
    reason = df.negativereason[neg].isin(["Customer Service Issue", "Late Flight"])
    assert roc_auc_score(reason, e.frustration[neg]) > 0.58
    assert roc_auc_score(df.text.str.contains("?", regex=False), e.confusion) > 0.9
    # negative tweets carry more disappointment than positive ones
    assert e.disappointment[neg].mean() > e.disappointment[df.airline_sentiment == "positive"].mean()
