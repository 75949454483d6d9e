"""Privacy by default and re-ingest of bad rows, through the path a user takes (issue 14, items 5 and 6)."""

from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.errors import WorkspaceError
from journeymap.workspace import KEY_FILE, Workspace

CSV = (
    "email,time,event,page\n"
    "alice@example.com,2024-05-01 10:00,visit,/home\n"
    "bob@example.com,not a time,visit,/home\n"
    "carol@example.com,2024-05-01 10:05,,/cart\n"
    "dave@example.com,2024-05-01 10:06,visit\n"  # one field short: a line the reader cannot split
)
MAP = {"customer_id": "email", "ts": "time", "touchpoint": "event"}


def quarantine(ws) -> pd.DataFrame:
    return ws.con.con.execute("SELECT * FROM quarantine ORDER BY row_number").df()


def counts(r):
    s = r.total
    return s.rows_read, s.loaded, s.quarantined, s.duplicate


def test_the_key_is_made_at_init_and_never_readable_by_others(tmp_path):
    ws = Workspace.init(tmp_path / "ws", pseudonymise=True)
    key = ws.key_path
    assert key.exists() and len(key.read_text()) == 64
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert KEY_FILE in (tmp_path / "ws" / ".gitignore").read_text()
    assert not Workspace.init(tmp_path / "plain").key_path.exists()


def test_quarantine_keeps_bad_rows_with_their_ids_pseudonymised(tmp_path):
    (tmp_path / "e.csv").write_text(CSV)
    ws = Workspace.init(tmp_path / "ws", pseudonymise=True)
    r = ws.ingest_events(tmp_path / "e.csv", mapping=MAP)
    assert counts(r) == (4, 1, 3, 0)
    key = ws.key_path.read_text().strip()
    q = quarantine(ws)
    text = q.to_json()
    for name in ("alice", "bob", "carol", "dave"):
        assert name not in text
    raw = json.loads(q.raw[0])  # row 2: bad time, the row kept with its id pseudonymised
    assert raw == {
        "email": hashlib.sha256((key + "bob@example.com").encode()).hexdigest()[:32],
        "time": "not a time",
        "event": "visit",
        "page": "/home",
    }
    assert "withheld" in json.loads(q.raw[2])  # the unsplittable line
    # and through the CLI a user reads no raw id either
    out = CliRunner().invoke(main, ["-w", str(tmp_path / "ws"), "quarantine", "--format", "json"])
    assert out.exit_code == 0 and "bob" not in out.output and "dave" not in out.output
    ws.close()


def test_a_workspace_without_its_key_refuses_to_ingest_until_the_key_is_imported(tmp_path):
    (tmp_path / "e.csv").write_text(CSV)
    ws = Workspace.init(tmp_path / "ws", pseudonymise=True)
    ws.ingest_events(tmp_path / "e.csv", mapping=MAP)
    want = ws.con.con.execute("SELECT customer_id FROM events").fetchall()
    ws.close()
    # a "git clone": settings and blueprint, no key, no warehouse
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("journeymap.toml", "blueprint.yaml"):
        shutil.copy(tmp_path / "ws" / name, clone / name)
    c = Workspace.open(clone)
    with pytest.raises(WorkspaceError, match="key import"):
        c.ingest_events(tmp_path / "e.csv", mapping=MAP)
    c.close()
    runner = CliRunner()
    bad = runner.invoke(
        main, ["-w", str(clone), "ingest", "events", str(tmp_path / "e.csv"), "--map", "customer_id=email"]
    )
    assert bad.exit_code != 0 and "journeymap key import" in bad.output and "Traceback" not in bad.output
    exported = runner.invoke(main, ["-w", str(tmp_path / "ws"), "key", "export"])
    assert exported.exit_code == 0
    (tmp_path / "k.txt").write_text(exported.output)
    assert runner.invoke(main, ["-w", str(clone), "key", "import", str(tmp_path / "k.txt")]).exit_code == 0
    c = Workspace.open(clone)
    c.ingest_events(tmp_path / "e.csv", mapping=MAP)
    assert c.con.con.execute("SELECT customer_id FROM events").fetchall() == want  # the same pseudonyms
    c.close()
    wrong = runner.invoke(main, ["-w", str(clone), "key", "import", "-"], input="12ab\n")
    assert wrong.exit_code != 0 and "64 hexadecimal" in wrong.output


def test_reingest_adds_no_second_copy_of_bad_rows_in_any_format(tmp_path):
    (tmp_path / "e.csv").write_text(CSV)
    ws = Workspace.init(tmp_path / "ws")
    first = ws.ingest_events(tmp_path / "e.csv", mapping=MAP)
    assert counts(first) == (4, 1, 3, 0)
    again = ws.ingest_events(tmp_path / "e.csv", mapping=MAP)
    assert counts(again) == (4, 0, 0, 4)
    # the well-formed bad rows as Parquet, columns reversed: the same two bad rows, not added again
    rows = [
        {"page": "/home", "event": "visit", "time": "not a time", "email": "bob@example.com"},
        {"page": "/cart", "event": None, "time": "2024-05-01 10:05", "email": "carol@example.com"},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "bad.parquet")
    third = ws.ingest_events(tmp_path / "bad.parquet", mapping=MAP)
    assert counts(third) == (2, 0, 0, 2)
    q = quarantine(ws)
    assert len(q) == 3 and q.row_key.nunique() == 3
    # a file that repeats a bad row holds one more occurrence: just that one is added
    (tmp_path / "more.csv").write_text(CSV + "bob@example.com,not a time,visit,/home\n")
    fourth = ws.ingest_events(tmp_path / "more.csv", mapping=MAP)
    assert counts(fourth) == (5, 0, 1, 4)
    assert len(quarantine(ws)) == 4
    log = ws.con.con.execute("SELECT rows_read, loaded, quarantined, duplicate FROM ingest_log").fetchall()
    assert all(r == ld + q + d for r, ld, q, d in log)
    ws.close()
