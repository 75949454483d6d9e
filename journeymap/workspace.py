"""A journeymap workspace: a folder with ``journeymap.toml``, ``blueprint.yaml``, the warehouse and ``reports/``.

Commands find it by ``-w/--workspace``, the ``JOURNEYMAP_WORKSPACE`` variable, or
the current folder (and its parents, like git).

Examples
--------
>>> import tempfile
>>> ws = Workspace.init(tempfile.mkdtemp() + "/shop")
>>> ws.events().count().execute()
0
>>> ws.blueprint.stage_names()[:2]
['awareness', 'consideration']
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
from ibis.common.exceptions import TableNotFound

from journeymap import engine, schema
from journeymap.blueprint import Blueprint, default_blueprint
from journeymap.engine import spark
from journeymap.errors import InputError, WorkspaceError

CONFIG_FILE = "journeymap.toml"
BLUEPRINT_FILE = "blueprint.yaml"
KEY_FILE = ".journeymap-key"
ENV_VAR = "JOURNEYMAP_WORKSPACE"

_CONFIG_TEMPLATE = """\
# journeymap workspace settings
[workspace]
name = {name!r}

[warehouse]
# Any Ibis backend URL: duckdb:///file.duckdb (relative to this folder), spark://local[2],
# sc://host:15002 (Spark Connect), postgres://user:password@host/db, ...
url = {url!r}
# Spark only: the folder of the tables' Parquet files (relative to this folder); with Spark Connect,
# a folder the cluster reads too (a shared mount).
spark_dir = {spark_dir!r}
# DuckDB's memory limit: beyond it DuckDB spills to disk (raise it on a bigger machine).
memory_limit = {memory_limit!r}

[ingest]
# Replace customer ids with a keyed hash (the key is kept in {key_file}, never in git).
pseudonymise = {pseudonymise}
# Time zone of source timestamps that carry none.
default_tz = "UTC"
# Rows whose time falls outside min_year..max_year are quarantined (default: 1970 to next year).
# min_year = 1900
# max_year = 2100

[report]
dir = "reports"
"""


@dataclass(frozen=True)
class Settings:
    """What ``journeymap.toml`` says."""

    name: str = "journeymap"
    url: str = engine.DEFAULT_URL
    memory_limit: str = engine.DEFAULT_MEMORY_LIMIT
    spark_dir: str = engine.SPARK_DIR
    pseudonymise: bool = False
    default_tz: str = "UTC"
    min_year: int | None = None
    max_year: int | None = None
    report_dir: str = "reports"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Settings:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{path} cannot be read as TOML ({e}); fix the line it names.") from None
        ws, wh, ing, rep = (data.get(k, {}) for k in ("workspace", "warehouse", "ingest", "report"))
        return cls(
            name=ws.get("name", path.parent.name),
            url=wh.get("url", engine.DEFAULT_URL),
            memory_limit=str(wh.get("memory_limit", engine.DEFAULT_MEMORY_LIMIT)),
            spark_dir=str(wh.get("spark_dir", engine.SPARK_DIR)),
            pseudonymise=bool(ing.get("pseudonymise", False)),
            default_tz=ing.get("default_tz", "UTC"),
            min_year=ing.get("min_year"),
            max_year=ing.get("max_year"),
            report_dir=rep.get("dir", "reports"),
            extra=data,
        )

    def render(self) -> str:
        return _CONFIG_TEMPLATE.format(
            name=self.name,
            url=self.url,
            memory_limit=self.memory_limit,
            spark_dir=self.spark_dir,
            pseudonymise=str(self.pseudonymise).lower(),
            key_file=KEY_FILE,
        )


class Workspace:
    """An open workspace: settings, blueprint and a connection to the warehouse."""

    def __init__(self, path: str | Path, settings: Settings | None = None, *, read_only: bool = False):
        self.path = Path(path).resolve()
        self.settings = settings or Settings.read(self.path / CONFIG_FILE)
        self.read_only = read_only
        self._con: engine.Connection | None = None
        self._blueprint: Blueprint | None = None

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}, url={self.settings.url!r})"

    # -- creation and discovery ------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        path: str | Path,
        *,
        url: str | None = None,
        name: str | None = None,
        blueprint: Blueprint | None = None,
        pseudonymise: bool = False,
        force: bool = False,
    ) -> Workspace:
        """Create a workspace folder with settings, blueprint and an empty warehouse."""
        path = Path(path)
        if url is not None and url.startswith(("spark://", "sc://")):
            spark.parse_url(url)  # a bad Spark URL is told before anything is written
        if (path / CONFIG_FILE).exists() and not force:
            raise WorkspaceError(
                f"{str(path)!r} is already a journeymap workspace; open it, or pass force=True "
                "(--force) to overwrite its settings and blueprint."
            )
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"{str(path)!r} is a file, not a folder; choose another path.")
        path.mkdir(parents=True, exist_ok=True)
        settings = Settings(name=name or path.resolve().name, url=url or engine.DEFAULT_URL, pseudonymise=pseudonymise)
        (path / CONFIG_FILE).write_text(settings.render(), encoding="utf-8")
        (blueprint or default_blueprint(settings.name)).save(path / BLUEPRINT_FILE)
        (path / settings.report_dir).mkdir(exist_ok=True)
        gitignore = path / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text(
                f"{KEY_FILE}\n*.duckdb\n*.duckdb.wal\n*.duckdb.tmp/\n.journeymap-locks/\n{spark.SCRATCH_DIR}/\n"
                f"{engine.SPARK_DIR}/\n",  # a Spark workspace's tables, like the DuckDB file
                encoding="utf-8",
            )
        ws = cls(path, settings)
        if pseudonymise and not ws.key_path.exists():
            ws.new_key()
        ws.ensure_tables()
        return ws

    @classmethod
    def open(cls, path: str | Path | None = None, *, read_only: bool = False) -> Workspace:
        """Open the workspace at ``path``, ``$JOURNEYMAP_WORKSPACE``, or the current folder or a parent.

        ``read_only=True`` opens the warehouse for reading: any number of such processes can work
        beside each other (one writer excludes them all). A warehouse another process holds is
        waited for up to ``$JOURNEYMAP_LOCK_TIMEOUT`` seconds (default 60); see docs/workspace.md.
        """
        if path is None:
            path = os.environ.get(ENV_VAR) or None
        if path is not None:
            p = Path(path)
            if not (p / CONFIG_FILE).is_file():
                raise WorkspaceError(
                    f"{str(p)!r} is not a journeymap workspace (no {CONFIG_FILE}); create one with: journeymap init {p}"
                )
            return cls(p, read_only=read_only)
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_FILE).is_file():
                return cls(folder, read_only=read_only)
        raise WorkspaceError(
            f"No journeymap workspace in {str(here)!r} or its parents; pass -w DIR, set "
            f"{ENV_VAR}, or create one with: journeymap init DIR"
        )

    # -- warehouse -------------------------------------------------------------------------------
    @property
    def con(self) -> engine.Connection:
        """The Ibis connection to the warehouse (opened on first use)."""
        if self._con is None:
            self._con = engine.connect(
                self.settings.url,
                base=self.path,
                memory_limit=self.settings.memory_limit,
                read_only=self.read_only,
                spark_dir=self.settings.spark_dir,
            )
        return self._con

    def reopen(self, *, read_only: bool) -> None:
        """Close the warehouse and open it again (on next use) for reading only, or for writing."""
        if read_only != self.read_only:
            self.close()
            self.read_only = read_only

    def close(self) -> None:
        con, self._con = self._con, None
        engine.disconnect(con)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_spark(self) -> bool:
        """Whether the warehouse is a Spark workspace's Parquet folder (``spark://`` or ``sc://``)."""
        return self.settings.url.startswith(("spark://", "sc://"))

    def spark_warehouse(self):
        """The Parquet warehouse of a Spark workspace (:class:`journeymap.engine.spark_store.Warehouse`)."""
        return engine.spark_warehouse(self.path, self.settings.spark_dir)

    def ensure_tables(self) -> None:
        """Create any missing canonical table, empty (a Spark workspace's without starting Spark)."""
        if self.is_spark:
            if self._con is None:
                from journeymap.engine.spark import parse_url

                parse_url(self.settings.url)  # a bad URL is told at init
                self.spark_warehouse().ensure_tables()
            return  # an open connection made them when it connected
        existing = set(engine.list_tables(self.con))
        for name, sch in schema.TABLES.items():
            if name not in existing:
                engine.create_table(self.con, name, sch)
            elif name != "customers" and self.con.name == "duckdb":
                # workspaces made before a column was added get it, empty
                have = set(self.con.table(name).columns)
                missing = {c: "BIGINT" if sch[c].is_integer() else "VARCHAR" for c in sch.names if c not in have}
                engine.add_columns(self.con, name, missing)

    def table(self, name: str) -> ibis.Table:
        if name not in schema.TABLES:
            raise InputError(f"Table {name!r} is not a journeymap table; use one of {', '.join(schema.TABLES)}.")
        try:
            return self.con.table(name)
        except TableNotFound:
            if self.read_only:  # a warehouse made outside journeymap, or one whose first ingest was stopped
                raise WorkspaceError(
                    f"The warehouse of {str(self.path)!r} has no {name} table yet (no data yet): load data with "
                    f"`journeymap ingest events FILE`."
                ) from None
            self.ensure_tables()
            return self.con.table(name)

    def events(self) -> ibis.Table:
        """The ``events`` table as an Ibis expression."""
        return self.table("events")

    def feedback(self) -> ibis.Table:
        """The ``feedback`` table as an Ibis expression."""
        return self.table("feedback")

    def customers(self) -> ibis.Table:
        """The ``customers`` table as an Ibis expression."""
        return self.table("customers")

    def quarantine(self) -> ibis.Table:
        """Rows that could not be loaded, with reasons."""
        return self.table("quarantine")

    def ingest_log(self) -> ibis.Table:
        """One row per ingested source with read / loaded / quarantined / duplicate."""
        return self.table("ingest_log")

    # -- blueprint -------------------------------------------------------------------------------
    @property
    def blueprint_path(self) -> Path:
        return self.path / BLUEPRINT_FILE

    @property
    def blueprint(self) -> Blueprint:
        """The validated blueprint (read once; :meth:`reload_blueprint` re-reads)."""
        if self._blueprint is None:
            self._blueprint = Blueprint.load(self.blueprint_path)
        return self._blueprint

    def reload_blueprint(self) -> Blueprint:
        self._blueprint = None
        return self.blueprint

    def save_blueprint(self, blueprint: Blueprint) -> None:
        blueprint.save(self.blueprint_path)
        self._blueprint = blueprint

    @property
    def report_dir(self) -> Path:
        return self.path / self.settings.report_dir

    # -- ingest ----------------------------------------------------------------------------------
    @property
    def key_path(self) -> Path:
        return self.path / KEY_FILE

    def pseudonym_key(self) -> bytes | None:
        """The workspace's key for hashing customer ids; None when the workspace does not pseudonymise.

        The key is made at :meth:`init`. A pseudonymising workspace without it (a git clone: the key
        is never committed) refuses, since a new key would give the same person a second pseudonym.
        """
        if not self.settings.pseudonymise:
            return None
        if not self.key_path.exists():
            raise WorkspaceError(
                f"This workspace pseudonymises customer ids but its key file {KEY_FILE} is missing (a git "
                "clone has none): copy it from the workspace it came from with `journeymap key export` "
                "there and `journeymap key import FILE` here, or start a new key with `journeymap key new` "
                "(the same customers then get other pseudonyms than before)."
            )
        return _read_key(self.key_path)

    def export_key(self) -> str:
        """The key as hex text, to copy to another copy of this workspace (:meth:`import_key`)."""
        key = self.pseudonym_key()
        if key is None:
            raise WorkspaceError("This workspace does not pseudonymise customer ids, so it has no key to export.")
        return key.hex()

    def import_key(self, text: str, *, force: bool = False) -> None:
        """Install a key exported from another copy of this workspace."""
        key = _parse_key(text)
        if self.key_path.exists() and not force and _read_key(self.key_path) != key:
            raise WorkspaceError(
                f"This workspace already has a different key in {KEY_FILE}; pass --force to replace it "
                "(customers already loaded keep their old pseudonyms)."
            )
        _write_key(self.key_path, key)

    def new_key(self, *, force: bool = False) -> None:
        """Make a new random key (only when none exists, unless ``force``)."""
        if self.key_path.exists() and not force:
            raise WorkspaceError(f"This workspace already has a key in {KEY_FILE}; pass --force to replace it.")
        _write_key(self.key_path, secrets.token_bytes(32))

    def ingest(self, table: str, paths: Sequence[str | Path], **options: Any):
        """Load files into ``events``, ``feedback`` or ``customers``; see :func:`journeymap.ingest.ingest`."""
        if self.read_only:
            raise WorkspaceError("This workspace was opened read-only; open it with read_only=False to ingest.")
        self.ensure_tables()
        if self.is_spark and self._con is None:
            # a Spark workspace's ingest needs no Spark session (no JVM): the warehouse, held for writing
            with engine.SparkWarehouseWriter(self.path, self.settings.spark_dir) as writer:
                return self._ingest(writer, table, paths, **options)
        return self._ingest(self.con, table, paths, **options)

    def _ingest(self, con: Any, table: str, paths: Sequence[str | Path], **options: Any):
        from journeymap.ingest import ingest

        return ingest(
            con,
            table,
            [Path(p) for p in paths],
            blueprint=self.blueprint,
            pseudonym_key=self.pseudonym_key(),
            default_tz=self.settings.default_tz,
            **{"years": (self.settings.min_year, self.settings.max_year), **options},
        )

    def ingest_events(self, *paths: str | Path, progress: Callable | None = None, **options: Any):
        """Load event files; returns an :class:`~journeymap.ingest.IngestReport`."""
        return self.ingest("events", paths, progress=progress, **options)

    def ingest_feedback(
        self, *paths: str | Path, progress: Callable | None = None, ts_default: str | None = None, **options: Any
    ):
        """Load feedback files (surveys, reviews, tickets...).

        ``ts_default`` dates files without a time column: ``"load"`` (now) or an ISO date.
        """
        if ts_default is not None:
            options["ts_default"] = ts_default
        return self.ingest("feedback", paths, progress=progress, **options)

    def ingest_customers(self, *paths: str | Path, progress: Callable | None = None, **options: Any):
        """Load customer attribute files (latest row per customer wins)."""
        return self.ingest("customers", paths, progress=progress, **options)


def _parse_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise InputError(
            "A workspace key is 64 hexadecimal characters (as `journeymap key export` prints it); "
            "the text given is not one."
        )
    return key


def _read_key(path: Path) -> bytes:
    try:
        return _parse_key(path.read_text(encoding="utf-8"))
    except InputError:
        raise WorkspaceError(
            f"The key file {path} is damaged (not 64 hexadecimal characters); restore it with "
            "`journeymap key import FILE` from a copy of this workspace."
        ) from None


def _write_key(path: Path, key: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key.hex(), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
