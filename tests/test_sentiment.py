"""Sentiment: labels, the lexicon rules for customer-service text, backends and the airline benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from journeymap.errors import InputError, NotFittedError
from journeymap.voice import embeddings
from journeymap.voice.sentiment import (
    LABELS,
    LexiconSentiment,
    SentimentBackend,
    TrainedSentiment,
    add_labels,
    get_backend,
    label,
    labels,
    read_labels,
)

nlp = pytest.mark.skipif(not embeddings.available(), reason="the nlp extra is not installed")


@pytest.fixture(scope="module")
def lex():
    return LexiconSentiment()


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (-1.0, "negative"),
        (-0.05, "negative"),
        (-0.049, "neutral"),
        (0.0, "neutral"),
        (0.29, "neutral"),
        (0.3, "positive"),
        (1.0, "positive"),
        (float("nan"), "neutral"),
    ],
)
def test_label_bands(score, expected):
    assert label(score) == expected
    assert labels([score]) == [expected]


def test_label_custom_band():
    assert label(0.1, neutral=(-0.05, 0.05)) == "positive"
    assert labels([-0.2, 0.0, 0.2], neutral=(-0.3, 0.3)) == ["neutral"] * 3


NEGATIVE = [
    "@united still waiting for my bag",
    "3 hours on hold and nobody picks up",
    "flight Cancelled Flightled again",
    "You lost my bag",
    "I have been on the phone for over an hour",
    "Delayed again. Missed my connection.",
    "thanks for nothing",
    "Thanks for ruining my vacation",
    "The crew was great but they lost my luggage",
    "not happy with this at all",
    "No one at the gate, no update, no information",
    "#worstcustomerservice",
    "Where is my refund?? It has been 3 weeks",
    "Worst airline ever 😡",
    "why is my flight delayed again",
    "Can't get through to anyone, your website is down",
    "Will never buy again",
    "Package never arrived",
    "I was charged twice for one order",
]
POSITIVE = [
    "Thank you so much for the help!",
    "The crew was amazing, best flight ever",
    "Great service today, you made my day :)",
    "Love flying with you ❤",
    "I lost my bag but your agent found it in minutes, amazing service!",
    "Kudos to the team at gate 12, above and beyond",
    "not bad at all, smooth flight",
    "Product as described. Would buy again.",
    "Support resolved my issue in 5 minutes, thanks",
]
NEUTRAL = [
    "What time does flight 22 to Boston leave?",
    "Can I bring my dog on board?",
    "I sent you a DM with my confirmation number",
    "Flight 1041 to Savannah",
    "",
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_complaints_in_neutral_words_are_negative(lex, text):
    assert lex.classify([text]) == ["negative"], lex.score([text])


@pytest.mark.parametrize("text", POSITIVE)
def test_praise_is_positive(lex, text):
    assert lex.classify([text]) == ["positive"], lex.score([text])


@pytest.mark.parametrize("text", NEUTRAL)
def test_questions_and_facts_are_neutral(lex, text):
    assert lex.classify([text]) == ["neutral"], lex.score([text])


def test_rules_move_scores_the_expected_way(lex):
    texts = [
        "good",
        "very good",
        "it was GOOD",
        "it was good",
        "not good",
        "bad",
        "not bad",
        "good!!!",
        "good but bad",
        "bad but good",
    ]
    s = dict(zip(texts, lex.score(texts), strict=True))
    assert s["very good"] > s["good"] > 0  # intensifier
    assert s["it was GOOD"] > s["it was good"]  # capitals
    assert s["not good"] < 0 < s["good"]  # negation flips
    assert s["bad"] < s["not bad"]  # negated negative is softened
    assert s["good!!!"] > s["good"]  # exclamation marks
    assert s["good but bad"] < 0 < s["bad but good"]  # the clause after "but" wins


def test_score_range_missing_text_and_batch_consistency(lex):
    texts = [
        "",
        None,
        "   ",
        "great",
        "awful awful awful awful awful!!!!",
        "ok\nthen",
        "İstanbul is fine",
    ]
    s = lex.score(texts)
    assert s.dtype == np.float64 and s.shape == (len(texts),)
    assert np.all((s >= -1) & (s <= 1))
    assert s[0] == s[1] == s[2] == 0.0
    # one text at a time gives the same numbers as the joined batch
    assert [lex.score_one(t) for t in texts] == pytest.approx(list(s))
    assert lex.features(texts).shape == (len(texts), 6)


def test_batches_do_not_leak_between_texts(lex):
    # a pattern must not match across the boundary of two texts in one batch
    a, b = lex.score(["I am still", "waiting room is nice"]), lex.score(["still waiting"])
    assert a[0] == lex.score_one("I am still") and a[1] == lex.score_one("waiting room is nice")
    assert b[0] < 0


def test_backend_registry():
    b = get_backend()
    assert isinstance(b, SentimentBackend) and b.name == "lexicon"
    with pytest.raises(InputError, match="'vader'"):
        get_backend("vader")


def test_labels_file_round_trip(tmp_path):
    class W:
        path = tmp_path

    assert read_labels(W).empty
    add_labels(
        W,
        ["lost my bag", "great crew, thanks"],
        ["negative", "positive"],
        feedback_ids=["f1", None],
    )
    add_labels(W, ["lost my bag"], ["neutral"])  # a correction: the last label wins
    df = read_labels(W)
    assert dict(zip(df.text, df.label, strict=True)) == {
        "lost my bag": "neutral",
        "great crew, thanks": "positive",
    }
    with pytest.raises(InputError, match="'angry'"):
        add_labels(W, ["x"], ["angry"])
    with pytest.raises(InputError, match="one label per text"):
        add_labels(W, ["x", "y"], ["negative"])


@pytest.mark.slow
def test_airline_lexicon_macro_f1(shared_data):
    """The default backend, never trained on these labels, beats plain VADER (0.46) by far."""
    import pandas as pd
    from sklearn.metrics import f1_score

    df = pd.read_csv(shared_data / "twitter_airline_sentiment" / "Tweets.csv")
    pred = LexiconSentiment().classify(df.text.tolist())
    f1 = f1_score(df.airline_sentiment, pred, average="macro")
    held_out = np.arange(len(df)) % 2 == 1  # rules were tuned reading errors on the other half only
    f1_held = f1_score(df.airline_sentiment[held_out], np.array(pred)[held_out], average="macro")
    assert f1 >= 0.65 and f1_held >= 0.65, (f1, f1_held)


# -- embedding backends (nlp extra) ------------------------------------------------------------


def test_missing_extra_message(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m, *a: None if m == "torch" else real(m, *a))
    assert not embeddings.available()
    with pytest.raises(ImportError, match=r"pip install 'journeymap\[nlp\]'"):
        embeddings.Embedder()


@pytest.mark.nlp
@pytest.mark.slow
@nlp
def test_embedder_unit_vectors_and_cache(tmp_path):
    texts = ["lost my bag", "great crew", "lost my bag"]
    e = embeddings.Embedder(cache_dir=tmp_path / "c")
    v = e.encode(texts)
    assert v.dtype == np.float32 and v.shape == (3, embeddings.DIM)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert e.computed_ == 2 and np.array_equal(v[0], v[2])
    # similar complaints are closer than a complaint and praise
    w = e.encode(["my luggage is missing"])
    assert float(w[0] @ v[0]) > float(w[0] @ v[1])
    assert e.computed_ == 3
    # a new embedder on the same folder computes nothing already seen
    e2 = embeddings.Embedder(cache_dir=tmp_path / "c")
    seen = []
    assert np.allclose(e2.encode(texts, progress=lambda d, t: seen.append((d, t))), v)
    assert e2.computed_ == 0 and seen == []
    e2.cache.compact()
    assert len(list((tmp_path / "c").glob("*.npz"))) == 1
    assert len(embeddings.EmbeddingCache(tmp_path / "c")) == 3


@pytest.mark.nlp
@pytest.mark.slow
@nlp
def test_onnx_runtime_matches_torch(tmp_path):
    texts = ["still waiting on hold", "thanks, the crew was lovely", "where is flight 22?"]
    a = embeddings.Embedder(runtime="torch").encode(texts)
    b = embeddings.Embedder(cache_dir=tmp_path, runtime="onnx", model_dir=tmp_path).encode(texts)
    assert np.all((a * b).sum(axis=1) > 0.999)
    q = embeddings.Embedder(cache_dir=tmp_path, runtime="onnx-int8", model_dir=tmp_path)
    c = q.encode(texts)
    assert q.cache_dir == tmp_path / "int8" and q.computed_ == 3
    assert np.all((a * c).sum(axis=1) > 0.85) and np.allclose(np.linalg.norm(c, axis=1), 1, atol=1e-5)


@pytest.mark.nlp
@nlp
def test_embedding_and_trained_backends(tmp_path):
    class W:
        path = tmp_path

    proto = get_backend("embedding", workspace=W)
    assert proto.classify(["You lost my bag and nobody helps", "Thank you, wonderful crew!"]) == [
        "negative",
        "positive",
    ]
    with pytest.raises(InputError, match="at least"):
        get_backend("trained", workspace=W)
    with pytest.raises(NotFittedError):
        TrainedSentiment(workspace=W).score(["x"])
    train = {
        "negative": [
            "lost my bag",
            "delayed four hours",
            "rude agent",
            "cancelled again",
            "no refund yet",
        ],
        "neutral": [
            "what time is boarding",
            "flight 22 to Boston",
            "can I bring a dog",
            "my seat is 12A",
        ],
        "positive": [
            "great crew",
            "thanks so much",
            "lovely flight",
            "best airline",
            "amazing service",
        ],
    }
    texts = [t for v in train.values() for t in v]
    add_labels(W, texts, [k for k, v in train.items() for _ in v])
    model = get_backend("trained", workspace=W)
    assert model.n_labels_ == len(texts)
    p = model.predict_proba(["my luggage is lost", "wonderful staff, thank you"])
    assert np.allclose(p.sum(axis=1), 1.0)
    assert model.classify(["my luggage is lost", "wonderful staff, thank you"]) == [
        "negative",
        "positive",
    ]
    s = model.score(["my luggage is lost"])
    assert -1 <= s[0] < 0 and set(model.classify(texts)) <= set(LABELS)


def test_embedding_cache_shards_survive_concurrent_writers(tmp_path):
    """Pure numpy: no model needed. Compacting never drops vectors another process wrote."""
    from journeymap.voice.embeddings import DIM, EmbeddingCache, text_key

    v = np.eye(3, DIM, dtype=np.float32)
    k = [text_key(t) for t in ("a", "b", "c")]
    one = EmbeddingCache(tmp_path)
    one.add(k[:1], v[:1])
    two = EmbeddingCache(tmp_path)  # another process: sees "a", adds "b"
    two.add(k[1:2], v[1:2])
    one.add(k[2:], v[2:])
    one.add(k[:1], v[:1])  # already known: no new shard
    one.compact()  # knows "a" and "c" only; the shard with "b" must stay
    fresh = EmbeddingCache(tmp_path)
    got, missing = fresh.get(k)
    assert missing == [] and np.array_equal(got, v)
    two.add(k[2:], v[2:])  # "c" again from the other process: a duplicate across shards
    fresh = EmbeddingCache(tmp_path)
    fresh.compact()
    assert len(EmbeddingCache(tmp_path)) == 3 and len(list(tmp_path.glob("*.npz"))) == 1
    assert np.array_equal(EmbeddingCache(tmp_path).get(k)[0], v)
