"""A workspace several people and processes use at once, and engine errors as one sentence.

Real processes: the commands run as ``python -m journeymap`` subprocesses next to a *holder*, a
small script that opens the workspace (for reading or writing) the way a long command would and
sleeps. Read-only commands open the warehouse read-only and run beside each other; a command
that finds it busy waits up to ``$JOURNEYMAP_LOCK_TIMEOUT`` seconds, saying who holds it, then
stops with one sentence naming the holder's command and PID. A damaged warehouse file, a full
disk (a small tmpfs where this test may mount one, else a file-size limit) and unexpected errors
give one line, never a traceback, and a full disk leaves nothing that stops the next ingest.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from journeymap.cli import main
from journeymap.workspace import Workspace

HOLDER = textwrap.dedent("""
    import os, sys, time
    from journeymap import locks
    from journeymap.workspace import Workspace

    path, mode, label, seconds, release = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
    locks.set_command(label)
    ws = Workspace.open(path, read_only=mode == "read")
    ws.con.table("events").count().execute()
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end and not os.path.exists(release):
        time.sleep(0.05)
    ws.close()
""")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNEYMAP_WORKSPACE", "JOURNEYMAP_DEBUG")}
    env.update(COLUMNS="200", NO_COLOR="1", **extra)
    return env


def _jm(ws: Path, *args: str, timeout_s: float = 60, preexec=None, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "journeymap", "-w", str(ws), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
        preexec_fn=preexec,
    )


def _run(ws: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    p = _jm(ws, *args, **env)
    out, err = p.communicate(timeout=240)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


class Holder:
    """A process holding the workspace open (``read`` or ``write``) under a command's name."""

    def __init__(self, ws: Path, mode: str, label: str, seconds: float, tmp: Path):
        script = tmp / "holder.py"
        script.write_text(HOLDER, encoding="utf-8")
        self.release_file = tmp / f"release-{uuid.uuid4().hex}"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(ws), mode, label, str(seconds), str(self.release_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", self.proc.stderr.read()
        self.pid = self.proc.pid

    def release(self) -> None:
        """Let the holder close the workspace and exit, as a command does when it finishes."""
        self.release_file.touch()
        assert self.proc.wait(timeout=60) == 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=30)


def _events_csv(path: Path, n: int, prefix: str = "c") -> Path:
    """n events over 20 customers and 5 touchpoints, one row per line."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "ts", "event"])
        for i in range(n):
            w.writerow(
                [f"{prefix}{i % 20}", f"2024-03-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{i % 7:02d}", f"step{i % 5}"]
            )
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _count_events(ws: Path) -> int:
    w = Workspace.open(ws, read_only=True)
    try:
        return int(w.events().count().execute())
    finally:
        w.close()


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture
def small_ws(tmp_path) -> tuple[Path, Path]:
    """A workspace with 200 events loaded through ingest, closed (no process holds it)."""
    src = _events_csv(tmp_path / "events.csv", 200)
    w = Workspace.init(tmp_path / "ws")
    w.ingest_events(src)
    w.close()
    return w.path, src


# -- read-only commands run beside each other -----------------------------------------------------


def test_two_touchpoints_at_once_beside_a_reader(small_ws, tmp_path):
    ws, src = small_ws
    reader = Holder(ws, "read", "journeymap report", 60, tmp_path)
    try:
        # no waiting allowed: a command that took the write lock would fail at once
        procs = [_jm(ws, "touchpoints", "--format", "csv", JOURNEYMAP_LOCK_TIMEOUT="0") for _ in range(2)]
        outs = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    finally:
        reader.stop()
    for _, err, rc in outs:
        assert rc == 0, err
        assert "Traceback" not in err
    assert outs[0][0] == outs[1][0]
    got = {r["touchpoint"]: int(r["events"]) for r in csv.DictReader(outs[0][0].splitlines())}
    assert got == Counter(r["event"] for r in _rows(src))


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory) -> Path:
    """The demo (events, feedback, customers, a blueprint with goals), made through its sources."""
    from journeymap.demo import create_demo

    path = tmp_path_factory.mktemp("demo") / "shop"
    create_demo(path, customers=120, seed=7)
    return path


READ_COMMANDS = [
    ["info"],
    ["quarantine"],
    ["touchpoints"],
    ["transitions"],
    ["paths"],
    ["stages"],
    ["friction"],
    ["retention"],
    ["attribution"],
    ["blueprint", "check"],
    ["voice", "kpis"],
    ["voice", "sentiment"],
    ["voice", "emotions"],
    ["voice", "themes"],
    ["map", "--format", "json"],
]


def test_read_commands_never_take_the_write_lock(demo_ws, tmp_path, monkeypatch):
    """Every read command runs while another process reads (no waiting), and leaves the file as it was."""
    runner = CliRunner()
    # the first command that needs sentiment scores makes them (it writes, once) ...
    first = runner.invoke(main, ["-w", str(demo_ws), "voice", "sentiment", "--format", "json"])
    assert first.exit_code == 0, first.output
    db = demo_ws / "journeymap.duckdb"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    reader = Holder(demo_ws, "read", "journeymap report", 120, tmp_path)
    monkeypatch.setenv("JOURNEYMAP_LOCK_TIMEOUT", "0")
    try:
        # ... after which everything else, the report included, only reads
        for args in [*READ_COMMANDS, ["report", "-o", str(tmp_path / "map.html")]]:
            out = runner.invoke(main, ["-w", str(demo_ws), *args])
            assert out.exit_code == 0, (args, out.output)
        assert (tmp_path / "map.html").stat().st_size > 10_000
        # a writer cannot start beside the reader, and says who reads
        out = runner.invoke(main, ["-w", str(demo_ws), "ingest", "events", str(_events_csv(tmp_path / "e.csv", 10))])
        assert out.exit_code == 1
        assert f"`journeymap report` (PID {reader.pid}, reading since" in out.output
    finally:
        reader.stop()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not Path(str(db) + ".wal").exists()


def test_scores_missing_open_the_workspace_for_writing(tmp_path, monkeypatch):
    """Feedback without scores: the command must write them, so it waits for the reader like a writer."""
    w = Workspace.init(tmp_path / "ws")
    fb = tmp_path / "fb.csv"
    fb.write_text(
        "feedback_id,customer_id,ts,text,nps\n"
        + "".join(
            f"f{i},c{i % 4},2024-01-{1 + i:02d} 10:00:00,{'refund ignored' if i % 2 else 'friendly crew'},{i % 11}\n"
            for i in range(12)
        ),
        encoding="utf-8",
    )
    w.ingest_feedback(fb)
    w.close()
    reader = Holder(w.path, "read", "journeymap touchpoints", 60, tmp_path)
    monkeypatch.setenv("JOURNEYMAP_LOCK_TIMEOUT", "0")
    try:
        out = CliRunner().invoke(main, ["-w", str(w.path), "voice", "sentiment"])
        assert out.exit_code == 1 and f"(PID {reader.pid}, reading since" in out.output
    finally:
        reader.stop()
    out = CliRunner().invoke(main, ["-w", str(w.path), "voice", "sentiment", "--format", "json"])
    assert out.exit_code == 0, out.output
    w = Workspace.open(w.path, read_only=True)
    try:
        assert int(w.con.table("feedback_scores").count().execute()) == 12
    finally:
        w.close()


# -- a busy workspace: wait, then one sentence naming the holder ---------------------------------


def test_ingest_waits_for_a_writer_then_loads(small_ws, tmp_path):
    ws, src = small_ws
    more = _events_csv(tmp_path / "more.csv", 30, prefix="n")
    writer = Holder(ws, "write", "journeymap ingest", 120, tmp_path)
    try:
        p = _jm(ws, "ingest", "events", str(more), JOURNEYMAP_LOCK_TIMEOUT="90")
        waiting = p.stderr.readline()  # it waits, and says for whom ...
        assert waiting.startswith(
            f"Waiting for the workspace: held by `journeymap ingest` (PID {writer.pid}, writing since "
        ), waiting
        assert p.poll() is None
        writer.release()  # ... and goes on when the writer has finished
        out, err = p.communicate(timeout=120)
    finally:
        writer.stop()
    assert p.returncode == 0, err
    assert "Traceback" not in err
    assert _count_events(ws) == len(_rows(src)) + len(_rows(more))


@pytest.mark.parametrize("args", [["ingest", "events", "MORE"], ["touchpoints"]])
def test_busy_workspace_gives_up_with_one_sentence(small_ws, tmp_path, args):
    ws, src = small_ws
    more = _events_csv(tmp_path / "more.csv", 30, prefix="n")
    args = [str(more) if a == "MORE" else a for a in args]
    writer = Holder(ws, "write", "journeymap ingest", 120, tmp_path)
    try:
        started = time.monotonic()
        out = _run(ws, *args, JOURNEYMAP_LOCK_TIMEOUT="1.5")
        waited = time.monotonic() - started
    finally:
        writer.stop()
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = _error_lines(out.stderr)
    assert len(lines) == 2, out.stderr  # the progress line, then the error
    assert lines[0].startswith("Waiting for the workspace: held by `journeymap ingest`")
    assert lines[1].startswith(f"Error: The workspace is busy: `journeymap ingest` (PID {writer.pid}, writing since ")
    assert "within 1.5 s" in lines[1] and "JOURNEYMAP_LOCK_TIMEOUT" in lines[1]
    assert waited >= 1.5
    assert _count_events(ws) == len(_rows(src))  # the refused ingest loaded nothing


def test_record_of_a_killed_process_is_ignored(small_ws, tmp_path):
    ws, _ = small_ws
    dead = Holder(ws, "write", "journeymap ingest", 120, tmp_path)
    os.kill(dead.pid, signal.SIGKILL)
    dead.stop()
    records = list((ws / ".journeymap-locks").glob(f"*.{dead.pid}.json"))
    assert records  # kill -9 left its record behind
    reader = Holder(ws, "read", "journeymap paths", 60, tmp_path)
    try:
        out = _run(ws, "ingest", "events", str(_events_csv(tmp_path / "e.csv", 5)), JOURNEYMAP_LOCK_TIMEOUT="0")
    finally:
        reader.stop()
    assert out.returncode == 1
    assert f"`journeymap paths` (PID {reader.pid}, reading since" in out.stderr
    assert f"PID {dead.pid}" not in out.stderr
    assert not any(r.exists() for r in records)
    # nobody holds it now: the ingest goes through
    assert _run(ws, "ingest", "events", str(tmp_path / "e.csv"), JOURNEYMAP_LOCK_TIMEOUT="0").returncode == 0


def test_bad_lock_timeout_is_one_sentence(small_ws):
    ws, _ = small_ws
    out = CliRunner().invoke(main, ["-w", str(ws), "touchpoints"], env={"JOURNEYMAP_LOCK_TIMEOUT": "soon"})
    assert out.exit_code == 1
    assert "JOURNEYMAP_LOCK_TIMEOUT='soon' is not a number of seconds" in out.output


# -- a damaged warehouse --------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated", "checksum"])
def test_damaged_warehouse_is_one_sentence(small_ws, tmp_path, damage):
    ws, src = small_ws
    db = ws / "journeymap.duckdb"
    data = db.read_bytes()
    if damage == "garbage":
        db.write_bytes(b"not a database " * 1000)
    elif damage == "truncated":
        db.write_bytes(data[:5000])
    else:  # a block of the file overwritten: its checksum no longer matches
        db.write_bytes(data[:12288] + b"x" * 300 + data[12588:])
    for args in (["touchpoints"], ["ingest", "events", str(src)]):
        out = _run(ws, *args)
        assert out.returncode == 1, out.stderr
        assert "Traceback" not in out.stderr
        lines = _error_lines(out.stderr)
        assert len(lines) == 1, out.stderr
        assert lines[0].startswith("Error: The warehouse file") and "damaged" in lines[0]
        assert "restore it from a backup" in lines[0]


def test_missing_warehouse_file_is_one_sentence(small_ws):
    ws, _ = small_ws
    (ws / "journeymap.duckdb").unlink()
    out = CliRunner().invoke(main, ["-w", str(ws), "touchpoints"])
    assert out.exit_code == 1
    assert "does not exist yet" in out.output and "journeymap ingest events FILE" in out.output
    assert not (ws / "journeymap.duckdb").exists()  # a read command made no empty warehouse


# -- a full disk ----------------------------------------------------------------------------------


def _mount_tmpfs(folder: Path, size: str) -> bool:
    if os.name != "posix" or shutil.which("mount") is None:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    return r.returncode == 0


@pytest.mark.parametrize("fault", ["tmpfs", "file_size_limit"])
def test_disk_full_then_the_next_ingest_works(tmp_path, fault):
    base = tmp_path / "disk"
    limit = 3 << 20
    preexec = None
    if fault == "tmpfs":
        if not _mount_tmpfs(base, "4m"):
            pytest.skip("cannot mount a tmpfs here (needs root); the file-size limit case covers it")
    else:
        base.mkdir()

        def preexec():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    try:
        first = _events_csv(tmp_path / "first.csv", 50)
        w = Workspace.init(base / "ws")
        w.ingest_events(first)
        w.close()
        db = w.path / "journeymap.duckdb"
        size_before = db.stat().st_size
        big = tmp_path / "big.csv"  # 150k distinct rows: more than the disk (or the limit) holds
        with open(big, "w", encoding="utf-8") as f:
            f.write("customer_id,ts,event\n")
            f.writelines(
                f"b{i % 9973},2024-02-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00,{uuid.uuid4().hex}\n"
                for i in range(150_000)
            )
        p = _jm(w.path, "ingest", "events", str(big), preexec=preexec)
        out, err = p.communicate(timeout=240)
        assert p.returncode == 1, err
        assert "Traceback" not in err
        lines = _error_lines(err)
        assert len(lines) == 1, err
        assert lines[0].startswith("Error: ")
        assert ("is full" in lines[0]) if fault == "tmpfs" else ("file-size limit" in lines[0])
        assert "the warehouse keeps what it had before" in lines[0]
        # the next ingest (under the same limit) works and counts right
        second = _events_csv(tmp_path / "second.csv", 40, prefix="s")
        p = _jm(w.path, "ingest", "events", str(second), preexec=preexec)
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert _count_events(w.path) == len(_rows(first)) + len(_rows(second))
        # the failed ingest's blocks were given back: the file is about its size before, not the limit
        assert db.stat().st_size < size_before + (1 << 20)
        assert not any(Path(str(db) + ".tmp").glob("*/*"))  # no spill files left
    finally:
        if fault == "tmpfs":
            subprocess.run(["umount", "-l", str(base)], capture_output=True)


# -- every other error: one line, no traceback ------------------------------------------------------


def _fail_with(monkeypatch, exc: BaseException) -> None:
    def boom(cls, *args, **kwargs):
        raise exc

    monkeypatch.setattr(Workspace, "open", classmethod(boom))


@pytest.mark.parametrize(
    ("exc", "code", "words"),
    [
        (KeyError("touchpoint"), 2, "Unexpected error: KeyError: 'touchpoint'; please report it with the command"),
        (OSError(errno.ENOSPC, "No space left on device"), 1, "is full"),
        (OSError(errno.EACCES, "Permission denied", "/srv/ws/journeymap.duckdb"), 1, "Permission denied on"),
        (MemoryError(), 1, "ran out of memory"),
    ],
)
def test_other_errors_are_one_line(small_ws, monkeypatch, exc, code, words):
    ws, _ = small_ws
    _fail_with(monkeypatch, exc)
    out = CliRunner().invoke(main, ["-w", str(ws), "touchpoints"])
    assert out.exit_code == code
    assert words in out.output
    assert len(_error_lines(out.output)) == 1 and out.output.startswith("Error: ")


def test_engine_errors_inside_a_query_are_one_line(small_ws, monkeypatch):
    """DuckDB's own exceptions, wrapped or not, come out as the sentence for their cause."""
    import duckdb

    ws, _ = small_ws
    for exc, words in [
        (duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block"), "raise [warehouse] memory_limit"),
        (
            duckdb.IOException('IO Error: Could not write file "/x/journeymap.duckdb.wal": No space left on device'),
            "The disk holding /x/journeymap.duckdb.wal is full",
        ),
        (
            duckdb.IOException(
                'IO Error: Could not set lock on file "/x/w.duckdb": Conflicting lock is held in '
                "/usr/bin/python3 (PID 4242)"
            ),
            "another process (PID 4242)",
        ),
        (duckdb.SerializationException("Serialization Error: Failed to deserialize"), "is damaged"),
    ]:
        _fail_with(monkeypatch, exc)
        out = CliRunner().invoke(main, ["-w", str(ws), "touchpoints"])
        assert out.exit_code == 1, out.output
        assert words in out.output, out.output
        assert len(_error_lines(out.output)) == 1
