"""Connect to the warehouse and execute expressions.

DuckDB (one embedded file) is the default. A warehouse URL may name any Ibis
backend instead: ``duckdb:///path/file.duckdb``, ``spark://local[2]`` (pyspark
local mode), ``postgres://user@host/db``, ... Engines other than DuckDB load
lazily and, when missing, fail with the ``pip install`` that fixes it.

Only this module (and ``ingest``, which reads files) talks to drivers; the
analytics layers build Ibis expressions and hand them here to run.

Examples
--------
>>> con = connect("duckdb://")
>>> execute(ibis.memtable({"a": [1, 2, 3]}).a.sum(), con)
6
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeAlias

import ibis
from ibis.backends import BaseBackend

from journeymap import locks
from journeymap.errors import (
    EngineError,
    InputError,
    JourneymapError,
    WorkspaceError,
    missing_extra,
)

DEFAULT_URL = "duckdb:///journeymap.duckdb"

DEFAULT_MEMORY_LIMIT = "1500MB"
"""DuckDB's buffer limit for a workspace (``[warehouse] memory_limit``): beyond it DuckDB spills to
disk, so the whole process stays within about 2 GB on millions of events. Raise it on a bigger machine."""

LOCK_TIMEOUT_ENV = "JOURNEYMAP_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 60.0
"""Seconds a process waits for a warehouse file another process holds (``$JOURNEYMAP_LOCK_TIMEOUT``)."""


class WorkspaceBusyError(EngineError):
    """Another process held the warehouse file for longer than the lock timeout."""


def lock_timeout() -> float:
    """How long to wait for a busy warehouse: ``$JOURNEYMAP_LOCK_TIMEOUT`` seconds, else 60."""
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise InputError(f"{LOCK_TIMEOUT_ENV}={text!r} is not a number of seconds; set it to e.g. 60 (0: do not wait).")
    return value


def _tell(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def connect(
    url: str | None = None,
    base: str | Path | None = None,
    memory_limit: str | None = None,
    *,
    read_only: bool = False,
    on_wait: Callable[[str], None] | None = _tell,
    spark_dir: str | None = None,
) -> BaseBackend:
    """Connect to the warehouse at ``url`` (a relative DuckDB path is taken from ``base``).

    A Spark URL (``spark://local[2]``, ``sc://host:port``) with a ``base`` (the workspace) reads the
    workspace's Parquet warehouse, ``spark_dir`` (default ``spark-warehouse``, relative to ``base``):
    see :func:`connect_spark_workspace`.

    ``memory_limit`` (DuckDB only, e.g. ``"1500MB"``) caps DuckDB's buffers; work beyond it spills to disk.

    ``read_only`` (DuckDB files only) opens the file for reading, beside any number of other readers.
    A file another process holds (a writer, or readers when this one writes) is waited for up to
    :func:`lock_timeout` seconds, telling ``on_wait`` once who holds it; then
    :class:`WorkspaceBusyError` says who (command, PID, since when) and what to do.
    """
    url = url or "duckdb://"
    scheme = url.split("://", 1)[0] if "://" in url else "duckdb"
    if scheme == "duckdb":
        # SQLAlchemy's convention: duckdb:///rel.duckdb is relative, duckdb:////abs/x.duckdb absolute.
        path = url.split("://", 1)[1] if "://" in url else url
        if "://" in url and path.startswith("/"):
            path = path[1:]
        if path in ("", ":memory:"):
            con = ibis.duckdb.connect()
        else:
            p = Path(path)
            if not p.is_absolute() and base is not None:
                p = Path(base) / p
            con = _connect_file(p.absolute(), read_only, on_wait)
        con.raw_sql("SET TimeZone = 'UTC'")
        if memory_limit:
            try:
                con.raw_sql(f"SET memory_limit = '{memory_limit}'")
            except Exception as e:  # duckdb's own parse error
                raise InputError(
                    f"memory_limit {memory_limit!r} is not a size DuckDB understands ({e}); "
                    'write it like "1500MB" or "4GB" in journeymap.toml.'
                ) from None
        return con
    if scheme in ("spark", "sc"):
        if base is None:  # no workspace: a session with its own in-memory catalog
            if scheme == "sc":
                from journeymap.engine import spark

                return ibis.pyspark.connect(spark.connect_session(url))
            return connect_spark(url.split("://", 1)[1] or "local[2]")
        return connect_spark_workspace(url, Path(base), spark_dir, read_only=read_only, on_wait=on_wait)
    try:
        return ibis.connect(url)
    except ModuleNotFoundError as e:
        raise missing_extra(e.name or scheme, scheme, f"Engine {scheme!r}") from None
    except Exception as e:  # driver errors differ per backend
        raise EngineError(f"Cannot connect to warehouse {url!r}: {e}; check the URL in journeymap.toml.") from e


def _connect_file(p: Path, read_only: bool, on_wait: Callable[[str], None] | None) -> BaseBackend:
    """Open the DuckDB file ``p``, waiting while another process holds it; record this process as a holder."""
    if read_only and not p.exists():
        raise WorkspaceError(
            f"The warehouse {str(p)!r} does not exist yet (nothing was ingested here, or the workspace was "
            "copied without it); load data with `journeymap ingest events FILE`, or check [warehouse] url "
            "in journeymap.toml."
        )
    if not read_only and not p.parent.is_dir():
        # a warehouse in a sub-folder (duckdb:///warehouse/x.duckdb): git keeps no empty folder
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise WorkspaceError(
                f"Cannot create the warehouse's folder {str(p.parent)!r} ({e.strerror}); check [warehouse] url in "
                "journeymap.toml and the folder's permissions."
            ) from None
    timeout = lock_timeout()  # a bad $JOURNEYMAP_LOCK_TIMEOUT is told at once, not only when busy
    deadline = None
    told = None
    while True:
        try:
            con = ibis.duckdb.connect(str(p), read_only=read_only)
            break
        except Exception as e:
            text = str(e)
            if _LOCKED in text:
                if deadline is None:
                    deadline = time.monotonic() + timeout
                who = locks.describe_holders(locks.holders(p), _pid_in(text))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WorkspaceBusyError(
                        f"The workspace is busy: {who} holds {p.name} and did not let go within {timeout:g} s; "
                        f"run the command again when it has finished (or stop it), or wait longer with "
                        f"{LOCK_TIMEOUT_ENV}=SECONDS."
                    ) from None
                if on_wait is not None and who != told:
                    on_wait(
                        f"Waiting for the workspace: held by {who}; giving up in {left:.0f} s ({LOCK_TIMEOUT_ENV})."
                    )
                    told = who
                time.sleep(min(0.25, left))
                continue
            if read_only and "different configuration" in text:
                # this process has the file open for writing already: share that instance
                read_only = False
                continue
            if "different configuration" in text:
                raise EngineError(
                    f"This process has the warehouse {p.name} open read-only; close that workspace "
                    "(ws.close()) before opening it for writing."
                ) from e
            found = _driver_error(e)
            raise EngineError(
                found[0]
                if found
                else f"Cannot open the warehouse {str(p)!r} ({_detail(text)}); check "
                "[warehouse] url in journeymap.toml and the file's permissions."
            ) from e
    con._journeymap_file = p  # read by disconnect()
    if not read_only:
        _reclaim_tail(con, p)
    locks.clean_spills(p, writer=not read_only)
    spill = str(locks.spill_dir(p)).replace("'", "''")
    with contextlib.suppress(Exception):  # DuckDB's default is <file>.tmp, shared by every process
        con.raw_sql(f"SET temp_directory = '{spill}'")
    locks.register(p, "read" if read_only else "write")
    return con


_LOCKED = "Could not set lock on file"
_DUCKDB_HEADERS = 3 * 4096  # a DuckDB file: three 4 KiB headers, then its blocks


@functools.cache
def _layout_checked() -> bool:
    """Whether this DuckDB lays a file out as :func:`_reclaim_tail` assumes (checked once on a scratch file)."""
    import duckdb

    try:
        with tempfile.TemporaryDirectory(prefix="journeymap-probe-") as folder:
            f = os.path.join(folder, "probe.duckdb")
            db = duckdb.connect(f)
            db.execute("CREATE TABLE t AS SELECT range AS x FROM range(10)")  # two blocks: metadata, data
            db.execute("CHECKPOINT")
            block_size, total_blocks = db.execute(
                "SELECT block_size, total_blocks FROM pragma_database_size()"
            ).fetchone() or (0, 0)
            db.close()
            return total_blocks > 1 and os.path.getsize(f) == _DUCKDB_HEADERS + total_blocks * block_size
    except Exception:
        return False


def _reclaim_tail(con: BaseBackend, p: Path) -> None:
    """Give back the space a failed write left at the end of the file (a full disk, kill -9).

    DuckDB writes a large insert's blocks into the file before it commits; when the transaction
    fails, those blocks stay, unused, beyond the last block the file's header knows, and DuckDB
    never shrinks the file. On a full disk they are what stops the next command (its commit has no
    room for the write-ahead log). Opened for writing (no other process has the file) with an
    empty log, everything past the known blocks is unreachable, so the file is cut back to them.
    """
    try:
        wal = Path(str(p) + ".wal")
        if wal.exists() and wal.stat().st_size > 0:
            return
        row = con.con.execute(
            "SELECT block_size, total_blocks, wal_size FROM pragma_database_size() "
            "WHERE database_name = current_database()"
        ).fetchone()
        if row is None or str(row[2]).split()[0] not in ("0", "0.0"):
            return
        block_size, total_blocks = int(row[0]), int(row[1])
        size = p.stat().st_size
        keep = _DUCKDB_HEADERS + total_blocks * block_size
        # by path: opening the file here and closing it would drop DuckDB's lock (POSIX locks are per process)
        if total_blocks >= 1 and size > keep and _layout_checked():
            os.truncate(p, keep)
    except Exception:  # noqa: S110  (best effort: the file stays as it is)
        pass


def _pid_in(text: str) -> int | None:
    m = re.search(r"\(PID (\d+)\)", text)
    return int(m.group(1)) if m else None


def disconnect(con: BaseBackend | None) -> None:
    """Close a connection made by :func:`connect` (DuckDB: checkpoint, and drop this process's lock record)."""
    if con is None:
        return
    path = getattr(con, "_journeymap_file", None)
    warehouse = getattr(con, "_journeymap_warehouse", None)
    try:
        if con.name == "duckdb":
            con.disconnect()
        if warehouse is not None:  # the session stays (one per process, stopped at exit); the lock goes
            warehouse.unlock()
    finally:
        if path is not None:
            locks.release(path)


def connect_spark(master: str = "local[2]") -> BaseBackend:
    """A pyspark local (or cluster) session wrapped by Ibis, with an in-memory catalog; one session per
    master per process (:func:`journeymap.engine.spark.session`: quiet, its scratch folder removed at exit)."""
    from journeymap.engine import spark

    return ibis.pyspark.connect(spark.session(master))


SPARK_DIR = "spark-warehouse"
"""A Spark workspace's warehouse folder, relative to the workspace (``[warehouse] spark_dir``)."""


def spark_warehouse(base: str | Path, spark_dir: str | None = None):
    """The :class:`~journeymap.engine.spark_store.Warehouse` of the Spark workspace at ``base``."""
    from journeymap.engine.spark_store import Warehouse

    p = Path(spark_dir or SPARK_DIR).expanduser()
    return Warehouse(p if p.is_absolute() else Path(base) / p)


def connect_spark_workspace(
    url: str,
    base: Path,
    spark_dir: str | None = None,
    *,
    read_only: bool = False,
    on_wait: Callable[[str], None] | None = _tell,
) -> BaseBackend:
    """A Spark session on the workspace at ``base``, its warehouse's tables registered as views.

    The warehouse (:mod:`journeymap.engine.spark_store`) is Parquet folders with a catalog file; this
    process shares it with other readers (``read_only``) or holds it alone to write, waiting up to
    :func:`lock_timeout` seconds for the others. ``url`` is ``spark://MASTER`` (a local or standalone
    master) or ``sc://host:port`` (Spark Connect: the warehouse folder must be readable there too).
    """
    from journeymap.engine import spark

    kind, target = spark.parse_url(url)
    wh = spark_warehouse(base, spark_dir)
    if read_only and not (wh.path / "_catalog.json").is_file():
        raise WorkspaceError(
            f"The Spark warehouse {str(wh.path)!r} does not exist yet (nothing was ingested here, or the "
            "workspace was copied without it); load data with `journeymap ingest events FILE`, or check "
            "[warehouse] spark_dir in journeymap.toml."
        )
    wh.lock(exclusive=not read_only, timeout=lock_timeout(), on_wait=on_wait)
    try:
        if not read_only:
            wh.clean()
            wh.ensure_tables()
        if kind == "connect":
            session = spark.connect_session(target)
        else:  # a session of its own on the process's Spark context: its views are this workspace's alone
            session = spark.session(target, base).newSession()
        spark.register_tables(session, wh.tables())
        con = ibis.pyspark.connect(session)
    except BaseException:
        wh.unlock()
        raise
    con._journeymap_warehouse = wh  # read by the Spark loader and disconnect()
    return con


def refresh_spark_tables(con: Any) -> None:
    """Register a Spark workspace's tables again (after an ingest published new versions)."""
    from journeymap.engine import spark

    wh = getattr(con, "_journeymap_warehouse", None)
    session = getattr(con, "_session", None)
    if wh is not None and session is not None:
        spark.register_tables(session, wh.tables())


class SparkWarehouseWriter:
    """A Spark workspace's warehouse held for writing, without a Spark session: what ingest needs
    (its loader writes Parquet through DuckDB, :mod:`journeymap.engine.spark_load`), so an ingest
    starts no JVM. Use as a context manager; the lock goes at its end."""

    name = "pyspark"

    def __init__(self, base: str | Path, spark_dir: str | None = None, on_wait: Callable[[str], None] | None = _tell):
        self._journeymap_warehouse = spark_warehouse(base, spark_dir)
        self._on_wait = on_wait

    def __enter__(self) -> SparkWarehouseWriter:
        wh = self._journeymap_warehouse
        wh.lock(exclusive=True, timeout=lock_timeout(), on_wait=self._on_wait)
        try:
            wh.clean()
            wh.ensure_tables()
        except BaseException:
            wh.unlock()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._journeymap_warehouse.unlock()


def backend_name(con: BaseBackend) -> str:
    """``duckdb``, ``pyspark``, ... for a connection."""
    return con.name


Connection: TypeAlias = BaseBackend
"""The type of a warehouse connection, for annotations outside the engine (an Ibis backend)."""


def backend_of(con_or_ws: Any, expr: ibis.Expr | None = None) -> BaseBackend:
    """The connection behind ``con_or_ws`` (a connection, or anything with a ``con`` property such as a
    :class:`~journeymap.workspace.Workspace`); when None, the one ``expr`` is bound to (the default
    in-memory DuckDB for memtables)."""
    if con_or_ws is None:
        if expr is None:
            raise TypeError("backend_of() needs a connection, a workspace or an expression")
        return expr._find_backend(use_default=True)
    if isinstance(con_or_ws, BaseBackend):
        return con_or_ws
    return con_or_ws.con


def execute(expr: ibis.Expr, con: Any = None, limit: int | None = None, *, arrow: bool = False):
    """Run an expression: a pandas object (a scalar for a scalar expression), or a pyarrow Table with ``arrow``.

    ``con`` is a connection or a workspace; None runs the expression where it is bound (memtables: the
    default in-memory DuckDB). Engine errors become :class:`EngineError`; journeymap's own
    :class:`InputError` passes through.
    """
    try:
        backend = backend_of(con, None) if con is not None else None
        if arrow:
            if backend is not None:
                return backend.to_pyarrow(expr, limit=limit)
            return expr.to_pyarrow(limit=limit)
        if backend is not None:
            return backend.execute(expr, limit=limit)
        return expr.execute(limit=limit)
    except InputError:
        raise
    except Exception as e:
        raise EngineError(f"The engine failed to run a query: {e}") from e


def to_pyarrow(expr: ibis.Expr, con: Any = None, limit: int | None = None):
    """Run an expression and return a pyarrow Table (``execute(..., arrow=True)``)."""
    return execute(expr, con, limit, arrow=True)


_MATERIALIZED: dict[str, tuple[BaseBackend, str]] = {}
"""Tables :func:`materialize` made, by their qualified name: the connection and the name given (for :func:`release`)."""


def materialize(
    con_or_ws: Any, expr: ibis.Table, name: str | None = None, *, temp: bool = True, what: str = "a table"
) -> ibis.Table:
    """``expr`` computed once in the engine, as a table later expressions read instead of recomputing it.

    ``temp`` (default): a temporary table where the engine has them (DuckDB, SQL databases), else the
    engine's own cache (Spark: a persisted DataFrame); it lives until :func:`release` (or the
    connection closes). ``temp=False`` writes a lasting table ``name`` (replacing one of that name).
    ``con_or_ws`` is a connection, a workspace, or None (the backend ``expr`` is bound to). ``what``
    names the table in the error an engine failure raises (``EngineError``).

    Examples
    --------
    >>> t = materialize(None, ibis.memtable({"a": [1, 2, 3]}))
    >>> int(execute(t.a.sum()))
    6
    >>> release(t)
    """
    con = backend_of(con_or_ws, expr)
    name = name or f"_jm_{uuid.uuid4().hex}"
    try:
        if not temp:
            table = con.create_table(name, obj=expr, overwrite=True)
            _MATERIALIZED[table.get_name()] = (con, name)
            return table
        try:
            table = con.create_table(name, obj=expr, temp=True)
            _MATERIALIZED[table.get_name()] = (con, name)
            return table
        except NotImplementedError:  # no temporary tables (Spark): ibis's cache, memtables registered first
            con._run_pre_execute_hooks(expr)
            return con._cached_table(expr)
    except Exception as e:  # engine errors differ per backend
        raise EngineError(f"The engine failed to prepare {what}: {e}") from e


def release(table: ibis.Table) -> None:
    """Drop a table :func:`materialize` made (a temporary table, or the engine's cache); best effort."""
    with contextlib.suppress(Exception):
        if isinstance(table, ibis.expr.types.CachedTable):
            table.release()
            return
        made = _MATERIALIZED.pop(table.get_name(), None)
        if made is not None:
            con, name = made
            con.drop_table(name, force=True)


@contextlib.contextmanager
def materialized(
    con_or_ws: Any, expr: ibis.Table, what: str = "a table", name: str | None = None
) -> Iterator[ibis.Table]:
    """:func:`materialize` for the length of a ``with`` block, released afterwards."""
    table = materialize(con_or_ws, expr, name, what=what)
    try:
        yield table
    finally:
        release(table)


def create_table(con_or_ws: Any, name: str, schema: Any) -> None:
    """Create the empty table ``name`` with Ibis schema ``schema``.

    On DuckDB, ``events`` is made by its loader (``event_id`` stored with FSST compression:
    :func:`journeymap.engine.duckdb_load.create_events_table`).
    """
    con = backend_of(con_or_ws)
    if con.name == "duckdb" and name == "events":
        from journeymap.engine.duckdb_load import create_events_table

        create_events_table(con, name, schema)
        return
    con.create_table(name, schema=schema)


def add_columns(con_or_ws: Any, name: str, columns: dict[str, str]) -> None:
    """Add empty columns to table ``name``: column -> ``BIGINT`` or ``VARCHAR`` (SQL engines)."""
    con = backend_of(con_or_ws)
    for col, kind in columns.items():
        con.raw_sql(f'ALTER TABLE {name} ADD COLUMN "{col}" {kind}')


def table_exists(con: BaseBackend, name: str) -> bool:
    return name in con.list_tables()


def list_tables(con_or_ws: Any) -> list[str]:
    """The names of the tables in the warehouse."""
    return list(backend_of(con_or_ws).list_tables())


@contextlib.contextmanager
def transaction(con: BaseBackend) -> Iterator[None]:
    """All-or-nothing writes where the engine has transactions (DuckDB, SQL databases).

    Engines without transactions (Spark) run the block as is; callers that must be
    atomic there write to staging tables first and swap them in at the end.
    """
    if con.name in ("duckdb", "postgres", "sqlite", "mysql"):
        con.raw_sql("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            # an engine that failed fatally has rolled back already: the first error is the one to tell.
            # (The blocks a failed DuckDB write took stay in the file; the next open for writing cuts
            # them off, see _reclaim_tail.)
            with contextlib.suppress(Exception):
                con.raw_sql("ROLLBACK")
            raise
        else:
            con.raw_sql("COMMIT")
    else:
        yield


# -- engine errors as one sentence ----------------------------------------------------------------

UNEXPECTED_EXIT = 2


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _first_line(text: str, limit: int = 240) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _detail(text: str) -> str:
    """The driver's own words, short: no query prefix, no 'Possible solutions' list, no SQL excerpt."""
    text = re.sub(r"^(The engine failed to run a query|Cannot open the warehouse [^:]*): ", "", str(text))
    text = re.split(r"Possible solutions?:|\nLINE \d+:|See also https?://", text)[0]
    return _first_line(text.strip().rstrip(".,;:"), 160)


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _file_in(text: str) -> str | None:
    m = re.search(r'file "([^"]+)"', text) or re.search(r"file '([^']+)'", text)
    return m.group(1) if m else None


def _free(path: str | None) -> str:
    if not path:
        return ""
    folder = Path(path).parent
    try:
        free: float = shutil.disk_usage(folder).free
    except OSError:
        return ""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if free < 1024 or unit == "TB":
            return f" ({free:.0f} {unit} free)" if unit == "bytes" else f" ({free:.1f} {unit} free)"
        free /= 1024
    return ""


def _driver_error(e: BaseException) -> tuple[str, int] | None:
    """The sentence for one engine/OS error this module knows, or None."""
    text = str(e)
    detail = _detail(text)
    kind = type(e).__name__
    err = getattr(e, "errno", None)
    file = _file_in(text) or getattr(e, "filename", None)
    where = f" {file}" if file else ""
    if _LOCKED in text:
        path = Path(file) if file else None
        who = locks.describe_holders(locks.holders(path) if path else [], _pid_in(text))
        return (
            f"The workspace is busy: {who} holds{where}; run the command again when it has finished, "
            f"or let commands wait longer with {LOCK_TIMEOUT_ENV}=SECONDS."
        ), 1
    if (
        err in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
        or "No space left on device" in text
        or "Disk quota exceeded" in text
    ):
        return (
            f"The disk holding{where or ' the workspace'} is full{_free(file)}, so the command stopped and "
            "the warehouse keeps what it had before; free some space there (or move the workspace to a "
            "bigger disk) and run the command again."
        ), 1
    if err == errno.EFBIG or "File too large" in text:
        return (
            f"The file{where} reached this process's file-size limit (File too large), so the command "
            "stopped and the warehouse keeps what it had before; raise the limit (ulimit -f) and run "
            "the command again."
        ), 1
    if "with version number" in text or "storage version" in text:
        return (
            f"The warehouse file{where} was written by another DuckDB version ({detail}); open it with the "
            "journeymap that wrote it, or ingest the sources again into a new workspace."
        ), 1
    if (
        "not a valid DuckDB database file" in text
        or "Corrupt database file" in text
        or "Could not read enough bytes from file" in text
        or kind == "SerializationException"
        or "Serialization Error" in text
    ):
        return (
            f"The warehouse file{where} is damaged or is not a DuckDB database ({detail}); restore it from a "
            "backup, or move it aside and ingest the sources again into a new one."
        ), 1
    if kind == "OutOfMemoryException" or "Out of Memory Error" in text or isinstance(e, MemoryError):
        return (
            f"The engine ran out of memory ({detail}); raise [warehouse] memory_limit in journeymap.toml "
            "(or free memory on this machine) and run the command again."
        ), 1
    if "attached in read-only mode" in text:
        return (
            f"This command opened the workspace read-only and then tried to write to it ({detail}); please "
            "report it with the command you ran."
        ), UNEXPECTED_EXIT
    if kind == "FatalException" or "database has been invalidated" in text:
        return (
            f"The engine stopped after a fatal error ({detail}); nothing of this command was saved, run it again."
        ), 1
    if kind == "InterruptException":
        return "Interrupted; nothing of this command was saved.", 130
    if err in (errno.EACCES, errno.EPERM) or isinstance(e, PermissionError) or "Permission denied" in text:
        return (
            f"Permission denied on{where or ' a file'} ({detail}); give this user access to the workspace "
            "folder, or use a copy of it."
        ), 1
    return None


def explain(exc: BaseException) -> tuple[str, int]:
    """One sentence for any error reaching the command line, with its exit code.

    journeymap's own errors keep their message (code 1); engine and system errors anywhere in
    the chain (a busy or damaged warehouse, a full disk, memory, permissions) get a sentence with
    the fix (code 1); anything else is unexpected (code 2) and asks to be reported.

    >>> explain(OSError(28, "No space left on device"))[0][:35]
    'The disk holding the workspace is f'
    >>> explain(KeyError("x"))
    ("Unexpected error: KeyError: 'x'; please report it with the command you ran.", 2)
    """
    for e in _chain(exc):
        if isinstance(e, JourneymapError) and not isinstance(e, EngineError):
            return _one_line(str(e)), 1
        if isinstance(e, WorkspaceBusyError):
            return _one_line(str(e)), 1
        if isinstance(e, EngineError):
            continue  # its message may quote the driver's error, which is explained below (or after the loop)
        found = _driver_error(e)
        if found is not None:
            return found
    if isinstance(exc, JourneymapError):
        return _one_line(str(exc)), 1
    if isinstance(exc, OSError):
        name = f" ({exc.filename})" if exc.filename else ""
        return (
            f"{exc.strerror or _first_line(str(exc))}{name}; check the path, its permissions and the free "
            "space, and run the command again."
        ), 1
    return (
        f"Unexpected error: {type(exc).__name__}: {_first_line(str(exc))}; please report it with the command you ran."
    ), UNEXPECTED_EXIT
