"""Voice in any language (issue 15, items 2 and 4), through ingest and the CLI.

A feedback file mixes real Portuguese reviews (Olist, with their stars) and English ones. The language
counts `voice sentiment` reports are checked against py3langid called here on the same texts; Portuguese
rows are never scored by the English lexicon; negative themes keep Portuguese words with their accents and
let no 4-5 star review in, as member or as quote.
"""

from __future__ import annotations

import csv
import functools
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.workspace import Workspace

OLIST = Path("/work/shared/data/olist_order_reviews_sample/olist_order_reviews_first6123.csv")

ENGLISH = [  # (text, stars or None)
    ("The parcel arrived two weeks late and the box was crushed", 1),
    ("Still waiting for my refund after three emails, nobody answers", 1),
    ("The zip broke the first time I wore the jacket, very poor quality", 2),
    ("Customer service never called me back about the missing item", 1),
    ("Wrong size delivered and the return label does not work", 2),
    ("Not bad at all, no complaints, it fixed the problem I had with the old one", 5),
    ("I was worried it would break but it survived the whole trip without a scratch", 5),
    ("No issues, no delays, no damage. Would buy again", 4),
    ("Lovely colour and it fits perfectly, thank you so much", 5),
    ("Great value and fast delivery, the whole family loves it", 5),
    ("The delivery was late and the driver was rude to my neighbour", None),
    ("Terrible experience, the order was cancelled without any warning", None),
    ("Quick delivery and friendly support, happy with the purchase", None),
]
PORTUGUESE = [  # hand-written, with the Portuguese "no" (in the) before a praise word
    ("Chegou no prazo, produto excelente, recomendo a loja", 5),
    ("Não recebi o produto até agora e ninguém responde", 1),
    ("Produto de péssima qualidade, não funcionou no primeiro dia", 1),
]


def _olist(n_low: int = 70, n_mid: int = 20, n_high: int = 70) -> list[tuple[str, int]]:
    """The first Olist reviews with a comment, by stars: 1-2, 3 and 4-5 (file order)."""
    want = {"low": n_low, "mid": n_mid, "high": n_high}
    out = []
    with OLIST.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = (row["review_comment_message"] or "").strip()
            if not text:
                continue
            stars = int(row["review_score"])
            group = "low" if stars <= 2 else "mid" if stars == 3 else "high"
            if want[group] > 0:
                want[group] -= 1
                out.append((text, stars))
            if not any(want.values()):
                break
    return out


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from journeymap.voice.language import LANGUAGES

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(LANGUAGES))
    return ident


def _expected_language(text: str) -> str:
    """py3langid called directly, with the rule documented in journeymap.voice.language."""
    from journeymap.voice.language import MAX_CHARS, MIN_CHARS, MIN_PROBABILITY, MIN_WORDS

    t = re.sub(r"\s+", " ", re.sub(r"https?://\S+|(?<![\w@])@[\w.]+|#", " ", text)).strip().lower()
    if len(t) < MIN_CHARS or len(t.split()) < MIN_WORDS:
        return "und"
    lang, p = _identifier().classify(t[:MAX_CHARS])
    return lang if p >= MIN_PROBABILITY else "und"


@pytest.fixture
def mixed(tmp_path):
    if not OLIST.exists():
        pytest.skip("../shared/data (Olist reviews) is not on this machine")
    rows = (
        [(t, s, "olist") for t, s in _olist()]
        + [(t, s, "en") for t, s in ENGLISH]
        + [(t, s, "pt") for t, s in PORTUGUESE]
    )
    path = tmp_path / "reviews.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["review_id", "date", "comment", "stars", "rating_scale"])
        for i, (text, stars, _) in enumerate(rows):
            w.writerow(
                [
                    f"r{i:03d}",
                    f"2024-0{1 + i % 6}-{1 + i % 27:02d}",
                    text,
                    "" if stars is None else stars,
                    "" if stars is None else 5,
                ]
            )
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest_feedback(path, mapping={"feedback_id": "review_id", "ts": "date", "text": "comment", "rating": "stars"})
    ws.close()
    ids = {f"r{i:03d}": (text, stars) for i, (text, stars, _) in enumerate(rows)}
    return tmp_path / "ws", ids


def _run(ws: Path, *args: str) -> str:
    out = CliRunner().invoke(main, ["-w", str(ws), *args])
    assert out.exit_code == 0, out.output
    return out.stdout


def _stored(ws: Path) -> dict[str, dict]:
    w = Workspace.open(ws, read_only=True)
    try:
        t = w.con.table("feedback_scores")
        df = t.filter(t.backend == "lexicon").execute()
    finally:
        w.close()
    return {r["feedback_id"]: r for r in df.to_dict("records")}


def test_language_counts_and_no_english_lexicon_on_portuguese(mixed):
    ws, ids = mixed
    data = json.loads(_run(ws, "voice", "sentiment", "--format", "json"))
    expected = Counter(_expected_language(text) for text, _ in ids.values())
    assert expected["pt"] > 100 and expected["en"] >= len(ENGLISH) - 2  # the data is what the test thinks it is
    assert data["meta"]["languages"] == dict(expected)
    stored = _stored(ws)
    assert Counter(r["language"] for r in stored.values()) == expected
    # undetermined (short) texts are read as the workspace's main language, Portuguese here
    not_english = [fid for fid, r in stored.items() if r["language"] != "en"]
    assert len(not_english) == expected["pt"] + expected["und"] + sum(
        n for k, n in expected.items() if k not in ("pt", "en", "und")
    )
    for fid in not_english:
        r = stored[fid]
        assert r["scored_by"] != "lexicon", (ids[fid][0], r["scored_by"])
        if r["scored_by"] is None or r["sentiment"] is None or r["sentiment"] != r["sentiment"]:
            assert r["sentiment_label"] is None
            assert "the English lexicon is not applied" in r["unscored_reason"], r["unscored_reason"]
            assert r["unscored_reason"].startswith(f"language {r['language']}")
            assert all(r[e] is None or r[e] != r[e] for e in ("delight", "frustration"))
    english = [r for r in stored.values() if r["language"] == "en"]
    assert english and all(r["scored_by"] == "lexicon" and r["unscored_reason"] is None for r in english)
    # the Portuguese "no" (in the) before praise is not read as English negation: the row is not lexicon-scored
    fid = next(f for f, (t, _) in ids.items() if t.startswith("Chegou no prazo"))
    assert stored[fid]["language"] == "pt" and stored[fid]["scored_by"] != "lexicon"
    # the report says how many are unscored and why
    unscored = sum(1 for r in stored.values() if r["unscored_reason"])
    assert data["meta"]["unscored"] == unscored == data["rows"][0][data["columns"].index("unscored")]
    assert sum(data["meta"]["unscored_reasons"].values()) == unscored
    table = CliRunner().invoke(main, ["-w", str(ws), "voice", "sentiment"])
    assert table.exit_code == 0 and "Languages: pt " in table.output
    if unscored:
        assert "the English lexicon is not applied" in table.output


def test_negative_themes_keep_accents_and_leave_praise_out(mixed):
    ws, ids = mixed
    data = json.loads(_run(ws, "voice", "themes", "--sentiment", "negative", "--format", "json"))
    themes = data["themes"]
    assert themes
    members = [fid for t in themes for fid in t["feedback_ids"]]
    quotes = [q["feedback_id"] for t in themes for q in t["quotes"]]
    assert set(quotes) <= set(members)
    # no 4-5 star review is a member or a quote of a negative theme
    assert not [ids[f] for f in members + quotes if ids[f][1] is not None and ids[f][1] >= 4]
    # every 1-2 star review is in
    low = {f for f, (_, s) in ids.items() if s is not None and s <= 2}
    assert low <= set(members)
    # Portuguese words with their accents in the labels or key phrases
    words = {w for t in themes for p in [t["label"], *t["key_phrases"]] for w in re.findall(r"\w+", p)}
    accented = {w for w in words if re.search(r"[^\x00-\x7f]", w)}
    assert "não" in accented and len(accented) >= 2, words
    assert data["meta"]["languages"].get("pt", 0) > 0


def test_older_scores_table_is_upgraded_and_portuguese_rescored(tmp_path):
    path = tmp_path / "fb.csv"
    texts = [
        "Não recebi o produto e ninguém responde aos meus emails",
        "The parcel arrived late and the box was damaged badly",
    ]
    path.write_text(
        "id,date,comment\n" + "".join(f"f{i},2024-01-0{i + 1},{t}\n" for i, t in enumerate(texts)), encoding="utf-8"
    )
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest_feedback(path, mapping={"feedback_id": "id", "ts": "date", "text": "comment"})
    # a feedback_scores table as an older version wrote it: the lexicon applied to both
    import ibis

    from journeymap.voice.emotions import EMOTIONS
    from journeymap.voice.sentiment import LexiconSentiment

    s = LexiconSentiment().score(texts)
    old = {
        "feedback_id": ["f0", "f1"],
        "sentiment": s.tolist(),
        "sentiment_label": ["neutral", "negative"],
        **{e: [0.0, 0.0] for e in EMOTIONS},
        "backend": ["lexicon"] * 2,
        "scored_at": ["2024-01-01 00:00:00"] * 2,
    }
    ws.con.create_table("feedback_scores", ibis.memtable(old).cast({"scored_at": "timestamp"}))
    ws.close()
    data = json.loads(_run(tmp_path / "ws", "voice", "sentiment", "--format", "json"))
    stored = _stored(tmp_path / "ws")
    assert len(stored) == 2
    assert stored["f0"]["language"] == "pt" and stored["f0"]["scored_by"] != "lexicon"
    assert stored["f1"]["language"] == "en" and stored["f1"]["scored_by"] == "lexicon"
    assert data["meta"]["languages"] == {"en": 1, "pt": 1}
