"""Curating the blueprint together: a touchpoint's editable fields, their checks, versions and conflicts.

Pure logic (no database, no HTTP); :mod:`journeymap.web.api_blueprint` serves it.

- A blueprint's **version** is :func:`version_of` its file's text (the first 16 hex digits of its
  SHA-256), so a hand edit of ``blueprint.yaml`` in git changes it as surely as an edit from the page.
- :func:`apply_changes` applies one edit of one touchpoint (``stage``, ``channel``, ``owner``, ``kind``,
  ``interaction``, ``description``, ``keywords``, ``personas``, ``goal``, ``name``) and validates the
  result with the :class:`~journeymap.blueprint.Blueprint` model's own rules (the ones ``blueprint.yaml``
  is read with); a refused value raises :class:`EditError`, one sentence naming the value and the fix.
- :func:`conflicting_fields`: an edit carries the version it started from; when the blueprint has moved
  on since, the edit conflicts only if a field it touches now differs from what it was at that version
  (edits of other fields or other touchpoints merge).

Examples
--------
>>> from journeymap.blueprint import Blueprint
>>> bp = Blueprint.model_validate({"stages": [{"name": "look"}, {"name": "buy"}],
...     "touchpoints": [{"name": "Ad", "stage": "look"}, {"name": "Shop", "stage": "buy"}],
...     "goals": [{"touchpoint": "Shop"}]})
>>> new = apply_changes(bp, "Shop", {"name": "Store", "stage": "look"})
>>> new.stage_of("Store"), new.goal_touchpoints()
('look', ['Store'])
>>> apply_changes(bp, "Ad", {"stage": "pay"})
Traceback (most recent call last):
...
journeymap.web.curation.EditError: Stage 'pay' is not a stage of the blueprint (look, buy); pick one of them or add the stage to blueprint.yaml.
>>> conflicting_fields(bp, new, "Ad", ["stage"]), conflicting_fields(bp, new, "Shop", ["stage"])
([], ['name'])
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ValidationError

from journeymap.blueprint import Blueprint, Goal, MatchRule
from journeymap.errors import InputError

FIELDS = ("name", "stage", "channel", "owner", "kind", "interaction", "description", "keywords", "personas", "goal")
"""The fields of a touchpoint the page can change, in the order they are shown."""

KINDS = ("owned", "paid", "earned")
INTERACTIONS = ("direct", "indirect")
MAX_TEXT = {"name": 200, "channel": 100, "owner": 200, "description": 2000}
MAX_NAMES = 200  # keywords or personas of one touchpoint


class EditError(InputError):
    """A change the blueprint's rules refuse (HTTP 400); the message names the value and the fix."""


def version_of(text: str) -> str:
    """The version of a blueprint file's ``text``: the first 16 hex digits of its SHA-256.

    >>> version_of("version: 1\\n")
    '09bfcc6a14b83e21'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def field_values(bp: Blueprint, name: str) -> dict[str, Any] | None:
    """The editable fields of touchpoint ``name`` (None when the blueprint has no such touchpoint)."""
    tp = bp.touchpoint(name)
    if tp is None:
        return None
    goals = {g.touchpoint for g in bp.goals}
    return {
        "name": tp.name,
        "stage": tp.stage,
        "channel": tp.channel,
        "owner": tp.owner,
        "kind": tp.kind,
        "interaction": tp.interaction,
        "description": tp.description,
        "keywords": list(tp.keywords),
        "personas": list(tp.personas),
        "goal": tp.name in goals,
    }


def blueprint_view(bp: Blueprint, version: str) -> dict[str, Any]:
    """What ``GET /api/blueprint`` answers: the version, the choices a form offers, every touchpoint."""
    return {
        "version": version,
        "name": bp.name,
        "stages": bp.stage_names(),
        "personas": [p.name for p in bp.personas],
        "kinds": list(KINDS),
        "interactions": list(INTERACTIONS),
        "goals": bp.goal_touchpoints(),
        "touchpoints": [field_values(bp, t.name) for t in bp.touchpoints],
    }


def _text(field: str, value: Any, *, optional: bool) -> str | None:
    if value is None:
        if optional:
            return None
        raise EditError(f"The {field} cannot be empty; send a text.")
    if not isinstance(value, str):
        raise EditError(f"The {field} {value!r} is not a text; send a text{' or null' if optional else ''}.")
    value = value.strip()
    limit = MAX_TEXT.get(field)
    if limit is not None and len(value) > limit:
        raise EditError(f"The {field} is {len(value)} characters long; shorten it to at most {limit}.")
    if not value and optional:
        return None
    return value


def _names(field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EditError(f'The {field} {value!r} are not a list of texts; send a list such as ["a", "b"].')
    if len(value) > MAX_NAMES:
        raise EditError(f"The {field} list has {len(value)} entries; keep it to at most {MAX_NAMES}.")
    out: list[str] = []
    for v in value:
        v = v.strip()
        if len(v) > MAX_TEXT["name"]:
            raise EditError(
                f"One of the {field} is {len(v)} characters long; shorten it to at most {MAX_TEXT['name']}."
            )
        if v and v not in out:
            out.append(v)
    return out


def apply_changes(bp: Blueprint, name: str, changes: dict[str, Any]) -> Blueprint:
    """A new blueprint with ``changes`` applied to touchpoint ``name``, validated as a whole.

    A rename also renames the touchpoint in the goals (and a stage's ``goal`` that names it) and adds a
    match rule for the old name, so raw events of that name keep landing on the touchpoint at the next
    ingest. Raises :class:`EditError` (one sentence) for an unknown field, an unknown stage or persona,
    an empty or duplicate name, a kind or interaction outside the allowed words, an over-long text.
    """
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise EditError(
            f"{unknown[0]!r} is not a touchpoint field the page can change; use one of {', '.join(FIELDS)}."
        )
    if not changes:
        raise EditError("The edit changes nothing; send at least one field under changes.")
    tp = bp.touchpoint(name)
    if tp is None:
        raise EditError(f"There is no touchpoint {name!r} in the blueprint; reload the page and pick one that exists.")
    data = bp.model_dump(mode="json")
    index = bp.touchpoints.index(tp)
    entry = data["touchpoints"][index]
    new_name = name
    for field, value in changes.items():
        if field == "name":
            new_name = _text("name", value, optional=False) or ""
            if not new_name:
                raise EditError("A touchpoint needs a non-empty name; type one.")
            if new_name != name and bp.touchpoint(new_name) is not None:
                raise EditError(f"The blueprint already has a touchpoint {new_name!r}; choose another name.")
            entry["name"] = new_name
        elif field == "stage":
            stage = _text("stage", value, optional=True)
            if stage is not None and stage not in bp.stage_names():
                raise EditError(
                    f"Stage {stage!r} is not a stage of the blueprint ({', '.join(bp.stage_names())}); "
                    "pick one of them or add the stage to blueprint.yaml."
                )
            entry["stage"] = stage
        elif field in ("channel", "owner"):
            entry[field] = _text(field, value, optional=True)
        elif field == "description":
            entry["description"] = _text("description", value, optional=True) or ""
        elif field == "kind":
            kind = _text("kind", value, optional=True)
            if kind is not None and kind not in KINDS:
                raise EditError(f"Kind {kind!r} is not allowed; use one of {', '.join(KINDS)} (or null).")
            entry["kind"] = kind
        elif field == "interaction":
            how = _text("interaction", value, optional=False)
            if how not in INTERACTIONS:
                raise EditError(f"Interaction {how!r} is not allowed; use direct or indirect.")
            entry["interaction"] = how
        elif field == "keywords":
            entry["keywords"] = _names("keywords", value)
        elif field == "personas":
            personas = _names("personas", value)
            known = [p.name for p in bp.personas]
            for p in personas:
                if p not in known:
                    raise EditError(
                        f"Persona {p!r} is not a persona of the blueprint ({', '.join(known) or 'none defined'}); "
                        "pick one of them or add the persona to blueprint.yaml."
                    )
            entry["personas"] = personas
        elif field == "goal":
            if not isinstance(value, bool):
                raise EditError(f"goal {value!r} is not true or false; send true to make it a conversion goal.")
    goal = changes.get("goal")
    goals = [g for g in data["goals"] if g["touchpoint"] != name]
    was_goal = len(goals) != len(data["goals"])
    if goal is True or (goal is None and was_goal):
        old = next((g for g in data["goals"] if g["touchpoint"] == name), None)
        value = old["value"] if old else Goal(touchpoint=new_name).value
        at = next((i for i, g in enumerate(data["goals"]) if g["touchpoint"] == name), len(goals))
        goals.insert(at, {"touchpoint": new_name, "value": value})
    data["goals"] = goals
    if new_name != name:
        for st in data["stages"]:
            if st.get("goal") == name:
                st["goal"] = new_name
        rules = [MatchRule.model_validate(r) for r in entry.get("match") or []]
        if not any(r.event is not None and r.event.lower() == name.lower() and not r.where for r in rules):
            entry["match"] = [*entry.get("match", []), {"event": name, "event_regex": None, "where": {}}]
    try:
        return Blueprint.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        msg = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
        raise EditError(f"The blueprint refuses this edit: {msg}.") from None


def conflicting_fields(base: Blueprint, current: Blueprint, name: str, fields: list[str]) -> list[str]:
    """The ``fields`` of touchpoint ``name`` whose value in ``current`` differs from ``base`` (the version
    the edit started from); a touchpoint renamed or removed since counts as a change of ``name``."""
    then, now = field_values(base, name), field_values(current, name)
    if then is None:
        return []  # the edit's own check (no such touchpoint) answers
    if now is None:
        return ["name"]
    return [f for f in fields if f in then and then[f] != now[f]]


def touched(values: dict[str, Any] | None, fields: list[str]) -> dict[str, Any]:
    """The ``fields`` of a :func:`field_values` dict (``{}`` when the touchpoint is not there)."""
    return {f: values[f] for f in fields if f in values} if values else {}


def new_touchpoint_name(new: Blueprint, name: str, changes: dict[str, Any]) -> str:
    """The touchpoint's name in ``new`` (the blueprint after the edit): ``name`` unless ``changes`` renamed it."""
    value = changes.get("name")
    return value.strip() if isinstance(value, str) and new.touchpoint(value.strip()) is not None else name


__all__ = [
    "FIELDS",
    "EditError",
    "apply_changes",
    "blueprint_view",
    "conflicting_fields",
    "field_values",
    "new_touchpoint_name",
    "touched",
    "version_of",
]
