"""The Customer Touchpoint Blueprint: ``blueprint.yaml``, curated by people, kept in git.

A blueprint names the stages of the journey in order, the touchpoints in each
stage (channel, interaction, owned/paid/earned, owner team, keywords, match rules
from raw events), the goals, the personas, the journey settings and KPI targets.

Examples
--------
>>> bp = Blueprint.model_validate({
...     "stages": [{"name": "awareness"}, {"name": "purchase"}],
...     "touchpoints": [
...         {"name": "Search ad", "stage": "awareness", "channel": "paid search", "kind": "paid"},
...         {"name": "Checkout", "stage": "purchase", "channel": "web"},
...     ],
...     "goals": [{"touchpoint": "Checkout", "value": "revenue"}],
... })
>>> bp.stage_of("Search ad"), bp.goal_touchpoints(), bp.journey.inactivity_gap.days
('awareness', ['Checkout'], 30)
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from journeymap.errors import BlueprintError

DEFAULT_STAGES = ("awareness", "consideration", "purchase", "retention", "advocacy")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta | None:
    """Read a duration such as ``30d``, ``12h``, ``45m``, ``2w`` or a number of seconds.

    ``None``, ``"none"`` and ``0`` mean "no limit" and give ``None``.

    >>> parse_duration("30d"), parse_duration("90m"), parse_duration(3600)
    (datetime.timedelta(days=30), datetime.timedelta(seconds=5400), datetime.timedelta(seconds=3600))
    >>> parse_duration("none") is None
    True
    """
    if value is None or isinstance(value, timedelta):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=float(value)) if value else None
    text = str(value).strip().lower()
    if text in ("", "none", "null", "off", "0"):
        return None
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"duration {value!r} is not understood; write a number with a unit, e.g. 30d, 12h, 45m, 2w")
    return timedelta(seconds=float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()])


def format_duration(value: timedelta | None) -> str | None:
    """Write a duration back in the shortest exact unit (the inverse of :func:`parse_duration`).

    >>> format_duration(timedelta(days=14)), format_duration(timedelta(minutes=90)), format_duration(None)
    ('2w', '90m', None)
    """
    if value is None:
        return None
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds}s"


Duration = Annotated[
    timedelta | None,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str | None),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)


class Stage(_Model):
    """One stage of the journey, in the blueprint's order."""

    name: str
    description: str = ""
    goal: str = ""

    @field_validator("name")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a stage needs a non-empty name")
        return v.strip()


class MatchRule(_Model):
    """How raw events become this touchpoint.

    ``event`` matches the raw event name exactly (case-insensitive), ``event_regex``
    by regular expression; ``where`` adds conditions on other source columns, each
    value a literal or a list of literals (``{"utm_medium": ["cpc", "ppc"]}``).
    """

    event: str | None = None
    event_regex: str | None = None
    where: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event_regex")
    @classmethod
    def _valid_regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"event_regex {v!r} is not a valid regular expression ({e})") from e
        return v

    @model_validator(mode="after")
    def _something(self) -> MatchRule:
        if self.event is None and self.event_regex is None and not self.where:
            raise ValueError("a match rule needs at least one of event, event_regex or where")
        return self


class Touchpoint(_Model):
    """A point where the customer meets the business."""

    name: str
    stage: str | None = None
    channel: str | None = None
    interaction: Literal["direct", "indirect"] = "direct"
    kind: Literal["owned", "paid", "earned"] | None = None
    owner: str | None = None
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    match: list[MatchRule] = Field(default_factory=list)
    marketing: bool | None = None
    """Whether attribution counts it by default (None: paid and earned touchpoints do)."""
    personas: list[str] = Field(default_factory=list, exclude_if=lambda v: not v)
    """The blueprint personas this touchpoint is meant for (curated; left out of the YAML when empty)."""

    @field_validator("name")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a touchpoint needs a non-empty name")
        return v.strip()

    @property
    def is_marketing(self) -> bool:
        if self.marketing is not None:
            return self.marketing
        return self.kind in ("paid", "earned")


class Goal(_Model):
    """A conversion: reaching ``touchpoint`` ends the journey as converted."""

    touchpoint: str
    value: str | None = "revenue"
    """Column carrying the conversion's value (``revenue`` by default)."""


class Persona(_Model):
    """A group of customers, defined by rules over customer attributes.

    ``where`` maps attribute to a literal, a list of literals, or a comparison
    ``{"gte": 30, "lt": 50}``; all conditions must hold. The first persona whose
    rules match a customer wins; customers matching none are ``other``.
    """

    name: str
    description: str = ""
    where: dict[str, Any] = Field(default_factory=dict)

    @field_validator("where")
    @classmethod
    def _ops(cls, v: dict[str, Any]) -> dict[str, Any]:
        allowed = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "regex"}
        for attr, cond in v.items():
            if isinstance(cond, dict):
                bad = set(cond) - allowed
                if bad:
                    raise ValueError(f"persona rule on {attr!r} uses {sorted(bad)}; use one of {sorted(allowed)}")
        return v


class JourneySettings(_Model):
    """How events are cut into journeys and credited."""

    inactivity_gap: Duration = timedelta(days=30)
    """A gap longer than this starts a new journey (None: no split by time)."""
    conversion_window: Duration = timedelta(days=30)
    """A journey not converted is in progress while its last touch is this close to the data's end."""
    attribution_lookback: Duration = timedelta(days=30)
    """Touches older than this before a conversion get no attribution credit."""


class Targets(_Model):
    """KPI targets the map compares against."""

    nps: float | None = None
    csat: float | None = None
    ces: float | None = None
    conversion_rate: float | None = None


class Source(_Model):
    """A column mapping applied to files whose name matches ``pattern`` (glob)."""

    pattern: str
    table: Literal["events", "feedback", "customers"] = "events"
    map: dict[str, str] = Field(default_factory=dict)
    ts_format: str | None = None
    tz: str | None = None


class ThemeRule(_Model):
    """A curated theme: rename, merge or pin themes so they stick across runs."""

    name: str
    keywords: list[str] = Field(default_factory=list)
    merge: list[str] = Field(default_factory=list)
    pinned: bool = False


class Blueprint(_Model):
    """The whole ``blueprint.yaml``."""

    version: int = 1
    name: str = "Customer journey"
    strict: bool = False
    """When true, events whose touchpoint is not in the blueprint are quarantined."""
    stages: list[Stage] = Field(default_factory=lambda: [Stage(name=s) for s in DEFAULT_STAGES])
    touchpoints: list[Touchpoint] = Field(default_factory=list)
    goals: list[Goal] = Field(default_factory=list)
    personas: list[Persona] = Field(default_factory=list)
    journey: JourneySettings = Field(default_factory=JourneySettings)
    targets: Targets = Field(default_factory=Targets)
    sources: list[Source] = Field(default_factory=list)
    themes: list[ThemeRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Blueprint:
        stage_names = [s.name for s in self.stages]
        _no_duplicates(stage_names, "stage")
        _no_duplicates([t.name for t in self.touchpoints], "touchpoint")
        known = set(stage_names)
        for i, tp in enumerate(self.touchpoints):
            if tp.stage is not None and tp.stage not in known:
                raise _located(
                    ("touchpoints", i, "stage"),
                    f"touchpoint {tp.name!r} names stage {tp.stage!r}, which is not among the "
                    f"stages ({', '.join(stage_names)}); add the stage or fix the name",
                )
        persona_names = {p.name for p in self.personas}
        for i, tp in enumerate(self.touchpoints):
            for j, p in enumerate(tp.personas):
                if p not in persona_names:
                    raise _located(
                        ("touchpoints", i, "personas", j),
                        f"touchpoint {tp.name!r} names persona {p!r}, which is not among the personas "
                        f"({', '.join(sorted(persona_names)) or 'none'}); add the persona or fix the name",
                    )
        tps = {t.name for t in self.touchpoints}
        for i, goal in enumerate(self.goals):
            if self.touchpoints and goal.touchpoint not in tps:
                raise _located(
                    ("goals", i, "touchpoint"),
                    f"goal {goal.touchpoint!r} is not a touchpoint of the blueprint; "
                    "add it under touchpoints or fix the name",
                )
        return self

    # -- lookups -----------------------------------------------------------------------------
    def touchpoint(self, name: str) -> Touchpoint | None:
        """The touchpoint called ``name``, or None."""
        return next((t for t in self.touchpoints if t.name == name), None)

    def stage_of(self, touchpoint: str) -> str | None:
        """The stage of a touchpoint, or None when it has none or is unknown."""
        tp = self.touchpoint(touchpoint)
        return tp.stage if tp else None

    def stage_names(self) -> list[str]:
        """Stage names in journey order."""
        return [s.name for s in self.stages]

    def goal_touchpoints(self) -> list[str]:
        """Touchpoints that count as conversions."""
        return [g.touchpoint for g in self.goals]

    def touchpoint_names(self) -> list[str]:
        return [t.name for t in self.touchpoints]

    # -- files -------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Blueprint:
        """Read and validate a blueprint file; errors name the line and the fix."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BlueprintError(
                f"Blueprint file {str(path)!r} does not exist; create it with "
                "'journeymap init' or 'journeymap blueprint draft'."
            ) from None
        return cls.from_yaml(text, filename=str(path))

    @classmethod
    def from_yaml(cls, text: str, filename: str = "blueprint.yaml") -> Blueprint:
        """Validate blueprint YAML text."""
        try:
            try:  # libyaml's reader when installed (a tenth of the time: every command reads the blueprint)
                data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
            except yaml.YAMLError:  # the pure-Python reader words the error (line, problem) as it always did
                data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            problem = getattr(e, "problem", None) or str(e)
            raise BlueprintError(
                f"{filename}{where}: the YAML cannot be read ({problem}); fix the indentation or quoting there."
            ) from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise BlueprintError(
                f"{filename}: the blueprint must be a mapping with keys such as stages and touchpoints, "
                f"not a {type(data).__name__}."
            )
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            loc = tuple(err["loc"])
            located = err.get("ctx", {}).get("error")
            if isinstance(located, _LocatedError):
                loc, msg = located.loc, located.message
            else:
                msg = _friendly(err)
            line = _line_of(_node(text), loc)
            where = f" line {line}" if line else ""
            path = ".".join(str(p) for p in loc) or "top level"
            raise BlueprintError(f"{filename}{where} ({path}): {msg}.") from None

    def to_yaml(self) -> str:
        """The blueprint as YAML, in a stable, readable key order."""
        data = self.model_dump(mode="json", exclude_defaults=False)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)

    def save(self, path: str | Path) -> None:
        """Write the blueprint, atomically (a temporary file renamed into place)."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_yaml(), encoding="utf-8")
        tmp.replace(path)


class _LocatedError(ValueError):
    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


def _located(loc: tuple, message: str) -> _LocatedError:
    return _LocatedError(loc, message)


def _no_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} is defined twice; give each {what} a unique name")
        seen.add(name)


def _friendly(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{err['loc'][-1]!r} is not a blueprint key; check its spelling or remove it"
    if kind == "missing":
        return f"{err['loc'][-1]!r} is required here; add it"
    if kind == "literal_error":
        return f"{err['input']!r} is not allowed; {err['msg'].lower()}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"{msg} (got {err.get('input')!r})"


def _node(text: str) -> Any:
    """The YAML node tree of ``text`` (for the line of a validation error), or None."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def _line_of(node: Any, loc: tuple) -> int | None:
    """1-based line of the YAML node at ``loc``, or of its deepest existing parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == part), None)
                return key.start_mark.line + 1 if key else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def default_blueprint(name: str = "Customer journey") -> Blueprint:
    """A blueprint with the five default stages and nothing else, for a new workspace."""
    return Blueprint(name=name)
