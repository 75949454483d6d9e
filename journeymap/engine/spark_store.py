"""A Spark workspace's warehouse: the canonical tables as Parquet folders, with a catalog every process reads.

Layout, under the warehouse folder (``<workspace>/spark-warehouse`` unless ``[warehouse] spark_dir``
names another)::

    _catalog.json                 {"tables": {"events": "events/v-3f2a...", ...}}
    events/v-3f2a.../part-*.parquet
    feedback/v-.../...
    .lock                         readers share it, a writer holds it alone
    .staging-<id>/                an ingest in progress (removed when it ends, or by the next writer)

Each table is one *version* folder of Parquet files. An ingest never changes a version: it writes
the next one in a staging folder (the files of the version before, hard-linked, plus a part with the
new rows), renames it beside the table's other versions, and then replaces ``_catalog.json`` with a
rename. That rename is the commit: a process that reads the catalog sees every table of the old
state or every table of the new one, and an ingest that fails anywhere before it leaves the
warehouse as it was (what it had written is removed). Versions the catalog no longer names are
removed after the commit, and by the next writer after a crash.

Nothing here starts Spark: the folders are plain Parquet, written by DuckDB at ingest; a Spark
session registers each table from its folder when it connects (:mod:`journeymap.engine.spark`).

Examples
--------
>>> import tempfile, pathlib
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "spark-warehouse")
>>> wh.ensure_tables()
>>> sorted(wh.tables())[:3], wh.rows("events")
(['customers', 'events', 'feedback'], 0)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from journeymap.errors import EngineError, WorkspaceError

CATALOG = "_catalog.json"
LOCK = ".lock"
STAGING_PREFIX = ".staging-"


def duckdb_columns(sch: Any) -> str:
    """``"col" TYPE, ...`` of an Ibis schema, every column nullable (DuckDB DDL)."""
    from ibis.backends.sql.datatypes import DuckDBType

    return ", ".join(f'"{c}" {DuckDBType.to_string(t.copy(nullable=True))}' for c, t in sch.items())


def _sql_path(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class Warehouse:
    """The Parquet warehouse folder of a Spark workspace."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock_fd: int | None = None

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path)!r})"

    # -- catalog ---------------------------------------------------------------------------------
    def catalog(self) -> dict[str, str]:
        """Table name -> its version folder, relative to the warehouse (empty when none yet)."""
        f = self.path / CATALOG
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise WorkspaceError(
                f"The Spark warehouse catalog {str(f)!r} cannot be read ({e}); restore it from a backup, or move "
                "the warehouse folder aside and ingest the sources again."
            ) from None
        tables = data.get("tables", {}) if isinstance(data, dict) else {}
        return {str(k): str(v) for k, v in tables.items()}

    def tables(self) -> dict[str, Path]:
        """Table name -> the absolute folder of its current version."""
        return {name: self.path / rel for name, rel in self.catalog().items()}

    def _write_catalog(self, tables: dict[str, str]) -> None:
        tmp = self.path / f"{CATALOG}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"format": 1, "tables": dict(sorted(tables.items()))}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / CATALOG)  # the commit

    # -- locking ---------------------------------------------------------------------------------
    def lock(self, *, exclusive: bool, timeout: float, on_wait: Any = None) -> None:
        """Share the warehouse with other readers, or hold it alone to write; wait up to ``timeout`` s."""
        if self._lock_fd is not None:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if exclusive:
                raise WorkspaceError(
                    f"Cannot create the Spark warehouse folder {str(self.path)!r} ({e.strerror}); check "
                    "[warehouse] spark_dir in journeymap.toml and the folder's permissions."
                ) from None
            return  # a read-only share: readers go without the lock
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    os.close(fd)
                    from journeymap.engine import LOCK_TIMEOUT_ENV, WorkspaceBusyError

                    raise WorkspaceBusyError(
                        f"The workspace is busy: another process {'reads' if exclusive else 'writes'} the Spark "
                        f"warehouse {str(self.path)!r} and did not let go within {timeout:g} s; run the command "
                        f"again when it has finished, or wait longer with {LOCK_TIMEOUT_ENV}=SECONDS."
                    ) from None
                if on_wait is not None and not told:
                    on_wait(
                        f"Waiting for the workspace: another process holds its Spark warehouse; giving up in {left:.0f} s."
                    )
                    told = True
                time.sleep(min(0.25, left))
        self._lock_fd = fd

    def unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing drops the flock

    # -- tables ----------------------------------------------------------------------------------
    def rows(self, name: str) -> int:
        """Rows of table ``name`` (from the Parquet footers, through DuckDB)."""
        import duckdb

        folder = self.tables()[name]
        db = duckdb.connect()
        try:
            row = db.execute(f"SELECT count(*) FROM read_parquet({_sql_path(folder / '*.parquet')})").fetchone()
            return int(row[0]) if row else 0
        finally:
            db.close()

    def ensure_tables(self) -> None:
        """Create any missing canonical table, empty (one empty Parquet file with its columns); no Spark."""
        from journeymap import schema

        have = self.catalog()
        missing = {name: sch for name, sch in schema.TABLES.items() if name not in have}
        if not missing:
            return
        import duckdb

        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise WorkspaceError(
                f"Cannot create the Spark warehouse folder {str(self.path)!r} ({e.strerror}); check "
                "[warehouse] spark_dir in journeymap.toml and the folder's permissions."
            ) from None
        db = duckdb.connect()
        made: dict[str, str] = {}
        try:
            for name, sch in missing.items():
                rel = f"{name}/v-{uuid.uuid4().hex[:12]}"
                folder = self.path / rel
                folder.mkdir(parents=True)
                db.execute(f"CREATE TEMP TABLE t_{name} ({duckdb_columns(sch)})")
                db.execute(f"COPY t_{name} TO {_sql_path(folder / 'part-empty.parquet')} (FORMAT parquet)")
                made[name] = rel
            self._write_catalog({**have, **made})
        except BaseException:
            for rel in made.values():
                shutil.rmtree(self.path / rel, ignore_errors=True)
            raise
        finally:
            db.close()

    # -- staging and publishing ------------------------------------------------------------------
    def new_staging(self) -> Path:
        folder = self.path / f"{STAGING_PREFIX}{uuid.uuid4().hex[:16]}"
        folder.mkdir(parents=True)
        return folder

    def publish(self, staging: Path, changed: dict[str, tuple[list[Path], Path | None]]) -> None:
        """Make new versions of the ``changed`` tables and commit them in one catalog rename.

        ``changed``: table -> (files of the version before to keep, a folder in ``staging`` of new
        Parquet files, or None). ``keep`` files are hard-linked (copied where links fail) into the new
        version, beside the new files. On any failure before the commit nothing is published.
        """
        catalog = self.catalog()
        made: list[Path] = []
        try:
            new = dict(catalog)
            for name, (keep, added) in changed.items():
                vid = f"v-{uuid.uuid4().hex[:12]}"
                folder = staging / f"{name}.{vid}"
                if added is not None:
                    added.rename(folder)
                else:
                    folder.mkdir()
                for f in keep:
                    target = folder / f.name
                    if target.exists():
                        target = folder / f"{uuid.uuid4().hex[:8]}-{f.name}"
                    try:
                        os.link(f, target)
                    except OSError:
                        shutil.copy2(f, target)
                if not any(folder.glob("*.parquet")):
                    raise EngineError(f"The new version of {name} has no Parquet file; nothing was published.")
                (self.path / name).mkdir(exist_ok=True)
                final = self.path / name / vid
                folder.rename(final)
                made.append(final)
                new[name] = f"{name}/{vid}"
            self._write_catalog(new)
        except BaseException:
            for folder in made:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        for name in changed:  # the old versions (no reader: a writer holds the warehouse alone)
            old = catalog.get(name)
            if old and old != new[name]:
                shutil.rmtree(self.path / old, ignore_errors=True)

    def clean(self) -> None:
        """Remove what a stopped ingest left: staging folders, versions the catalog does not name (writer only)."""
        if not self.path.is_dir():
            return
        named = {(self.path / rel).resolve() for rel in self.catalog().values()}
        for entry in self.path.iterdir():
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_dir() and not entry.name.startswith("."):
                for version in entry.iterdir():
                    if version.is_dir() and version.name.startswith("v-") and version.resolve() not in named:
                        shutil.rmtree(version, ignore_errors=True)
        for tmp in self.path.glob(f"{CATALOG}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


__all__ = ["CATALOG", "Warehouse", "duckdb_columns"]
