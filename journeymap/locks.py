"""Who has a warehouse open: one small record per process beside the DuckDB file.

DuckDB lets many read-only processes, or one writer, open a database file; a process that finds
it taken gets a lock error naming a PID at best. To say *who* holds a workspace (which journeymap
command, since when), every process that opens a warehouse file writes
``.journeymap-locks/<file name>.<pid>.json`` beside it (its command, PID, mode and start time) and
removes it when it closes the warehouse or exits. Records of processes that are gone (killed,
crashed) are ignored and removed by the next reader.

Each process also spills to a temporary folder of its own, ``<file>.tmp/<pid>``: DuckDB names its
spill files the same in every process (``duckdb_temp_storage_DEFAULT-0.tmp``), so two read-only
processes sharing DuckDB's default folder would write over each other's spills. Folders of
processes that are gone are removed at the next open.

Everything here is best effort: a folder that cannot be written (a read-only share) only means
the records are missing, never that the warehouse cannot be opened.

Examples
--------
>>> import tempfile, pathlib
>>> db = pathlib.Path(tempfile.mkdtemp()) / "w.duckdb"
>>> _ = register(db, "read")
>>> [h.mode for h in holders(db, include_self=True)]
['read']
>>> release(db)
>>> holders(db, include_self=True)
[]
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

LOCK_DIR = ".journeymap-locks"

_command: str | None = None
_held: dict[Path, list] = {}  # warehouse -> [record file, open count]


def set_command(label: str) -> None:
    """Name this process in its records (the CLI sets e.g. ``journeymap ingest``)."""
    global _command
    _command = label


def command() -> str:
    if _command:
        return _command
    argv0 = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return argv0 if argv0 not in ("", "-c") else "python"


@dataclass(frozen=True)
class Holder:
    """One process that has the warehouse open."""

    pid: int
    command: str
    mode: str  # "read" or "write"
    since: float  # time.time() when it opened the warehouse

    def describe(self) -> str:
        """```journeymap ingest` (PID 123, writing since 10:02:03)``."""
        t = datetime.fromtimestamp(self.since)
        when = t.strftime("%H:%M:%S") if t.date() == datetime.now().date() else t.strftime("%Y-%m-%d %H:%M:%S")
        doing = "writing" if self.mode == "write" else "reading"
        return f"`{self.command}` (PID {self.pid}, {doing} since {when})"


def _record_path(db: Path, pid: int) -> Path:
    return db.parent / LOCK_DIR / f"{db.name}.{pid}.json"


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused PID apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, ticks: str | None) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill would end the process there; keep the record
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OSError:
        return False
    now = _start_ticks(pid)
    return ticks is None or now is None or now == ticks


def register(db: Path, mode: str) -> Path | None:
    """Record that this process has ``db`` open (``mode`` ``read`` or ``write``); counts nested opens."""
    db = Path(db)
    held = _held.get(db)
    if held is not None:
        held[1] += 1
        return held[0]
    path = _record_path(db, os.getpid())
    record = {
        "pid": os.getpid(),
        "command": command(),
        "mode": mode,
        "since": time.time(),
        "ticks": _start_ticks(os.getpid()),
    }
    written: Path | None = path
    try:
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        written = None
    _held[db] = [written, 1]
    return written


def release(db: Path) -> None:
    """This process closed ``db``: remove its record once the last open is closed."""
    db = Path(db)
    held = _held.get(db)
    if held is None:
        return
    held[1] -= 1
    if held[1] > 0:
        return
    del _held[db]
    if held[0] is not None:
        with contextlib.suppress(OSError):
            held[0].unlink()
    with contextlib.suppress(OSError):
        shutil.rmtree(spill_dir(db))


def holders(db: Path, *, include_self: bool = False) -> list[Holder]:
    """The live processes recorded as having ``db`` open, oldest first; stale records are removed."""
    db = Path(db)
    folder = db.parent / LOCK_DIR
    found: list[Holder] = []
    try:
        files = sorted(folder.glob(f"{db.name}.*.json"))
    except OSError:
        return found
    for f in files:
        try:
            rec = json.loads(f.read_text(encoding="utf-8"))
            pid = int(rec["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not _alive(pid, rec.get("ticks")):
            with contextlib.suppress(OSError):
                f.unlink()
            continue
        if pid == os.getpid() and not include_self:
            continue
        found.append(
            Holder(
                pid=pid,
                command=str(rec.get("command") or "?"),
                mode=str(rec.get("mode") or "?"),
                since=float(rec.get("since") or 0),
            )
        )
    return sorted(found, key=lambda h: (h.since, h.pid))


def describe_holders(found: list[Holder], pid_hint: int | None = None) -> str:
    """Who holds the warehouse, for a message: the writer (or DuckDB's PID) first, at most three."""
    if pid_hint is not None:
        found = sorted(found, key=lambda h: (h.pid != pid_hint, h.mode != "write", h.since, h.pid))
    else:
        found = sorted(found, key=lambda h: (h.mode != "write", h.since, h.pid))
    if not found:
        return f"another process (PID {pid_hint})" if pid_hint is not None else "another process"
    text = ", ".join(h.describe() for h in found[:3])
    return text + (f" and {len(found) - 3} more" if len(found) > 3 else "")


def spill_dir(db: Path) -> Path:
    """This process's folder for DuckDB's spill files, ``<db>.tmp/<pid>`` (DuckDB makes it when it spills)."""
    root = Path(str(db) + ".tmp")
    with contextlib.suppress(OSError):
        root.mkdir(exist_ok=True)
    return root / str(os.getpid())


def clean_spills(db: Path, *, writer: bool) -> None:
    """Remove spill folders of processes that are gone; a writer (alone on the file) removes all others."""
    root = Path(str(db) + ".tmp")
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name == str(os.getpid()):
            continue
        stale = writer or not entry.name.isdigit() or not _alive(int(entry.name), None)
        if not stale:
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()


@atexit.register
def _release_all() -> None:
    for db in list(_held):
        _held[db][1] = 1
        release(db)
