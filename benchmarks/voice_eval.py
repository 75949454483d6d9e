"""Voice-of-the-customer evaluation on the real data in ../shared/data.

Sections (each a function returning rows for one table; add yours to ``SECTIONS``):

- ``sentiment``: accuracy and macro-F1 of each sentiment backend on the 14,640 labelled airline
  tweets: the lexicon default (also on the two halves: its rules were tuned by reading errors
  on half A only, so half B is held out), plain VADER when ``vaderSentiment`` is installed,
  the zero-shot embedding prototypes, and the trained backend with 200 labels (5 random draws,
  evaluated on all other tweets and on the held-out half B only), with plain logistic
  regression on the embeddings as the baseline.
- ``rated``: on each labelled set (airline tweets; olist reviews with stars, Portuguese;
  TripAdvisor hotel reviews with stars): accuracy, macro-F1 and one-vs-rest AUC on the test half
  of the lexicon default, plain VADER, a plain TF-IDF (word 1-2 grams) + logistic regression
  baseline and the ratings model, both trained on the other half's ratings (the tweets: labels),
  with texts/s scored.
- ``emotions``: what the labels can check: AUC of delight for positive tweets, of frustration
  for negative tweets and, within negatives, for the "Customer Service Issue" / "Late Flight"
  reasons, of confusion for questions, of disappointment for negative tweets.
- ``throughput``: the default sentiment and ``score_feedback`` on 100,000 feedback texts (a
  child process, so peak memory is its own), and embeddings per runtime (texts/s).

Usage::

    python benchmarks/voice_eval.py                 # everything
    python benchmarks/voice_eval.py --sections sentiment,emotions --no-embeddings

Embeddings of the tweets are cached in ``benchmarks/out/embeddings`` (first run: minutes on
CPU; later runs: seconds). Results also go to ``benchmarks/out/voice_eval.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("JOURNEYMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
CACHE = OUT / "embeddings"


def tweets() -> pd.DataFrame:
    """The labelled airline tweets with a ``half`` column (0 = tuning half A, 1 = held-out B)."""
    df = pd.read_csv(DATA / "twitter_airline_sentiment" / "Tweets.csv")
    df["half"] = np.arange(len(df)) % 2
    return df


def _scores(y, pred) -> dict:
    """Accuracy and macro-F1 of predicted labels, rounded as the tables print them."""
    return {"accuracy": round(accuracy_score(y, pred), 3), "macro-F1": round(f1_score(y, pred, average="macro"), 3)}


def _row(method: str, y, pred, subset: str = "all 14,640", note: str = "") -> dict:
    return {"method": method, "evaluated on": subset, "n": len(y), **_scores(y, pred), "note": note}


def _embedder():
    from journeymap.voice.embeddings import Embedder

    return Embedder(cache_dir=CACHE, runtime="onnx", model_dir=OUT, threads=2)


# -- sentiment ---------------------------------------------------------------------------------


def section_sentiment(args) -> list[dict]:
    from journeymap.voice.sentiment import LexiconSentiment, PrototypeSentiment, TrainedSentiment

    df = tweets()
    y = df.airline_sentiment.to_numpy()
    texts = df.text.tolist()
    rows = [_row("all negative (baseline)", y, ["negative"] * len(y))]
    lex = LexiconSentiment().classify(texts)
    rows.append(_row("lexicon (default)", y, lex, note="no training on these labels"))
    for h, name in ((0, "half A (rules tuned here)"), (1, "half B (held out)")):
        m = df.half.to_numpy() == h
        rows.append(_row("lexicon (default)", y[m], np.array(lex)[m], subset=name))
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        sia = SentimentIntensityAnalyzer()
        comp = np.array([sia.polarity_scores(t)["compound"] for t in texts])
        vader = np.where(comp >= 0.05, "positive", np.where(comp <= -0.05, "negative", "neutral"))
        rows.append(_row("plain VADER", y, vader, note="compound ±0.05"))
    except ImportError:
        rows.append({"method": "plain VADER", "note": "vaderSentiment not installed"})
    if args.no_embeddings:
        return rows
    emb = _embedder()
    t0 = time.perf_counter()
    vectors = emb.encode(texts, progress=True)
    emb.cache.compact()
    rows.append(
        {
            "method": "(embedding the tweets)",
            "note": f"{emb.computed_} new, {time.perf_counter() - t0:.1f} s",
        }
    )
    proto = PrototypeSentiment(embedder=emb)
    rows.append(
        _row(
            "embedding: zero-shot prototypes",
            y,
            proto.classify(texts),
            note="30 prototype sentences",
        )
    )
    rows += _trained_rows(df, y, texts, vectors, emb, TrainedSentiment)
    return rows


def _trained_rows(df, y, texts, vectors, emb, trained_cls, n_labels: int = 200, seeds: int = 5) -> list[dict]:
    from sklearn.linear_model import LogisticRegression

    scores: dict[str, list[float]] = {}
    half_b = df.half.to_numpy() == 1
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(df), n_labels, replace=False)
        rest = np.setdiff1d(np.arange(len(df)), idx)
        rest_b = rest[half_b[rest]]
        plain = LogisticRegression(max_iter=2000).fit(vectors[idx], y[idx])
        model = trained_cls(embedder=emb).fit([texts[i] for i in idx], y[idx].tolist())
        pred = np.array(model.classify(texts))
        for key, sub, p in (
            ("plain LR on MiniLM|rest", rest, plain.predict(vectors[rest])),
            ("trained|rest", rest, pred[rest]),
            ("trained|rest in half B", rest_b, pred[rest_b]),
        ):
            scores.setdefault(key + "|f1", []).append(f1_score(y[sub], p, average="macro"))
            scores.setdefault(key + "|acc", []).append(accuracy_score(y[sub], p))
    rows = []
    for key, name in (
        ("plain LR on MiniLM|rest", "embedding + plain logistic regression"),
        ("trained|rest", "trained (default head)"),
        ("trained|rest in half B", "trained (default head)"),
    ):
        f1, acc = scores[key + "|f1"], scores[key + "|acc"]
        rows.append(
            {
                "method": f"{name} @{n_labels} labels",
                "evaluated on": key.split("|")[1],
                "n": "≈" + str(len(df) - n_labels if key.endswith("rest") else int(half_b.sum() - n_labels / 2)),
                "accuracy": round(float(np.mean(acc)), 3),
                "macro-F1": round(float(np.mean(f1)), 3),
                "note": f"mean of {seeds} random draws, F1 sd {np.std(f1):.3f}",
            }
        )
    return rows


# -- sentiment on rated and labelled sets (issue 15) ---------------------------------------------


def rated_sets() -> dict[str, pd.DataFrame]:
    """Each labelled set with ``text``, ``y`` (negative / neutral / positive) and ``half`` (0 = train, 1 = test).

    Classes from stars as the ratings model reads them (1-2 negative, 3 neutral, 4-5 positive);
    the airline tweets carry hand labels instead (no ratings). Halves alternate by row.
    """
    from journeymap.voice.sentiment import rating_classes

    out = {}
    tw = tweets()
    out["airline tweets (labels)"] = pd.DataFrame({"text": tw.text, "y": tw.airline_sentiment, "half": tw.half})
    o = pd.read_csv(DATA / "olist_order_reviews_sample" / "olist_order_reviews_first6123.csv")
    text = (o.review_comment_title.fillna("") + ". " + o.review_comment_message.fillna("")).str.strip(". ")
    o = pd.DataFrame({"text": text, "y": rating_classes(rating=o.review_score.tolist())})
    o = o[o.text.str.len() > 0].reset_index(drop=True)
    o["half"] = np.arange(len(o)) % 2
    out["olist reviews (pt, stars)"] = o
    t = pd.read_csv(DATA / "tripadvisor_hotel_reviews_2k" / "tripadvisor_hotel_reviews_2k.csv")
    t = pd.DataFrame({"text": t.Review, "y": rating_classes(rating=t.Rating.tolist())})
    t["half"] = np.arange(len(t)) % 2
    out["tripadvisor hotels (stars)"] = t
    return out


def _auc(y, proba: np.ndarray | None = None, score: np.ndarray | None = None) -> float | None:
    """Macro one-vs-rest AUC: from class probabilities, or from a -1..1 score (negative: -s,
    positive: s, neutral: -|s|)."""
    labels = ["negative", "neutral", "positive"]
    y = np.asarray(y)
    if proba is not None:
        return round(float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels)), 3)
    if score is None:
        return None
    s = np.asarray(score, float)
    parts = [
        roc_auc_score(y == c, v)
        for c, v in zip(labels, (-s, -np.abs(s), s), strict=True)
        if 0 < (y == c).sum() < len(y)
    ]
    return round(float(np.mean(parts)), 3)


def _rated_row(data: str, method: str, y, pred, seconds: float, *, proba=None, score=None, note="") -> dict:
    return {
        "data": data,
        "method": method,
        "n test": len(y),
        **_scores(y, pred),
        "neutral F1": round(f1_score(y, pred, labels=["neutral"], average="macro"), 3),
        "AUC (ovr)": _auc(y, proba, score),
        "texts/s": round(len(y) / seconds) if seconds else "",
        "note": note,
    }


def section_rated(args) -> list[dict]:
    """Lexicon, plain VADER, plain TF-IDF + LR and the ratings model on each labelled set, test half."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from journeymap.voice.sentiment import (
        LABELS,
        LexiconSentiment,
        RatingsSentiment,
        labels,
        lexicon_labels,
    )

    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        sia = SentimentIntensityAnalyzer()
    except ImportError:
        sia = None
    rows = []
    for data, df in rated_sets().items():
        train, test = df[df.half == 0], df[df.half == 1]
        x_train, y_train = train.text.tolist(), train.y.to_numpy()
        x_test, y_test = test.text.tolist(), test.y.to_numpy()
        mean_len = round(float(np.mean([len(t) for t in x_test])))
        lex = LexiconSentiment()
        t0 = time.perf_counter()
        f = lex.features(x_test)
        s = time.perf_counter() - t0
        stored = lexicon_labels(f)
        rows.append(
            _rated_row(
                data,
                "lexicon (default without ratings)",
                y_test,
                labels(f[:, 0]),
                s,
                score=f[:, 0],
                note=f"mean {mean_len} chars; stored labels: {np.mean(np.asarray(stored) == 'mixed'):.0%} mixed",
            )
        )
        if sia is not None:
            t0 = time.perf_counter()
            comp = np.array([sia.polarity_scores(t)["compound"] for t in x_test])
            s = time.perf_counter() - t0
            vader = np.where(comp >= 0.05, "positive", np.where(comp <= -0.05, "negative", "neutral"))
            rows.append(_rated_row(data, "plain VADER", y_test, vader, s, score=comp, note="compound ±0.05"))
        t0 = time.perf_counter()
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        base = LogisticRegression(max_iter=2000).fit(vec.fit_transform(x_train), y_train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        p = base.predict_proba(vec.transform(x_test))
        s = time.perf_counter() - t0
        p = p[:, [list(base.classes_).index(c) for c in LABELS]]
        rows.append(
            _rated_row(
                data,
                "TF-IDF word 1-2 + LR (baseline)",
                y_test,
                np.array(LABELS)[p.argmax(1)],
                s,
                proba=p,
                note=f"trained on the other half ({len(x_train)}), fit {fit_s:.1f} s",
            )
        )
        t0 = time.perf_counter()
        model = RatingsSentiment().fit(x_train, y_train.tolist())
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        score, stored = model.score_and_classify(x_test)  # what scoring runs: the timed part
        s = time.perf_counter() - t0
        p = model.predict_proba(x_test)
        pred = ["neutral" if x == "mixed" else x for x in stored]
        src = "labels" if "labels" in data else "ratings"
        rows.append(
            _rated_row(
                data,
                "ratings model",
                y_test,
                pred,
                s,
                proba=p,
                note=f"trained on the other half's {src} ({len(x_train)}), fit {fit_s:.1f} s; "
                f"{np.mean(np.asarray(stored) == 'mixed'):.0%} mixed (counted neutral)",
            )
        )
    rows.append(
        {
            "data": "airline passenger satisfaction",
            "method": "(left out)",
            "note": "survey ratings without any free text: nothing for a text model to read",
        }
    )
    return rows


# -- emotions ----------------------------------------------------------------------------------


def section_emotions(args) -> list[dict]:
    from journeymap.voice.emotions import EMOTIONS, EmotionScorer

    df = tweets()
    e = pd.DataFrame(EmotionScorer().score(df.text.tolist()), columns=EMOTIONS)
    neg = df.airline_sentiment == "negative"
    reason = df.negativereason[neg].isin(["Customer Service Issue", "Late Flight"])
    question = df.text.str.contains("?", regex=False)
    checks = [
        ("delight", "positive tweets vs the rest", df.airline_sentiment == "positive", e.delight),
        ("frustration", "negative tweets vs the rest", neg, e.frustration),
        (
            "frustration",
            "negatives: Customer Service Issue or Late Flight vs other reasons",
            reason,
            e.frustration[neg],
        ),
        ("disappointment", "negative tweets vs the rest", neg, e.disappointment),
        (
            "confusion",
            "tweets with '?' vs without (partly by construction: '?' is a cue)",
            question,
            e.confusion,
        ),
        ("confusion", "neutral tweets vs the rest", df.airline_sentiment == "neutral", e.confusion),
        ("trust", "positive tweets vs the rest", df.airline_sentiment == "positive", e.trust),
    ]
    rows = [
        {"emotion": emo, "check": what, "AUC": round(roc_auc_score(lab, score), 3)} for emo, what, lab, score in checks
    ]
    for emo in EMOTIONS:
        rows.append(
            {
                "emotion": emo,
                "check": "share of tweets scoring >= 0.4",
                "AUC": round(float((e[emo] >= 0.4).mean()), 3),
            }
        )
    return rows


# -- throughput --------------------------------------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def perf_child(kind: str, n: int) -> dict:
    """Run in a fresh process: time one job on ``n`` texts and report peak memory."""
    texts = (tweets().text.tolist() * (n // 14640 + 1))[:n]
    texts = [f"{t} #{i % 997}" for i, t in enumerate(texts)]  # no two batches alike
    base = _peak_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "lexicon":
        from journeymap.voice.sentiment import LexiconSentiment

        LexiconSentiment().score(texts)
    elif kind == "emotions":
        from journeymap.voice.emotions import EmotionScorer

        EmotionScorer().score(texts)
    elif kind == "score_feedback":
        import tempfile

        import ibis

        from journeymap.voice.scoring import score_feedback
        from journeymap.workspace import Workspace

        ws = Workspace.init(tempfile.mkdtemp() + "/perf")
        fb = ibis.memtable({"feedback_id": [f"f{i}" for i in range(n)], "ts": ["2024-01-01"] * n, "text": texts}).cast(
            {"ts": "timestamp"}
        )
        ws.con.insert("feedback", fb)
        t0, c0 = time.perf_counter(), time.process_time()
        score_feedback(ws.con)
        ws.close()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "job": kind,
        "texts": n,
        "seconds": round(seconds, 2),
        "CPU s": round(cpu, 2),
        "texts/s": round(n / seconds),
        "peak MB": round(_peak_mb()),
        "MB before": round(base),
        "load avg": round(os.getloadavg()[0], 1),
    }


def section_throughput(args) -> list[dict]:
    rows = []
    for kind in ("lexicon", "emotions", "score_feedback"):
        out = subprocess.run(
            [sys.executable, __file__, "--perf-child", kind, "--n", str(args.n)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if args.no_embeddings:
        return rows
    from journeymap.voice.embeddings import Embedder

    sample = tweets().text.tolist()[: args.n_embed]
    for runtime in ("torch", "onnx", "onnx-int8"):
        emb = Embedder(cache_dir=None, runtime=runtime, model_dir=OUT, threads=2)
        emb.encode(["warm up the model"])
        t0 = time.perf_counter()
        emb.encode(sample)
        s = time.perf_counter() - t0
        rows.append(
            {
                "job": f"embed ({runtime}, 2 threads)",
                "texts": len(sample),
                "seconds": round(s, 2),
                "texts/s": round(len(sample) / s),
                "load avg": round(os.getloadavg()[0], 1),
            }
        )
    emb = _embedder()
    t0 = time.perf_counter()
    emb.encode(tweets().text.tolist())
    s = time.perf_counter() - t0
    rows.append(
        {
            "job": "embed, all cached (re-run)",
            "texts": 14640,
            "seconds": round(s, 2),
            "texts/s": round(14640 / s),
        }
    )
    return rows


# -- driver ------------------------------------------------------------------------------------

SECTIONS: dict[str, Callable] = {
    "sentiment": section_sentiment,
    "rated": section_rated,
    "emotions": section_emotions,
    "throughput": section_throughput,
}
"""Name -> function(args) returning table rows; other evaluations add theirs here."""

sys.path.insert(0, str(Path(__file__).resolve().parent))
from voice_themes_eval import SECTIONS as _THEMES_SECTIONS  # noqa: E402  (themes, drivers, themes_perf)

SECTIONS.update(_THEMES_SECTIONS)


def markdown(rows: list[dict]) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sections", default=",".join(SECTIONS))
    p.add_argument("--no-embeddings", action="store_true", help="skip everything that needs the nlp extra")
    p.add_argument("--n", type=int, default=100_000, help="texts for the throughput runs")
    p.add_argument("--n-embed", type=int, default=512, help="texts per embedding runtime timing")
    p.add_argument("--perf-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.perf_child:
        print(json.dumps(perf_child(args.perf_child, args.n)))
        return
    results = {}
    for name in args.sections.split(","):
        t0 = time.perf_counter()
        results[name] = SECTIONS[name](args)
        print(
            f"\n## {name} ({time.perf_counter() - t0:.0f} s)\n\n{markdown(results[name])}",
            flush=True,
        )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "voice_eval.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
