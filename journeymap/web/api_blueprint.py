"""Curation together and versions: the blueprint's routes of the web app (:func:`install`).

- ``GET /api/blueprint`` (viewer): the touchpoints' editable fields, the stages and personas a form
  offers, and the blueprint's **version** (:func:`journeymap.web.curation.version_of` of blueprint.yaml,
  so a hand edit in git changes it too).
- ``PATCH /api/blueprint/touchpoints/{name}`` (editor, CSRF): ``{"base_version", "changes": {...}}``.
  Checked by the blueprint's own rules (400, one sentence), written to blueprint.yaml atomically under
  a process lock and a file lock (``.journeymap-locks/blueprint.lock``, for several workers), stored as
  a :class:`~journeymap.web.db.BlueprintChange` (who, when, before, after), audited, published as a
  ``blueprint`` event. A rename moves the comments of the touchpoint's ids in the same transaction.
- **Conflicts**: when ``base_version`` is not the current version and a field the edit touches has
  changed since that version (or the version is unknown to the app), the answer is 409 with
  ``{"detail", "yours", "theirs", "base", "version", "conflict"}``; the refused edit is kept as a
  :class:`~journeymap.web.db.BlueprintConflict` (``GET /api/blueprint/conflicts``) until it is applied
  again (``"resolves": id`` in the PATCH) or dropped (``DELETE /api/blueprint/conflicts/{id}``).
  Edits of other fields or other touchpoints since the base version merge.
- ``GET /api/blueprint/changes`` (viewer): the accepted changes, newest first.
- ``GET /api/versions/{a}/diff/{b}`` (viewer): ``journeymap diff`` of two stored map versions.

A rename answers with a ``note``: the warehouse keeps the names of the last ingest, so the map shows the new
name with its data after the next ``journeymap ingest``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from journeymap.blueprint import Blueprint
from journeymap.errors import BlueprintError
from journeymap.locks import LOCK_DIR
from journeymap.web import events
from journeymap.web.auth import Principal, require
from journeymap.web.curation import (
    FIELDS,
    EditError,
    apply_changes,
    blueprint_view,
    conflicting_fields,
    field_values,
    new_touchpoint_name,
    touched,
    version_of,
)
from journeymap.web.db import (
    BlueprintChange,
    BlueprintConflict,
    BlueprintSnapshot,
    Comment,
    Database,
    MapVersion,
    audit,
)
from journeymap.web.figures import renamed_ids

BLUEPRINT_FILE = "blueprint.yaml"
LOCK_FILE = f"{LOCK_DIR}/blueprint.lock"  # beside the warehouse holders' records (journeymap.locks)
OUTSIDE = "blueprint.yaml changed outside the app (by hand or through git)"

Viewer = Annotated[Principal, Depends(require("viewer"))]
Editor = Annotated[Principal, Depends(require("editor"))]


class TouchpointEdit(BaseModel):
    base_version: str = Field(min_length=1, max_length=64)
    changes: dict[str, Any] = Field(description="the fields to change: " + ", ".join(FIELDS) + " (null clears one)")
    resolves: int | None = None
    """The id of a kept conflict this edit applies again (closed when the edit is accepted)."""


def _iso(t: Any) -> str:
    return t.isoformat(timespec="seconds") + "Z"


@contextlib.contextmanager
def _file_lock(workspace: Path) -> Iterator[None]:
    """An exclusive lock on ``.journeymap-locks/blueprint.lock`` (POSIX ``flock``; other systems: none,
    the process lock still serialises one server)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = workspace / LOCK_FILE
    path.parent.mkdir(exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read(path: Path) -> tuple[str, str, Blueprint]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HTTPException(
            404, f"The workspace has no {BLUEPRINT_FILE}; create it with journeymap init or blueprint draft."
        ) from None
    try:
        bp = Blueprint.from_yaml(text, filename=BLUEPRINT_FILE)
    except BlueprintError as e:
        raise HTTPException(409, str(e)) from None  # the loader's sentence names the line and the fix
    return text, version_of(text), bp


def _snapshot(db: Database, version: str, text: str) -> BlueprintSnapshot:
    """The stored snapshot of ``version`` (stored now when new)."""
    with db.sessions() as s:
        row = s.scalar(select(BlueprintSnapshot).where(BlueprintSnapshot.version == version))
        if row is not None:
            return row
        row = BlueprintSnapshot(version=version, text=text)
        s.add(row)
        try:
            s.commit()
        except IntegrityError:  # another request stored it first
            s.rollback()
            row = s.scalar(select(BlueprintSnapshot).where(BlueprintSnapshot.version == version))
            assert row is not None
        return row


def _change(c: BlueprintChange) -> dict[str, Any]:
    return {
        "id": c.id,
        "when": _iso(c.created),
        "who": c.who,
        "touchpoint": c.touchpoint,
        "new_name": c.new_name,
        "version_before": c.version_before,
        "version": c.version_after,
        "before": c.before,
        "after": c.after,
    }


def _conflict(c: BlueprintConflict) -> dict[str, Any]:
    return {
        "id": c.id,
        "when": _iso(c.created),
        "touchpoint": c.touchpoint,
        "base_version": c.base_version,
        "version": c.current_version,
        "yours": c.changes,
        "theirs": c.theirs,
    }


def install(app: FastAPI) -> None:
    """Register the blueprint and version-diff routes on ``app`` (made by ``journeymap.web.app.create_app``)."""
    db: Database = app.state.db
    workspace: Path = Path(app.state.workspace)
    path = workspace / BLUEPRINT_FILE
    process_lock = threading.Lock()
    app.state.blueprint_lock = process_lock

    def _theirs(
        base_seq: int | None,
        name: str,
        fields: list[str],
        clash: list[str],
        current: dict[str, Any] | None,
        version: str,
    ) -> dict[str, Any]:
        """The touchpoint's values now (of the edit's ``fields``), and who changed it since the base version."""
        with db.sessions() as s:
            q = select(BlueprintChange).order_by(BlueprintChange.id)
            if base_seq is not None:
                q = q.where(BlueprintChange.after_seq > base_seq)
            names = {name, (current or {}).get("name")}
            rows = [c for c in s.scalars(q) if c.touchpoint in names or c.new_name in names]
            explained = s.scalar(select(BlueprintChange.id).where(BlueprintChange.version_after == version).limit(1))
            snap = s.scalar(select(BlueprintSnapshot).where(BlueprintSnapshot.version == version))
        changed_by = [
            {"who": c.who, "when": _iso(c.created), "fields": sorted(set(c.after) & set(clash)) or sorted(c.after)}
            for c in rows
        ]
        if explained is None:
            changed_by.append(
                {"who": None, "when": _iso(snap.created) if snap else None, "fields": [], "note": OUTSIDE}
            )
        return {"values": touched(current, fields), "name": (current or {}).get("name"), "changed_by": changed_by}

    @app.get("/api/blueprint", tags=["blueprint"])
    def get_blueprint(who: Viewer) -> dict[str, Any]:
        """The blueprint's touchpoints (editable fields), stages, personas and its current version."""
        text, version, bp = _read(path)
        _snapshot(db, version, text)
        return blueprint_view(bp, version)

    @app.get("/api/blueprint/changes", tags=["blueprint"])
    def list_changes(
        who: Viewer,
        touchpoint: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """The accepted changes of the blueprint (of one touchpoint, by its old or new name), newest first."""
        with db.sessions() as s:
            q = select(BlueprintChange).order_by(BlueprintChange.id.desc()).limit(limit)
            if touchpoint is not None:
                q = q.where((BlueprintChange.touchpoint == touchpoint) | (BlueprintChange.new_name == touchpoint))
            return [_change(c) for c in s.scalars(q)]

    @app.get("/api/blueprint/conflicts", tags=["blueprint"])
    def list_conflicts(who: Editor) -> list[dict[str, Any]]:
        """Your refused (conflicting) edits that are still open, newest first."""
        with db.sessions() as s:
            q = (
                select(BlueprintConflict)
                .where(BlueprintConflict.user_id == who.user_id, BlueprintConflict.open.is_(True))
                .order_by(BlueprintConflict.id.desc())
            )
            return [_conflict(c) for c in s.scalars(q)]

    @app.delete("/api/blueprint/conflicts/{conflict_id}", tags=["blueprint"])
    def drop_conflict(conflict_id: int, who: Editor) -> dict[str, Any]:
        """Keep theirs: close one of your refused edits without applying it (an owner may close anyone's)."""
        with db.sessions() as s:
            c = s.get(BlueprintConflict, conflict_id)
            if c is None or not c.open or (c.user_id != who.user_id and who.role != "owner"):
                raise HTTPException(
                    404, f"You have no open conflict {conflict_id}; GET /api/blueprint/conflicts lists them."
                )
            c.open = False
            audit(s, who.email, "blueprint.conflict.drop", id=c.id, touchpoint=c.touchpoint)
            s.commit()
            return {"status": "dropped", "id": conflict_id}

    @app.patch("/api/blueprint/touchpoints/{name:path}", tags=["blueprint"])
    def edit_touchpoint(name: str, body: TouchpointEdit, who: Editor) -> Any:
        """Change one touchpoint's fields, starting from ``base_version`` (409 with both views on a conflict)."""
        changes = body.changes
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise HTTPException(
                400, f"{unknown[0]!r} is not a touchpoint field the page can change; use one of {', '.join(FIELDS)}."
            )
        fields = [f for f in FIELDS if f in changes]
        if not fields:
            raise HTTPException(400, "The edit changes nothing; send at least one field under changes.")
        with process_lock, _file_lock(workspace):
            text, version, bp = _read(path)
            _snapshot(db, version, text)
            new_bp: Blueprint | None = None
            if bp.touchpoint(name) is not None:  # a refused value is 400 first, stale or not
                try:
                    new_bp = apply_changes(bp, name, changes)
                except EditError as e:
                    raise HTTPException(400, str(e)) from None
            if body.base_version != version:
                with db.sessions() as s:
                    base_snap = s.scalar(
                        select(BlueprintSnapshot).where(BlueprintSnapshot.version == body.base_version)
                    )
                base_bp = Blueprint.from_yaml(base_snap.text) if base_snap is not None else None
                clash = conflicting_fields(base_bp, bp, name, fields) if base_bp is not None else list(fields)
                if clash:
                    now_values = field_values(bp, name)
                    theirs = _theirs(base_snap.id if base_snap else None, name, fields, clash, now_values, version)
                    base = {
                        "version": body.base_version,
                        "values": touched(field_values(base_bp, name), fields) if base_bp else None,
                    }
                    if base_bp is None:
                        base["note"] = "the app never served this version; reload the page"
                    with db.sessions() as s:
                        row = BlueprintConflict(
                            user_id=who.user_id,
                            touchpoint=name,
                            base_version=body.base_version,
                            current_version=version,
                            changes=json.loads(json.dumps(changes)),
                            theirs=theirs,
                        )
                        s.add(row)
                        s.flush()
                        audit(s, who.email, "blueprint.conflict", id=row.id, touchpoint=name, fields=clash)
                        s.commit()
                        conflict_id = row.id
                    detail = (
                        f"Touchpoint {name!r} changed since you opened it ({', '.join(clash)}); "
                        "compare both versions, then keep theirs or apply yours again."
                    )
                    return _json(
                        409,
                        {
                            "detail": detail,
                            "conflict": conflict_id,
                            "version": version,
                            "fields": clash,
                            "yours": changes,
                            "theirs": theirs,
                            "base": base,
                        },
                    )
            if new_bp is None:
                raise HTTPException(404, f"There is no touchpoint {name!r} in the blueprint; reload the page.")
            before_all = field_values(bp, name) or {}
            after_all = field_values(new_bp, new_touchpoint_name(new_bp, name, changes)) or {}
            before = {f: before_all[f] for f in fields if before_all.get(f) != after_all.get(f)}
            after = {f: after_all[f] for f in before}
            new_name = after_all.get("name", name)
            if not before:
                return {"version": version, "touchpoint": after_all, "changed": []}
            new_text = new_bp.to_yaml()
            new_version = version_of(new_text)
            with db.sessions() as s:
                snap = s.scalar(select(BlueprintSnapshot).where(BlueprintSnapshot.version == new_version))
                if snap is None:
                    snap = BlueprintSnapshot(version=new_version, text=new_text)
                    s.add(snap)
                    s.flush()
                change = BlueprintChange(
                    who=who.email,
                    touchpoint=name,
                    new_name=new_name,
                    version_before=version,
                    version_after=new_version,
                    after_seq=snap.id,
                    before=before,
                    after=after,
                )
                s.add(change)
                moved: dict[str, str] = {}
                if new_name != name:
                    elements = list(s.scalars(select(Comment.element).distinct()))
                    moved = renamed_ids(elements, name, new_name)
                    for old_id, new_id in moved.items():
                        s.execute(update(Comment).where(Comment.element == old_id).values(element=new_id))
                if body.resolves is not None:
                    s.execute(
                        update(BlueprintConflict)
                        .where(BlueprintConflict.id == body.resolves, BlueprintConflict.user_id == who.user_id)
                        .values(open=False)
                    )
                s.flush()
                audit(s, who.email, "blueprint.edit", touchpoint=name, before=before, after=after, version=new_version)
                new_bp.save(path)  # atomic (a temporary file renamed into place); the DB rows commit after it
                try:
                    s.commit()
                except Exception:
                    path.write_text(text, encoding="utf-8")  # the rows did not make it: the file goes back
                    raise
                change_id = change.id
        events.publish(
            app,
            "blueprint",
            {
                "touchpoint": new_name,
                "renamed_from": name if new_name != name else None,
                "version": new_version,
                "by": who.email,
            },
        )
        out = {
            "version": new_version,
            "touchpoint": after_all,
            "changed": list(before),
            "change": change_id,
            "moved_comments": moved,
        }
        if new_name != name:
            out["note"] = (
                f"The warehouse still holds the events as {name!r}: the map shows {new_name!r} "
                "with its data after the next journeymap ingest."
            )
        return out

    @app.get("/api/versions/{a}/diff/{b}", tags=["map"])
    def diff_versions(a: int, b: int, who: Viewer) -> Any:
        """``journeymap diff`` of stored map versions ``a`` (old) and ``b`` (new), as JSON."""
        from journeymap.maps import JourneyMap, diff_maps

        docs = {}
        with db.sessions() as s:
            for vid in (a, b):
                doc = s.scalar(select(MapVersion.document).where(MapVersion.id == vid))
                if doc is None:
                    raise HTTPException(404, f"There is no map version {vid}; GET /api/versions lists them.")
                docs[vid] = doc
        d = diff_maps(JourneyMap.from_json(docs[a]), JourneyMap.from_json(docs[b]))
        return _json(200, json.loads(d.to_json()))


def _json(status: int, payload: dict[str, Any]) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(payload, status_code=status)


__all__ = ["install"]
