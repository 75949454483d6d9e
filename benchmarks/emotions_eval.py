"""Emotion detector evaluated on the hand-labelled set ``tests/fixtures/emotions_labelled.csv``.

The set holds 300 texts sampled with a fixed seed (15) from three datasets in ../shared/data:
160 airline tweets (``twitter_airline_sentiment``, id = ``tweet_id``), 40 hotel reviews
(``tripadvisor_hotel_reviews_2k``, id = the 0-based row number of the file) and 100 inbound
customer tweets (``twcs_customer_support_sample``, id = ``tweet_id``), each labelled by hand
for the six emotions (multi-label, 0/1). The fixture keeps only ids and labels; the texts are
read here from the shared data. How the labels were decided: docs/voice.md, "Emotions".

A text counts as showing an emotion when its score reaches ``--threshold`` (0.4, the
threshold of :func:`journeymap.voice.emotions.dominant`). Prints per-emotion precision,
recall, F1 and support, the micro/macro averages, and the scorer's throughput on 10,000
airline tweets (texts/s, best of 3).

Usage::

    python benchmarks/emotions_eval.py                # table + throughput
    python benchmarks/emotions_eval.py --errors delight   # half A's misses and false alarms of one emotion
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from journeymap.voice.emotions import EMOTIONS, EmotionScorer

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("JOURNEYMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))
LABELS = ROOT / "tests" / "fixtures" / "emotions_labelled.csv"
THRESHOLD = 0.4


def _texts(dataset: str, data: Path) -> dict[str, str]:
    """``{row id: text}`` of one dataset (ids as strings)."""
    if dataset == "twitter_airline_sentiment":
        df = pd.read_csv(data / dataset / "Tweets.csv", dtype={"tweet_id": str})
        return dict(zip(df.tweet_id, df.text, strict=True))
    if dataset == "tripadvisor_hotel_reviews_2k":
        df = pd.read_csv(data / dataset / "tripadvisor_hotel_reviews_2k.csv")
        return {str(i): t for i, t in enumerate(df.Review)}
    if dataset == "twcs_customer_support_sample":
        df = pd.read_csv(data / dataset / "twcs_first5001.csv", dtype={"tweet_id": str})
        return dict(zip(df.tweet_id, df.text, strict=True))
    raise ValueError(f"unknown dataset {dataset!r} in {LABELS.name}")


def labelled(data: Path = DATA, labels: Path = LABELS) -> pd.DataFrame:
    """The labelled set with its ``text`` column read from ``data`` (one row per labelled text)."""
    df = pd.read_csv(labels, dtype={"row_id": str})
    df["half"] = np.arange(len(df)) % 2  # 0 = half A (errors read to tune the lexicon), 1 = held-out B
    texts = {ds: _texts(ds, data) for ds in df.dataset.unique()}
    df["text"] = [texts[ds][rid] for ds, rid in zip(df.dataset, df.row_id, strict=True)]
    return df


def evaluate(df: pd.DataFrame, scorer: EmotionScorer | None = None, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Per-emotion precision, recall, F1 and support (rows: emotions, then micro and macro)."""
    scores = (scorer or EmotionScorer()).score(df.text.tolist())
    rows, tp_all, fp_all, fn_all = [], 0, 0, 0
    for j, emo in enumerate(EMOTIONS):
        y = df[emo].to_numpy() == 1
        p = scores[:, j] >= threshold
        tp, fp, fn = int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum())
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        rows.append({"emotion": emo, **_prf(tp, fp, fn), "predicted": tp + fp})
    macro = {k: round(float(np.mean([r[k] for r in rows])), 3) for k in ("precision", "recall", "f1")}
    rows.append({"emotion": "micro", **_prf(tp_all, fp_all, fn_all), "predicted": tp_all + fp_all})
    rows.append({"emotion": "macro", **macro, "support": rows[-1]["support"], "predicted": tp_all + fp_all})
    return pd.DataFrame(rows).set_index("emotion")


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3), "support": tp + fn}


def markdown(table: pd.DataFrame) -> str:
    """The table as Markdown (as pasted in docs/voice.md)."""
    cols = ["emotion", *table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, row in table.iterrows():
        lines.append(
            "| "
            + " | ".join(
                [str(name), *(str(int(v)) if k in ("support", "predicted") else f"{v:.3f}" for k, v in row.items())]
            )
            + " |"
        )
    return "\n".join(lines)


def errors(df: pd.DataFrame, emotion: str, threshold: float = THRESHOLD) -> pd.DataFrame:
    """The texts of half A where the detector and the label disagree on ``emotion``."""
    s = EmotionScorer().score(df.text.tolist())[:, EMOTIONS.index(emotion)]
    out = df.assign(score=s.round(2))
    wrong = ((out[emotion] == 1) != (s >= threshold)) & (out.half == 0)
    return out.loc[wrong, ["dataset", "row_id", emotion, "score", "text"]]


def throughput(data: Path = DATA, n: int = 10_000, repeat: int = 3) -> float:
    """Texts per second of ``EmotionScorer().score`` (its sentiment pass included) on ``n`` tweets."""
    texts = pd.read_csv(data / "twitter_airline_sentiment" / "Tweets.csv").text.tolist()
    texts = (texts * (n // len(texts) + 1))[:n]
    scorer = EmotionScorer()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        scorer.score(texts)
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    ap.add_argument("--errors", choices=EMOTIONS, help="list the disagreements of one emotion")
    ap.add_argument("--no-throughput", action="store_true")
    args = ap.parse_args()
    df = labelled()
    if args.errors:
        for r in errors(df, args.errors, args.threshold).itertuples():
            print(
                f"{'MISS' if getattr(r, args.errors) else 'FALSE'} {r.score:.2f} {r.dataset[:4]}:{r.row_id} {r.text[:300]!r}"
            )
        return
    print(f"{len(df)} labelled texts ({', '.join(f'{k}: {v}' for k, v in df.dataset.value_counts().items())})")
    print(markdown(evaluate(df, threshold=args.threshold)))
    for half, name in ((0, "half A (tuning)"), (1, "half B (held out)")):
        t = evaluate(df[df.half == half], threshold=args.threshold)
        print(
            f"{name}: macro F1 {t.f1['macro']:.3f}, micro F1 {t.f1['micro']:.3f}; per emotion "
            + ", ".join(f"{e} {t.f1[e]:.2f}" for e in EMOTIONS)
        )
    if not args.no_throughput:
        print(f"\nthroughput: {throughput():,.0f} texts/s on 10,000 airline tweets (best of 3)")


if __name__ == "__main__":
    main()
