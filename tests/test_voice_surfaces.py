"""Voice surfaces that behave (issue 15, item 7), through the path a user takes:
CSV file -> ``journeymap ingest feedback`` -> ``journeymap voice ...``.

- ``voice sentiment --rescore`` replaces stored scores (also after ``journeymap label``);
- scoring runs show a progress bar on stderr;
- ``voice kpis`` says why it is empty, and a 1-5 ``rating`` feeds CSAT;
- a feedback file without a date loads with ``--ts-default load`` or a fixed date;
- ``id`` / ``review_id`` are guessed as feedback ids (``id`` only for feedback); ``--kind`` is stored.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.voice import embeddings
from journeymap.workspace import Workspace

REVIEWS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "tripadvisor_hotel_reviews_2k"
    / "tripadvisor_hotel_reviews_2k.csv"
)
nlp = pytest.mark.skipif(not embeddings.available(), reason="the nlp extra is not installed")

TEXTS = [
    "lost my bag and nobody called back, awful",
    "the refund never came, still waiting after weeks",
    "friendly crew and a smooth flight, thanks",
    "great service, the agent was lovely",
    "how do I change my seat?",
    "the app crashed twice at checkout, terrible",
    "excellent food and a comfortable seat",
    "where is my booking confirmation?",
]


def _cli(ws_path: Path, *args: str, ok: bool = True):
    out = CliRunner().invoke(main, ["-w", str(ws_path), *args])
    if ok:
        assert out.exit_code == 0, out.output
    return out


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _feedback(ws_path: Path) -> pd.DataFrame:
    with Workspace.open(ws_path) as w:
        return w.feedback().execute().sort_values("feedback_id").reset_index(drop=True)


def _stored(ws_path: Path, backend: str = "lexicon") -> dict[str, float]:
    with Workspace.open(ws_path) as w:
        t = w.con.table("feedback_scores")
        df = t.filter(t.backend == backend).select("feedback_id", "sentiment").execute()
    return dict(zip(df.feedback_id, df.sentiment, strict=True))


def _in_terminal(ws_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``journeymap -w WS ARGS`` in a child process whose stderr rich takes for a terminal
    (TTY_COMPATIBLE, TERM), as a user at a shell sees it: the progress bars draw there."""
    env = {**os.environ, "TTY_COMPATIBLE": "1", "TERM": "xterm-256color"}
    out = subprocess.run(
        [sys.executable, "-m", "journeymap", "-w", str(ws_path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture
def reviews_ws(tmp_path):
    """A workspace holding TEXTS as dated reviews with ids r0.., ingested through the CLI."""
    path = Workspace.init(tmp_path / "ws").path
    src = _write(
        tmp_path / "reviews.csv",
        ["review_id", "date", "comment"],
        [[f"r{i}", f"2024-05-0{1 + i % 5}", t] for i, t in enumerate(TEXTS)],
    )
    _cli(path, "ingest", "feedback", str(src), "--kind", "review")
    return path


# -- ingest: ids, kind, files without a date --------------------------------------------------------
def test_review_id_guessed_and_kind_review_stored(reviews_ws):
    fb = _feedback(reviews_ws)
    assert fb.feedback_id.tolist() == sorted(f"r{i}" for i in range(len(TEXTS)))
    assert set(fb.kind) == {"review"}


def test_no_date_needs_a_default_and_says_so(tmp_path):
    path = Workspace.init(tmp_path / "ws").path
    src = _write(
        tmp_path / "nodate.csv", ["id", "Review", "Rating"], [["a1", "great stay", 5], ["a2", "dirty room", 1]]
    )
    out = _cli(path, "ingest", "feedback", str(src), ok=False)
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "no column for ts" in out.stderr and "--ts-default load" in out.stderr
    bad = _cli(path, "ingest", "feedback", str(src), "--ts-default", "yesterday", ok=False)
    assert bad.exit_code == 1 and "'yesterday'" in bad.stderr and "--ts-default 2024-05-01" in bad.stderr
    assert _feedback(path).empty


def test_ts_default_load_dates_rows_with_the_load_time(tmp_path):
    path = Workspace.init(tmp_path / "ws").path
    src = _write(
        tmp_path / "nodate.csv",
        ["id", "Review", "Rating"],
        [["a1", "great stay", 5], ["a2", "dirty room", 1], ["a3", "ok", 3]],
    )
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    out = _cli(path, "ingest", "feedback", str(src), "--ts-default", "load", "--kind", "review")
    after = datetime.now(UTC).replace(tzinfo=None)
    assert "feedback_id=id" in out.stderr  # guessed, and said
    fb = _feedback(path)
    assert fb.feedback_id.tolist() == ["a1", "a2", "a3"]
    assert fb.text.tolist() == ["great stay", "dirty room", "ok"]
    assert set(fb.kind) == {"review"}
    assert fb.ts.nunique() == 1 and before <= fb.ts[0].to_pydatetime() <= after
    # the same file again: duplicates, not new rows
    again = _cli(path, "ingest", "feedback", str(src), "--ts-default", "load", "--format", "json")
    assert json.loads(again.stdout)["total"]["duplicate"] == 3 and len(_feedback(path)) == 3


def test_ts_default_fixed_date_in_the_time_zone(tmp_path):
    path = Workspace.init(tmp_path / "ws").path
    src = _write(tmp_path / "nodate.csv", ["review_id", "comment"], [["x1", "fine"], ["x2", "bad"]])
    _cli(path, "ingest", "feedback", str(src), "--ts-default", "2024-05-01", "--tz", "Europe/Paris")
    fb = _feedback(path)
    # midnight in Paris (UTC+2 in May) is 22:00 UTC the day before
    assert fb.ts.tolist() == [pd.Timestamp("2024-04-30 22:00:00")] * 2
    # the library: Workspace.ingest_feedback(ts_default=...), UTC by default
    other = _write(tmp_path / "more.csv", ["review_id", "comment"], [["x3", "meh"]])
    with Workspace.open(path, read_only=False) as w:
        w.ingest_feedback(other, ts_default="2024-05-01")
    fb = _feedback(path)
    assert fb.set_index("feedback_id").ts["x3"] == pd.Timestamp("2024-05-01")


def test_id_is_guessed_for_feedback_only(tmp_path):
    path = Workspace.init(tmp_path / "ws").path
    ev = _write(
        tmp_path / "events.csv",
        ["id", "customer_id", "ts", "event"],
        [["e1", "c1", "2024-05-01 10:00:00", "Home"], ["e2", "c1", "2024-05-01 10:05:00", "Cart"]],
    )
    out = _cli(path, "ingest", "events", str(ev))
    assert "=id" not in out.stderr
    with Workspace.open(path) as w:
        props = w.events().order_by("seq").properties.execute().tolist()
    assert [json.loads(p)["id"] for p in props] == ["e1", "e2"]  # kept as a property, not an id


# -- KPIs -----------------------------------------------------------------------------------------
def test_kpis_empty_says_why(tmp_path, reviews_ws):
    empty = Workspace.init(tmp_path / "empty").path
    out = _cli(empty, "voice", "kpis")
    assert "there are no feedback rows" in out.stderr
    out = _cli(reviews_ws, "voice", "kpis", "--format", "json")
    data = json.loads(out.stdout)
    assert data["rows"] == []
    reason = data["meta"]["empty_reason"]
    assert f"none of the {len(TEXTS)} feedback rows has an nps, csat or ces score or a rating" in reason
    assert reason in " ".join(out.stderr.split())
    # ratings on 0-10 are not CSAT: the sentence says the scale
    src = _write(
        tmp_path / "tens.csv",
        ["review_id", "date", "comment", "score"],
        [[f"t{i}", "2024-05-01", "ok", v] for i, v in enumerate([0, 7, 10, 9])],
    )
    tens = Workspace.init(tmp_path / "tens").path
    _cli(tens, "ingest", "feedback", str(src))
    out = _cli(tens, "voice", "kpis")
    assert "not on a 1-5 scale (up to 10)" in " ".join(out.stderr.split())


def test_rating_1_to_5_feeds_csat(tmp_path):
    if not REVIEWS.exists():
        pytest.skip("shared data not available")
    df = pd.read_csv(REVIEWS).head(300)
    src = tmp_path / "reviews.csv"
    df.to_csv(src, index=False)  # columns Review, Rating: no date, no id
    path = Workspace.init(tmp_path / "ws").path
    _cli(path, "ingest", "feedback", str(src), "--ts-default", "2024-05-01", "--kind", "review")
    out = _cli(path, "voice", "kpis", "--format", "json")
    data = json.loads(out.stdout)
    rows = [dict(zip(data["columns"], r, strict=True)) for r in data["rows"]]
    assert [r["metric"] for r in rows] == ["csat"]
    expected = (df.Rating >= 4).mean() * 100
    assert rows[0]["n"] == len(df) and rows[0]["satisfied"] == int((df.Rating >= 4).sum())
    assert rows[0]["value"] == pytest.approx(expected)
    assert data["meta"]["csat_from"] == "rating" and "from rating" in data["meta"]["definitions"]["csat"]
    table = _cli(path, "voice", "kpis")
    assert "1-5 ratings" in table.stderr


def test_csat_column_wins_over_rating(tmp_path):
    src = _write(
        tmp_path / "both.csv",
        ["review_id", "date", "csat", "rating"],
        [["b1", "2024-05-01", 5, 1], ["b2", "2024-05-01", 2, 1], ["b3", "2024-05-01", None, 5]],
    )
    path = Workspace.init(tmp_path / "ws").path
    _cli(path, "ingest", "feedback", str(src))
    data = json.loads(_cli(path, "voice", "kpis", "--format", "json").stdout)
    rows = [dict(zip(data["columns"], r, strict=True)) for r in data["rows"]]
    assert [(r["metric"], r["n"], r["value"]) for r in rows] == [("csat", 2, 50.0)]
    assert data["meta"]["csat_from"] == "csat"


# -- sentiment: progress and --rescore ----------------------------------------------------------
def test_scoring_run_shows_progress_on_stderr(reviews_ws):
    out = _in_terminal(reviews_ws, "voice", "sentiment", "--format", "json")
    assert "scoring (lexicon)" in out.stderr and f"{len(TEXTS)}/{len(TEXTS)}" in out.stderr
    assert json.loads(out.stdout)["rows"][0][0] == len(TEXTS)  # stdout stays clean json
    again = _in_terminal(reviews_ws, "voice", "sentiment", "--format", "json")
    assert "scoring" not in again.stderr  # nothing left to score: no bar


def test_no_progress_text_when_stderr_is_not_a_terminal(reviews_ws, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    out = _cli(reviews_ws, "voice", "sentiment", "--format", "json")
    assert out.stderr == "" and json.loads(out.output)["rows"][0][0] == len(TEXTS)


def test_rescore_replaces_stored_scores(reviews_ws):
    from journeymap.voice.sentiment import LexiconSentiment

    _cli(reviews_ws, "voice", "sentiment")
    first = _stored(reviews_ws)
    truth = dict(zip([f"r{i}" for i in range(len(TEXTS))], LexiconSentiment().score(TEXTS), strict=True))
    assert first == pytest.approx(truth)
    with Workspace.open(reviews_ws, read_only=False) as w:  # a stale score, as an older model left it
        w.con.raw_sql("UPDATE feedback_scores SET sentiment = 0.123 WHERE feedback_id = 'r0'")
    _cli(reviews_ws, "voice", "sentiment")
    assert _stored(reviews_ws)["r0"] == 0.123  # kept without --rescore
    out = _in_terminal(reviews_ws, "voice", "sentiment", "--rescore", "--format", "json")
    assert json.loads(out.stdout)["meta"]["rescored"] is True
    assert "scoring (lexicon)" in out.stderr
    assert _stored(reviews_ws) == pytest.approx(truth)


@pytest.mark.nlp
@pytest.mark.slow
@nlp
def test_rescore_after_label_changes_trained_scores(reviews_ws):
    ids = [f"r{i}" for i in range(len(TEXTS))]
    neg, pos = ["r0", "r1", "r5"], ["r2", "r3", "r6"]
    _cli(reviews_ws, "label", *neg, "--as", "negative")
    _cli(reviews_ws, "label", *pos, "--as", "positive")
    out = _in_terminal(reviews_ws, "voice", "sentiment", "--backend", "trained")
    assert "embedding (trained)" in out.stderr and "scoring (trained)" in out.stderr
    first = _stored(reviews_ws, "trained")
    assert set(first) == set(ids) and first["r0"] < first["r2"]
    # the user corrects the labels the other way round
    _cli(reviews_ws, "label", *neg, "--as", "positive")
    _cli(reviews_ws, "label", *pos, "--as", "negative")
    _cli(reviews_ws, "voice", "sentiment", "--backend", "trained")
    assert _stored(reviews_ws, "trained") == first  # without --rescore the stored scores stay
    _cli(reviews_ws, "voice", "sentiment", "--backend", "trained", "--rescore")
    second = _stored(reviews_ws, "trained")
    assert set(second) == set(ids)
    assert second["r0"] > first["r0"] and second["r2"] < first["r2"]  # labelled texts moved with their labels


# -- embeddings: ONNX Runtime for the command line ----------------------------------------------
@nlp
def test_cli_embedder_uses_onnx_when_installed(reviews_ws, monkeypatch):
    import importlib.util

    from journeymap.cli.voice_cmds import _embedder
    from journeymap.errors import InputError

    monkeypatch.delenv("JOURNEYMAP_EMBED_RUNTIME", raising=False)
    onnx = importlib.util.find_spec("onnxruntime") is not None
    with Workspace.open(reviews_ws) as w:
        assert _embedder(w).runtime == ("onnx" if onnx else "torch")
        assert embeddings.Embedder(device="cuda").runtime == "torch"  # a GPU keeps PyTorch
        monkeypatch.setenv("JOURNEYMAP_EMBED_RUNTIME", "onnx-int8")
        assert _embedder(w).runtime == "onnx-int8"
        monkeypatch.setenv("JOURNEYMAP_EMBED_RUNTIME", "fast")
        with pytest.raises(InputError, match="JOURNEYMAP_EMBED_RUNTIME='fast'"):
            _embedder(w)
