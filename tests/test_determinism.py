"""Determinism: the same data gives the same map, byte for byte.

The demo's source files are written to disk, ingested by ``Workspace.ingest_*`` in a fresh process
(fresh workspace, fresh key) and mapped; the JSON must be identical

- with 1 and with 2 threads (DuckDB's ``threads`` setting and the BLAS/OpenMP thread variables);
- when the source rows are shuffled, keeping the file order of rows with the same timestamp
  (that order is data: it orders same-second touches), by shuffling blocks of equal timestamps.

Only what says when and where a document was built is blanked before comparing: ``meta``'s
``generated_at``, ``build_seconds`` and ``workspace``, and each ingest log entry's clock, file path
and id. Before the fix the builds differed in the last bits of engine sums (friction, lift,
attribution) and could reorder quotes whose float32 centrality differed in the last bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from journeymap.demo import write_sources
from journeymap.voice.linking import link_feedback
from journeymap.voice.themes import _quotes, _shared_centrality
from journeymap.workspace import Workspace

CUSTOMERS, SEED = 500, 11
TIME_COLUMNS = {"events": "event_time", "feedback": "submitted_at", "customers": None}

BUILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from journeymap.demo import demo_blueprint
    from journeymap.maps import build_map
    from journeymap.workspace import Workspace

    src, path, threads = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    ws = Workspace.init(path, blueprint=demo_blueprint(), name="northwind-demo")
    ws.con.raw_sql(f"SET threads = {threads}")
    assert ws.con.sql("SELECT current_setting('threads') AS t").execute().t[0] == threads
    ws.ingest_customers(src / "customers.csv")
    ws.ingest_events(src / "events.csv")
    ws.ingest_feedback(src / "feedback.csv")
    doc = build_map(ws).to_dict()
    ws.close()
    for key in ("generated_at", "build_seconds", "workspace"):
        doc["meta"][key] = None
    for entry in doc["data_quality"]["ingest_log"]:
        entry["time"] = entry["source"] = entry["extra"]["ingest_id"] = None
    sys.stdout.write(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False))
""")


def _block_shuffle(table: pa.Table, ts: str | None, rng: np.random.Generator) -> pa.Table:
    """Rows in a random order of their distinct timestamps; rows of one timestamp keep their file order."""
    if ts is None:
        return table.take(pa.array(rng.permutation(table.num_rows)))
    values = table.column(ts).to_numpy(zero_copy_only=False)
    _, block = np.unique(values, return_inverse=True)
    rank = rng.permutation(block.max() + 1)[block]
    return table.take(pa.array(np.lexsort((np.arange(table.num_rows), rank))))


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """The demo's source files, as written, and the same rows shuffled in blocks of equal timestamps."""
    root = tmp_path_factory.mktemp("determinism")
    original = root / "original"
    write_sources(original, CUSTOMERS, SEED, fmt="csv")
    shuffled = root / "shuffled"
    shuffled.mkdir()
    rng = np.random.default_rng(5)
    for name, ts in TIME_COLUMNS.items():
        table = pacsv.read_csv(original / f"{name}.csv")
        pacsv.write_csv(_block_shuffle(table, ts, rng), shuffled / f"{name}.csv")
    return {"original": original, "shuffled": shuffled}


def _build(src: Path, where: Path, threads: int) -> bytes:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "NUMEXPR_NUM_THREADS": str(threads),
        "PYTHONHASHSEED": "random",
    }
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(src), str(where / "shop"), str(threads)],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return done.stdout


def _first_difference(a: bytes, b: bytes) -> str:
    la, lb = a.decode().splitlines(), b.decode().splitlines()
    i = next((k for k, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), min(len(la), len(lb)))
    return f"line {i + 1}: {la[i : i + 1]} != {lb[i : i + 1]}"


@pytest.mark.slow
def test_shuffled_rows_keep_the_data(sources):
    """The shuffle is a real reordering that keeps every row and the order within each timestamp."""
    for name, ts in TIME_COLUMNS.items():
        a = pacsv.read_csv(sources["original"] / f"{name}.csv").to_pandas()
        b = pacsv.read_csv(sources["shuffled"] / f"{name}.csv").to_pandas()
        assert len(a) == len(b) and not a.equals(b)
        key = list(a.columns)
        assert a.sort_values(key).reset_index(drop=True).equals(b.sort_values(key).reset_index(drop=True))
        if ts is not None:  # same-timestamp rows in the same relative order
            assert [g.index.size for _, g in a.groupby(ts, sort=True)] == [
                g.index.size for _, g in b.groupby(ts, sort=True)
            ]
            for (_, ga), (_, gb) in zip(a.groupby(ts, sort=True), b.groupby(ts, sort=True), strict=True):
                assert ga.reset_index(drop=True).equals(gb.reset_index(drop=True))


@pytest.mark.slow
def test_map_json_is_byte_identical_across_threads_and_row_order(sources, tmp_path):
    one = _build(sources["original"], tmp_path / "a", threads=1)
    two = _build(sources["original"], tmp_path / "b", threads=2)
    shuffled = _build(sources["shuffled"], tmp_path / "c", threads=2)
    doc = json.loads(one)
    assert doc["themes"] and doc["pain_points"] and doc["attribution"]["rows"]  # the parts that used to move
    assert one == two, f"1 vs 2 threads: {_first_difference(one, two)}"
    assert one == shuffled, f"shuffled rows: {_first_difference(one, shuffled)}"


# -- the rankings themselves ---------------------------------------------------------------------
def test_quotes_rank_on_rounded_centrality_then_feedback_id():
    """Two comments whose float32 centrality differs in the last bit rank by feedback id, either way round."""
    c = np.float32(0.987654)
    near = float(np.nextafter(c, np.float32(1)))
    texts = ["late parcel again", "parcel late, again", "slow parcel"]
    for cents in ([float(c), near, 0.5], [near, float(c), 0.5]):
        quotes = _quotes(np.arange(3), ["F2", "F1", "F3"], texts, None, None, np.array(cents), 3)
        assert [q.feedback_id for q in quotes] == ["F1", "F2", "F3"]


def test_identical_texts_of_a_theme_share_their_centrality():
    cleaned = ["lost my bag", "Lost my bag", "lost my bag", "lost my bag"]
    labels = np.array([0, 0, 0, 1])
    cent = np.array([0.9, 0.9000001, 0.8, 0.7])
    assert _shared_centrality(cleaned, labels, cent).tolist() == [0.9000001, 0.9000001, 0.9000001, 0.7]


LINK_BLUEPRINT = {
    "touchpoints": [
        {"name": "Checkout", "description": "paying with a card: payment failed, card declined, charged twice"},
        {"name": "Returns", "description": "sending clothes back for a refund: refund slow, label missing"},
        {"name": "Courier", "description": "parcel arrived late, box damaged, left at the wrong door"},
        {"name": "Sizing", "description": "size too small or too big, measurements wrong, fit"},
    ]
}


def _linked(tmp_path: Path, name: str, rows: list[dict]) -> list[tuple]:
    from journeymap.blueprint import Blueprint

    csv = tmp_path / f"{name}.csv"
    pacsv.write_csv(pa.Table.from_pylist(rows), csv)
    ws = Workspace.init(tmp_path / name, blueprint=Blueprint.model_validate(LINK_BLUEPRINT))
    try:
        ws.ingest_feedback(csv)
        out = link_feedback(ws.feedback(), ws.blueprint, con=ws.con, batch_size=4).execute()
    finally:
        ws.close()
    return sorted(zip(out.feedback_id, out.link_touchpoint, out.link_method, out.link_confidence, strict=True))


def test_similarity_links_do_not_depend_on_the_stored_row_order(tmp_path):
    """Unlinked texts go to the similarity step in feedback_id order, so its batches (each with its own
    TF-IDF) are the same whatever order the file had."""
    texts = [
        "my card was declined twice",
        "payment failed at the last step",
        "refund is so slow",
        "the label was missing from the box",
        "parcel arrived late and damaged",
        "jeans too small",
        "measurements on the chart are wrong",
        "charged twice for one order",
        "wrong door again",
        "clothes back but no refund yet",
        "great fit",
        "box damaged, parcel late",
    ]
    rows = [
        {"response_id": f"R{i:03d}", "customer": f"C{i}", "submitted_at": f"2025-03-{i + 1:02d} 10:00:00", "comment": t}
        for i, t in enumerate(texts)
    ]
    forward = _linked(tmp_path, "forward", rows)
    shuffled = _linked(tmp_path, "shuffled", [rows[i] for i in (5, 11, 0, 7, 2, 9, 4, 1, 10, 3, 8, 6)])
    assert sum(1 for r in forward if r[2] == "similarity") >= 6  # the step under test links most rows
    assert forward == shuffled
