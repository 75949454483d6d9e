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
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
from ibis.backends import BaseBackend

from journeymap.errors import EngineError, InputError, missing_extra

DEFAULT_URL = "duckdb:///journeymap.duckdb"

DEFAULT_MEMORY_LIMIT = "1500MB"
"""DuckDB's buffer limit for a workspace (``[warehouse] memory_limit``): beyond it DuckDB spills to
disk, so the whole process stays within about 2 GB on millions of events. Raise it on a bigger machine."""

_SPARK_SESSIONS: dict[str, Any] = {}


def connect(url: str | None = None, base: str | Path | None = None, memory_limit: str | None = None) -> BaseBackend:
    """Connect to the warehouse at ``url`` (a relative DuckDB path is taken from ``base``).

    ``memory_limit`` (DuckDB only, e.g. ``"1500MB"``) caps DuckDB's buffers; work beyond it spills to disk.
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
            con = ibis.duckdb.connect(str(p))
        con.raw_sql("SET TimeZone = 'UTC'")
        if memory_limit:
            try:
                con.raw_sql(f"SET memory_limit = '{memory_limit}'")
            except Exception as e:  # duckdb's own parse error
                raise InputError(
                    f"memory_limit {memory_limit!r} is not a size DuckDB understands ({e}); "
                    "write it like \"1500MB\" or \"4GB\" in journeymap.toml."
                ) from None
        return con
    if scheme == "spark":
        return connect_spark(url.split("://", 1)[1] or "local[2]")
    try:
        return ibis.connect(url)
    except ModuleNotFoundError as e:
        raise missing_extra(e.name or scheme, scheme, f"Engine {scheme!r}") from None
    except Exception as e:  # driver errors differ per backend
        raise EngineError(f"Cannot connect to warehouse {url!r}: {e}; check the URL in journeymap.toml.") from e


def connect_spark(master: str = "local[2]") -> BaseBackend:
    """A pyspark local (or cluster) session wrapped by Ibis; one session per master per process."""
    try:
        from pyspark.sql import SparkSession
    except ModuleNotFoundError:
        raise missing_extra("pyspark", "spark", "Engine 'spark'") from None
    session = _SPARK_SESSIONS.get(master)
    if session is None:
        os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
        # tables Spark writes go to a folder of the session's own, never ./spark-warehouse in the caller's folder
        scratch = os.environ.get("JOURNEYMAP_SPARK_DIR") or tempfile.mkdtemp(prefix="journeymap-spark-")
        session = (
            SparkSession.builder.master(master)
            .appName("journeymap")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "2g")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={scratch}")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        _SPARK_SESSIONS[master] = session
    return ibis.pyspark.connect(session)


def backend_name(con: BaseBackend) -> str:
    """``duckdb``, ``pyspark``, ... for a connection."""
    return con.name


def execute(expr: ibis.Expr, con: BaseBackend | None = None, limit: int | None = None):
    """Run an expression and return a pandas object (or a scalar)."""
    try:
        if con is not None:
            return con.execute(expr, limit=limit)
        return expr.execute(limit=limit)
    except InputError:
        raise
    except Exception as e:
        raise EngineError(f"The engine failed to run a query: {e}") from e


def to_pyarrow(expr: ibis.Expr, con: BaseBackend | None = None):
    """Run an expression and return a pyarrow Table."""
    try:
        return con.to_pyarrow(expr) if con is not None else expr.to_pyarrow()
    except Exception as e:
        raise EngineError(f"The engine failed to run a query: {e}") from e


def table_exists(con: BaseBackend, name: str) -> bool:
    return name in con.list_tables()


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
            con.raw_sql("ROLLBACK")
            raise
        else:
            con.raw_sql("COMMIT")
    else:
        yield
