"""Themes and key-driver sections of the voice evaluation (run alone or from voice_eval.py).

- ``themes``: NMI and ARI of the themes of the 9,178 negative airline tweets against their
  labelled ``negativereason`` (10 reasons), per backend, with k = 10 (the label count) and
  with k chosen by silhouette; seconds per run (embeddings come from the cache in
  ``benchmarks/out/embeddings``; the first run computes them, minutes on CPU).
- ``drivers``: key drivers of ``satisfaction`` on the airline passenger survey (25,976
  responses, 14 touchpoint ratings, 0 = not applicable), LMG shares and Johnson weights, next
  to the permutation importance of a logistic regression as a second method.
- ``themes_perf``: TF-IDF themes of 100,000 texts (tweets resampled with two extra words each)
  in a child process: seconds and peak memory.

Usage::

    python benchmarks/voice_themes_eval.py                     # all three
    python benchmarks/voice_themes_eval.py --sections themes --no-embeddings
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("JOURNEYMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
CACHE = OUT / "embeddings"
RATINGS = [
    "Inflight wifi service",
    "Departure/Arrival time convenient",
    "Ease of Online booking",
    "Gate location",
    "Food and drink",
    "Online boarding",
    "Seat comfort",
    "Inflight entertainment",
    "On-board service",
    "Leg room service",
    "Baggage handling",
    "Checkin service",
    "Inflight service",
    "Cleanliness",
]


def section_themes(args) -> list[dict]:
    """NMI / ARI of themes against ``negativereason`` on the negative tweets, per backend."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from journeymap.voice.themes import ThemeModel

    df = pd.read_csv(DATA / "twitter_airline_sentiment" / "Tweets.csv")
    neg = df[df.airline_sentiment == "negative"]
    y, texts = neg.negativereason.to_numpy(), neg.text.tolist()
    runs = [("tfidf", 10), ("tfidf", None)]
    if not getattr(args, "no_embeddings", False):
        from journeymap.voice.embeddings import Embedder, available

        if available():
            emb = Embedder(cache_dir=CACHE)
            runs += [("embedding", 10), ("embedding", None)]
    rows = []
    for backend, k in runs:
        t0 = time.perf_counter()
        m = ThemeModel(backend, n_themes=k, seed=0, embedder=emb if backend == "embedding" else None).fit(texts)
        rows.append(
            {
                "themes": f"{backend} ({'NMF' if backend == 'tfidf' else 'MiniLM + TF-IDF, k-means'})",
                "k": f"{m.n_themes_}" + (" (silhouette)" if k is None else " (label count)"),
                "n": len(texts),
                "NMI": round(normalized_mutual_info_score(y, m.labels_), 3),
                "ARI": round(adjusted_rand_score(y, m.labels_), 3),
                "seconds": round(time.perf_counter() - t0, 1),
                "top labels": "; ".join(" / ".join(p[:2]) for p in m.key_phrases_[:3]),
            }
        )
    return rows


def section_drivers(args) -> list[dict]:
    """Key drivers of satisfaction on the passenger survey, with a second method beside them."""
    import ibis
    from sklearn.inspection import permutation_importance
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from journeymap.voice.drivers import key_drivers

    df = pd.read_csv(DATA / "airline_passenger_satisfaction" / "test.csv")
    t0 = time.perf_counter()
    r = key_drivers(ibis.memtable(df), "satisfaction", RATINGS, positive="satisfied", missing_values=[0])
    seconds = time.perf_counter() - t0
    d = df[RATINGS + ["satisfaction"]].replace({c: {0: np.nan} for c in RATINGS}).dropna()
    X = StandardScaler().fit_transform(d[RATINGS])
    yb = (d.satisfaction == "satisfied").astype(int)
    model = LogisticRegression(max_iter=1000).fit(X, yb)
    pi = permutation_importance(model, X, yb, n_repeats=3, random_state=0, scoring="roc_auc")
    perm_rank = {RATINGS[i]: k + 1 for k, i in enumerate(np.argsort(-pi.importances_mean))}
    return [
        {
            "rank": x["rank"],
            "driver": x["driver"],
            "LMG % of R2": round(x["shapley_pct"], 1),
            "relative weight": round(x["relative_weight"], 4),
            "correlation": round(x["correlation"], 3),
            "permutation rank (logit)": perm_rank[x["driver"]],
            "note": f"R2 {r.meta['r2']:.3f}, n {r.meta['n']}, {seconds:.1f} s" if x["rank"] == 1 else "",
        }
        for x in r.records()
    ]


def perf_child(n: int) -> dict:
    """TF-IDF themes of ``n`` texts, timed, in this process (run as a child for its own peak memory)."""
    from journeymap.voice.themes import themes_from_texts

    df = pd.read_csv(DATA / "twitter_airline_sentiment" / "Tweets.csv")
    rng = np.random.default_rng(0)
    words = "today again please now seriously still ugh hours gate bag refund crew seat".split()
    base = df.text.tolist()
    texts = [base[i] + " " + " ".join(rng.choice(words, 2)) for i in rng.integers(0, len(base), n)]
    stamps = pd.to_datetime(df.tweet_created.str[:19]).tolist()
    ts = [stamps[i % len(stamps)] for i in range(n)]
    t0 = time.perf_counter()
    r = themes_from_texts([str(i) for i in range(n)], texts, ts=ts, seed=0)
    return {
        "texts": n,
        "themes": len(r.themes),
        "seconds": round(time.perf_counter() - t0, 1),
        "peak MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def section_themes_perf(args) -> list[dict]:
    """TF-IDF themes of 100k texts on 2 threads: seconds and peak memory (target <= 60 s, <= 3 GB)."""
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, __file__, "--perf-child", str(getattr(args, "n", 100_000))],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return [{"run": "TF-IDF themes (auto k)", **json.loads(out.stdout.strip().splitlines()[-1])}]


SECTIONS = {"themes": section_themes, "drivers": section_drivers, "themes_perf": section_themes_perf}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sections", default=",".join(SECTIONS))
    p.add_argument("--no-embeddings", action="store_true", help="skip the embedding backend")
    p.add_argument("--n", type=int, default=100_000, help="texts for themes_perf")
    p.add_argument("--perf-child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.perf_child:
        print(json.dumps(perf_child(args.perf_child)))
        return
    results = {}
    for name in args.sections.split(","):
        results[name] = SECTIONS[name](args)
        rows = results[name]
        cols = list(dict.fromkeys(k for r in rows for k in r))
        print(f"\n## {name}\n\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for r in rows:
            print("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "voice_themes_eval.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
