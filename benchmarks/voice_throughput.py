"""Default sentiment on review-length texts: wall and CPU seconds (issue 15 target: 100,000 texts of
~700 characters in <= 60 s on 2 cores).

The texts are built from the TripAdvisor hotel reviews in ../shared/data: each starts at a
random word of one review's first half and runs on into two more (random, seed 0),
cut at the first space after 700 characters, so (almost) every text is distinct and the per-run
memo of repeated texts gives no help (the distinct count is reported). Jobs:

- ``lexicon``: ``LexiconSentiment().score`` alone, in batches of 5,000;
- ``score_feedback``: what ``journeymap voice sentiment`` runs by default, end to end: the texts
  in a workspace's ``feedback`` table, scored into ``feedback_scores`` (language detection,
  sentiment, emotions, the writes).

CPU seconds are the process's user + system time (all threads): on a busy machine they say what
the work costs, when the wall time says mostly how long it waited for a core.

Usage::

    python benchmarks/voice_throughput.py              # 100,000 texts, both jobs
    python benchmarks/voice_throughput.py --n 20000 --jobs lexicon
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("JOURNEYMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
LENGTH = 700


def review_texts(n: int, length: int = LENGTH, seed: int = 0) -> list[str]:
    """``n`` review-length texts (about ``length`` characters) from the TripAdvisor reviews."""
    reviews = pd.read_csv(DATA / "tripadvisor_hotel_reviews_2k" / "tripadvisor_hotel_reviews_2k.csv").Review
    reviews = [str(r).strip() for r in reviews]
    rng = np.random.default_rng(seed)
    words = [r.split(" ") for r in reviews]
    a = rng.integers(0, len(reviews), n)
    b = rng.integers(0, len(reviews), n)
    c = rng.integers(0, len(reviews), n)
    start = rng.random(n)
    out = []
    for i, j, k, f in zip(a, b, c, start, strict=True):
        first = words[i][int(f * len(words[i]) / 2) :]
        text = " ".join(first) + " " + reviews[j] + " " + reviews[k]
        cut = text.find(" ", length)
        if cut > 0:
            text = text[:cut]
        out.append(text)
    return out


def _clock() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), r.ru_utime + r.ru_stime


def _row(job: str, n: int, started: tuple[float, float], chars: float) -> dict:
    wall, cpu = (x - y for x, y in zip(_clock(), started, strict=True))
    return {
        "job": job,
        "texts": n,
        "mean chars": round(chars),
        "wall s": round(wall, 1),
        "CPU s": round(cpu, 1),
        "texts/s (wall)": round(n / wall),
        "texts per CPU-s": round(n / cpu),
        "load average": round(os.getloadavg()[0], 1),
    }


def describe(texts: list[str]) -> dict:
    """Count, distinct count and mean length of the texts."""
    return {
        "texts": len(texts),
        "distinct": len(set(texts)),
        "mean chars": round(float(np.mean([len(t) for t in texts]))),
    }


def job_lexicon(texts: list[str]) -> dict:
    from journeymap.voice.sentiment import LexiconSentiment

    model = LexiconSentiment()
    model.score(texts[:100])  # warm: lexicon and rules loaded
    started = _clock()
    for k in range(0, len(texts), 5000):
        model.score(texts[k : k + 5000])
    return _row("lexicon sentiment (LexiconSentiment.score)", len(texts), started, np.mean([len(t) for t in texts]))


def job_score_feedback(texts: list[str]) -> dict:
    import ibis

    from journeymap.voice.scoring import score_feedback
    from journeymap.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        fb = ibis.memtable(
            {"feedback_id": [f"f{i:06d}" for i in range(len(texts))], "ts": ["2024-05-01"] * len(texts), "text": texts}
        ).cast({"ts": "timestamp"})
        cols = [c for c in ws.feedback().columns if c in fb.columns]
        ws.con.insert("feedback", fb.select(*cols))
        started = _clock()
        result = score_feedback(ws.con, workspace=ws)
        row = _row(
            "score_feedback, default backend (voice sentiment)",
            result.scored,
            started,
            np.mean([len(t) for t in texts]),
        )
        ws.close()
    return row


JOBS = {"lexicon": job_lexicon, "score_feedback": job_score_feedback}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="number of texts")
    p.add_argument("--jobs", default=",".join(JOBS), help=f"comma-separated, of {', '.join(JOBS)}")
    args = p.parse_args(argv)
    texts = review_texts(args.n)
    print(json.dumps(describe(texts)), flush=True)
    rows = []
    for name in args.jobs.split(","):
        row = JOBS[name](texts)
        rows.append(row)
        print(json.dumps(row), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "voice_throughput.json").write_text(json.dumps(rows, indent=2))
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    sys.exit(main())
