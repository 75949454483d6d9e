"""Spark sessions: local (``spark://local[2]``) or Spark Connect (``sc://host:port``), quiet and tidy.

One session per master per process. A session made here

- writes its scratch files (shuffle blocks, Java's temporary files, the JVM's own output) under one
  folder of its own, removed when the process ends: ``<workspace>/.journeymap-spark/run-<pid>-*``
  for a workspace, else ``journeymap-spark-*`` in ``$JOURNEYMAP_SPARK_DIR`` or the temporary folder;
- keeps Spark's log lines and progress bars out of the command's output (log4j at ERROR, no
  console progress; what the JVM prints goes to ``spark.log`` in that folder);
- for a workspace, registers every table of the workspace's Parquet warehouse
  (:mod:`journeymap.engine.spark_store`) as a view when it connects, so every process sees the
  tables the last ingest published.

Examples
--------
>>> parse_url("spark://local[2]")
('local', 'local[2]')
>>> parse_url("sc://spark.example.com:15002")
('connect', 'sc://spark.example.com:15002')
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from journeymap.errors import EngineError, InputError, missing_extra

_SESSIONS: dict[str, Any] = {}
_SCRATCH: list[Path] = []

SCRATCH_DIR = ".journeymap-spark"
"""The folder of a workspace where its Spark sessions keep their scratch files (one folder per process)."""

JAVA_OPTIONS_ENV = "JOURNEYMAP_SPARK_JAVA_OPTIONS"
QUICK_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
"""The local JVM's default options (``$JOURNEYMAP_SPARK_JAVA_OPTIONS`` replaces them): a command's JVM lives
seconds to minutes, so the quick JIT compiler alone and the serial collector cost less CPU than the
optimising compiler and G1's threads (the map of a small workspace: about 2x less wall time on 2 busy
cores). For long jobs on big data, set the variable to "" (the JVM's defaults)."""


def _local_cores(master: str) -> int:
    """Shuffle partitions for a local master: its cores (``local[4]``: 4, ``local[*]``: all), at least 2;
    Spark's 200 make hundreds of tiny tasks per query on one machine."""
    inside = (master[master.find("[") + 1 : master.find("]")] if "[" in master else "1").split(",")[0].strip()
    if inside == "*":
        return max(2, os.cpu_count() or 2)
    return max(2, int(inside)) if inside.isdigit() else 2


_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = error
"""


def parse_url(url: str) -> tuple[str, str]:
    """``("local", master)`` for ``spark://MASTER`` (``spark://`` alone: ``local[2]``), ``("connect", url)``
    for ``sc://host[:port]``; InputError for anything else."""
    if url.startswith("sc://"):
        rest = url[len("sc://") :]
        host = rest.split("/", 1)[0].split(";", 1)[0]
        if not host or host.startswith(":"):
            raise InputError(
                f"Spark Connect URL {url!r} names no host; write it like sc://spark.example.com:15002 in "
                "[warehouse] url of journeymap.toml."
            )
        port = host.rsplit(":", 1)[1] if ":" in host else "15002"
        if not port.isdigit():
            raise InputError(
                f"Spark Connect URL {url!r} has port {port!r}, not a number; write it like sc://host:15002."
            )
        return "connect", url
    if url.startswith("spark://"):
        master = url[len("spark://") :] or "local[2]"
        return "local", master
    raise InputError(f"{url!r} is not a Spark URL; use spark://local[2] or sc://host:port.")


def _scratch(base: Path | None) -> Path:
    if base is not None:
        root = base / SCRATCH_DIR
        root.mkdir(parents=True, exist_ok=True)
        _clean_dead(root)
        folder = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=root))
    else:
        folder = Path(tempfile.mkdtemp(prefix="journeymap-spark-", dir=os.environ.get("JOURNEYMAP_SPARK_DIR") or None))
    _SCRATCH.append(folder)
    return folder


def _clean_dead(root: Path) -> None:
    """Remove scratch folders of processes that are gone (killed before they could)."""
    for entry in root.glob("run-*-*"):
        try:
            pid = int(entry.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def _stop_all() -> None:
    """At exit: stop the sessions made here (the JVM goes with them), then remove their scratch folders."""
    for session in list(_SESSIONS.values()):
        with contextlib.suppress(Exception):
            session.stop()
    _SESSIONS.clear()
    for folder in _SCRATCH:
        shutil.rmtree(folder, ignore_errors=True)
    _SCRATCH.clear()


def session(master: str, base: Path | None = None) -> Any:
    """The process's local Spark session for ``master`` (made on first use; see the module's notes)."""
    found = _SESSIONS.get(master)
    if found is not None:
        return found
    try:
        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway
        from pyspark.sql import SparkSession
    except ModuleNotFoundError:
        raise missing_extra("pyspark", "spark", "Engine 'spark'") from None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise EngineError("Engine 'spark' needs a Java runtime (Java 17 or later); install one or set JAVA_HOME.")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    scratch = _scratch(base)
    (scratch / "log4j2.properties").write_text(_LOG4J, encoding="utf-8")
    (scratch / "tmp").mkdir()
    java = (
        f"-Dlog4j2.configurationFile=file:{scratch / 'log4j2.properties'} -Djava.io.tmpdir={scratch / 'tmp'} "
        f"-Dderby.system.home={scratch} -XX:-UsePerfData {os.environ.get(JAVA_OPTIONS_ENV, QUICK_JVM)}"
    )
    conf = (
        SparkConf()
        .setMaster(master)
        .setAppName("journeymap")
        .set("spark.sql.session.timeZone", "UTC")
        .set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "false")
        .set("spark.driver.memory", "2g")
        .set("spark.sql.execution.arrow.pyspark.enabled", "true")
        .set("spark.local.dir", str(scratch / "local"))
        # tables ibis or the voice scores write go to the session's own folder, never ./spark-warehouse
        .set("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .set("spark.driver.extraJavaOptions", java)
        .set("spark.executor.extraJavaOptions", java)
    )
    if master.startswith("local"):
        conf.set("spark.sql.shuffle.partitions", str(_local_cores(master)))
    # the JVM's own lines (JAVA_TOOL_OPTIONS, incubator modules, log4j's start) go to a file, not the terminal
    log = open(scratch / "spark.log", "ab")  # noqa: SIM115  (the JVM keeps writing to it)
    try:
        gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})
        sc = SparkContext(conf=conf, gateway=gateway)
    except Exception as e:
        raise EngineError(
            f"Spark did not start ({' '.join(str(e).split())[:200]}); see {scratch / 'spark.log'} "
            "(Spark needs Java 17 or later)."
        ) from None
    finally:
        log.close()
    sc.setLogLevel("ERROR")
    found = SparkSession(sc)
    if not _SESSIONS:
        atexit.register(_stop_all)  # registered after pyspark's own: runs first
    _SESSIONS[master] = found
    return found


def connect_session(url: str) -> Any:
    """A Spark Connect session for ``sc://host:port``; one sentence when it cannot be made or reached."""
    found = _SESSIONS.get(url)
    if found is not None:
        return found
    try:
        from pyspark.sql import SparkSession
    except ModuleNotFoundError:
        raise missing_extra("pyspark", "spark", "Engine 'spark'") from None
    try:
        import grpc  # noqa: F401  (Spark Connect's client needs it)
    except ModuleNotFoundError:
        raise EngineError(
            f"The warehouse {url!r} is a Spark Connect server, whose client needs grpcio, which is not "
            "installed. Install it with: pip install 'pyspark[connect]'"
        ) from None
    try:
        found = SparkSession.builder.remote(url).getOrCreate()
        found.sql("SELECT 1").collect()  # the connection is made lazily: reach the server now
    except Exception as e:
        detail = " ".join(str(e).split())[:200]
        raise EngineError(
            f"Cannot reach the Spark Connect server {url!r} ({detail}); check that it runs and that "
            "[warehouse] url in journeymap.toml names its host and port."
        ) from None
    found.conf.set("spark.sql.session.timeZone", "UTC")
    if not _SESSIONS:
        atexit.register(_stop_all)
    _SESSIONS[url] = found
    return found


def register_tables(spark: Any, tables: dict[str, Path]) -> None:
    """Register each table's Parquet folder as a view of its name (replacing a view of that name)."""
    for name, folder in tables.items():
        try:
            spark.read.parquet(str(folder)).createOrReplaceTempView(name)
        except Exception as e:
            raise EngineError(
                f"Spark cannot read the table {name} from {str(folder)!r} ({' '.join(str(e).split())[:200]}); "
                "check that the warehouse folder is readable where Spark runs."
            ) from None


__all__ = ["SCRATCH_DIR", "connect_session", "parse_url", "register_tables", "session"]
