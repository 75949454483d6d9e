"""The web app's own database: users, roles, sessions, API tokens, comments, map versions, audit,
blueprint snapshots, changes and refused (conflicting) edits.

SQLite inside the workspace by default (``<workspace>/.journeymap-web.sqlite``); PostgreSQL (or any
SQLAlchemy URL) by ``[web] database_url`` in ``journeymap.toml``. The schema is made and upgraded by
the Alembic migrations in ``journeymap/web/migrations`` (:func:`migrate`), never by ``create_all``.
The warehouse stays the analytics store; nothing here touches it.
"""

from __future__ import annotations

import hashlib
import secrets
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

from journeymap.errors import InputError

DB_FILE = ".journeymap-web.sqlite"
ROLES = ("viewer", "commenter", "editor", "owner")
RANK = {role: i for i, role in enumerate(ROLES)}
MIGRATIONS = Path(__file__).with_name("migrations")


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # stored naive, always UTC


def token_hash(token: str) -> str:
    """Session and API tokens are stored as their SHA-256 (random 256-bit tokens need no slow hash)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # one workspace per app: the membership's role lives on the user
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    created: Mapped[datetime] = mapped_column(DateTime, default=now)


class Session(Base):
    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    expires: Mapped[datetime] = mapped_column(DateTime)
    user: Mapped[User] = relationship(lazy="joined")  # loaded with the row: one query per request


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    user: Mapped[User] = relationship(lazy="joined")


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    element: Mapped[str] = mapped_column(String(200), index=True)
    text: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), nullable=True)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    author: Mapped[User | None] = relationship(lazy="joined")  # no query per comment when listing


class MapVersion(Base):
    __tablename__ = "map_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    document: Mapped[str] = mapped_column(Text)  # the JourneyMap JSON


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    when: Mapped[datetime] = mapped_column(DateTime, default=now, index=True)
    who: Mapped[str | None] = mapped_column(String(254), nullable=True)  # email (kept if the user goes)
    what: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BlueprintSnapshot(Base):
    """A blueprint.yaml text the app has seen, by its version (the SHA-256 of the text, 16 hex digits);
    ``id`` orders them. Kept so an edit that started from an older version can be compared field by field."""

    __tablename__ = "blueprint_snapshots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    text: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)


class BlueprintChange(Base):
    """One accepted edit of a touchpoint from the app: who, when, the touchpoint, its fields before and after."""

    __tablename__ = "blueprint_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now, index=True)
    who: Mapped[str | None] = mapped_column(String(254), nullable=True)  # email (kept if the user goes)
    touchpoint: Mapped[str] = mapped_column(String(200), index=True)  # its name before the edit
    new_name: Mapped[str] = mapped_column(String(200))  # its name after (the same unless renamed)
    version_before: Mapped[str] = mapped_column(String(64))
    version_after: Mapped[str] = mapped_column(String(64), index=True)
    after_seq: Mapped[int] = mapped_column(Integer)  # the BlueprintSnapshot.id of version_after
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BlueprintConflict(Base):
    """An edit refused with 409 (its base version was stale and the same fields had changed), kept so the
    editor can apply it again or drop it: nothing typed is lost."""

    __tablename__ = "blueprint_conflicts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True)
    touchpoint: Mapped[str] = mapped_column(String(200))
    base_version: Mapped[str] = mapped_column(String(64))
    current_version: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    theirs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    open: Mapped[bool] = mapped_column(Boolean, default=True)


def database_url(workspace: str | Path) -> str:
    """``[web] database_url`` of the workspace's journeymap.toml, else the SQLite file in the workspace."""
    ws = Path(workspace).resolve()
    config = ws / "journeymap.toml"
    if config.is_file():
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{config} cannot be read as TOML ({e}); fix the line it names.") from None
        url = data.get("web", {}).get("database_url")
        if url:
            return str(url)
    return f"sqlite:///{ws / DB_FILE}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(eng, "connect")
        def _pragmas(dbapi_con: Any, _record: Any) -> None:
            cur = dbapi_con.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return eng
    if url.startswith(("postgresql://", "postgres://")):  # the driver the web extra ships: psycopg 3
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        return create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as e:
        raise InputError(
            f"The web database URL {url.split('://')[0]}:// needs the driver {e.name}, which is not installed; "
            "install it (for PostgreSQL: pip install 'psycopg[binary]')."
        ) from None


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (Alembic ``upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    try:
        command.upgrade(cfg, "head")
    except OperationalError as e:  # a server database that cannot be reached: one sentence, password hidden
        if url.startswith("sqlite"):
            raise
        why = str(e.orig or e).strip().splitlines()[0].rstrip(".")
        shown = make_url(url).render_as_string(hide_password=True)
        raise InputError(
            f"The web database {shown} cannot be reached ({why}); check [web] database_url in journeymap.toml "
            "and that the server runs."
        ) from None


class Database:
    """An engine and its session factory over one migrated database."""

    def __init__(self, url: str, *, upgrade: bool = True):
        self.url = url
        if upgrade:
            migrate(url)
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def for_workspace(cls, workspace: str | Path) -> Database:
        """The workspace's database; the default SQLite file is added to the workspace's .gitignore
        (it holds password hashes and sessions, never for git)."""
        url = database_url(workspace)
        if url == f"sqlite:///{Path(workspace).resolve() / DB_FILE}":
            _ignore(Path(workspace).resolve() / ".gitignore", f"{DB_FILE}*")
        return cls(url)

    def dispose(self) -> None:
        self.engine.dispose()


def _ignore(gitignore: Path, pattern: str) -> None:
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    if pattern not in lines:
        gitignore.write_text("\n".join([*lines, pattern]) + "\n", encoding="utf-8")


def audit(db: Any, who: str | None, what: str, **detail: Any) -> None:
    """Add an audit row to the open SQLAlchemy session ``db`` (committed with the change it records)."""
    db.add(AuditLog(who=who, what=what, detail=detail))
