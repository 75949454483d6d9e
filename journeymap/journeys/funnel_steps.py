"""What a funnel is made of: steps, exclusions and the options that shape it.

A step is a touchpoint, a stage, or a filter on event columns and properties
(``{"touchpoint": "Checkout", "where": {"channel": "app"}}``). Written as text
(the CLI's form): ``Checkout``, ``stage:purchase``, ``Checkout[channel=app]``,
``[plan=gold,channel=app]``. Keys of ``where`` that are not event columns are
read from the ``properties`` JSON (scalar values).

Examples
--------
>>> Step.parse("Checkout[channel=app]")
Step(touchpoint='Checkout', stage=None, where={'channel': 'app'}, name=None, optional=False, within=None)
>>> Step.parse("stage:purchase").label
'stage:purchase'
>>> Exclusion.parse("Support:stop").mode
'stop'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import ibis.expr.types as ir

from journeymap.blueprint import parse_duration
from journeymap.errors import InputError

ORDERS = ("ordered", "strict", "any")
EXCLUSION_MODES = ("remove", "stop")
BY_STEPS = ("first", "last")
UNITS = {"customer": "customer_id", "journey": "journey_id"}
DEFAULT_WINDOW = timedelta(days=14)
"""The default conversion window: 14 days, as in PostHog (Mixpanel uses 7)."""

_TEXT_STEP = re.compile(r"^\s*(?P<head>[^\[]*?)\s*(?:\[(?P<where>[^\]]*)\])?\s*$")


@dataclass(frozen=True)
class Step:
    """One funnel step: what an event must be to count.

    ``touchpoint`` and ``stage`` take a name or a list of names; ``where`` maps
    an event column (or a ``properties`` key) to a value or a list of values.
    ``optional`` steps count when they happen between the previous matched step
    and the next required one; ``within`` limits the time from the previous step.
    """

    touchpoint: str | list[str] | None = None
    stage: str | list[str] | None = None
    where: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    optional: bool = False
    within: timedelta | None = None

    @classmethod
    def parse(cls, spec: Step | str | Mapping[str, Any]) -> Step:
        """A :class:`Step` from a Step, a dict of its fields, or text (see the module docs)."""
        if isinstance(spec, Step):
            return spec
        if isinstance(spec, Mapping):
            data = dict(spec)
            if "within" in data:
                data["within"] = _duration(data["within"], "within")
            unknown = set(data) - {"touchpoint", "stage", "where", "name", "optional", "within"}
            if unknown:
                raise InputError(
                    f"Funnel step {spec!r} has unknown key(s) {sorted(unknown)}; use touchpoint, stage, where, "
                    "name, optional or within."
                )
            step = cls(**data)
        elif isinstance(spec, str):
            step = _parse_text(spec)
        else:
            raise InputError(f"Funnel step {spec!r} is neither text, a dict nor a Step; write it like 'Checkout'.")
        if step.touchpoint is None and step.stage is None and not step.where:
            raise InputError(f"Funnel step {spec!r} matches nothing; name a touchpoint, a stage or a where filter.")
        return step

    @property
    def label(self) -> str:
        """The name shown for this step."""
        if self.name:
            return self.name
        head = ""
        if self.touchpoint is not None:
            head = _names(self.touchpoint)
        elif self.stage is not None:
            head = f"stage:{_names(self.stage)}"
        if self.where:
            head += "[" + ",".join(f"{k}={_names(v)}" for k, v in self.where.items()) + "]"
        return head

    def key(self) -> tuple:
        """What the step matches (not its name or options): equal keys match the same events."""
        return (repr(self.touchpoint), repr(self.stage), repr(sorted(self.where.items())))

    def predicate(self, table: ir.Table) -> ir.BooleanValue:
        """The condition an event of ``table`` must meet to match this step."""
        parts: list[ir.BooleanValue] = []
        if self.touchpoint is not None:
            parts.append(_match(table.touchpoint, self.touchpoint))
        if self.stage is not None:
            if "stage" not in table.columns:
                raise InputError(
                    f"Funnel step {self.label!r} names a stage, but the table has no stage column; pass the "
                    "journeys table (build_journeys) rather than raw events."
                )
            parts.append(_match(table.stage, self.stage))
        for key, value in self.where.items():
            parts.append(_match(_column(table, key, self.label), value))
        out = parts[0]
        for p in parts[1:]:
            out = out & p
        return out.fill_null(False)


@dataclass(frozen=True)
class Exclusion:
    """An event that must not happen between two steps.

    ``mode`` ``remove`` (PostHog) takes an entry out of the funnel when the event
    happens after step ``after`` and before step ``before`` (or, when that step
    was not reached, before the window ends); ``stop`` (Mixpanel) counts the
    entry up to the event and no further. Steps are numbered from 1; ``before``
    None means the last step.
    """

    step: Step
    mode: str = "remove"
    after: int = 1
    before: int | None = None

    @classmethod
    def parse(cls, spec: Exclusion | str | Mapping[str, Any]) -> Exclusion:
        """From an Exclusion, a dict of its fields, or text ``STEP[:remove|stop]``."""
        if isinstance(spec, Exclusion):
            return spec
        if isinstance(spec, Mapping):
            data = dict(spec)
            data["step"] = Step.parse(data.get("step", {}))
            return cls(**data)
        text, mode = str(spec), "remove"
        head, sep, tail = text.rpartition(":")
        if sep and tail.strip() in EXCLUSION_MODES:
            text, mode = head, tail.strip()
        return cls(step=Step.parse(text), mode=mode)


@dataclass(frozen=True)
class FunnelSpec:
    """Every option of a funnel, validated; see :func:`journeymap.journeys.funnels.funnel`."""

    steps: tuple[Step, ...]
    order: str = "ordered"
    window: timedelta | None = DEFAULT_WINDOW
    exclusions: tuple[Exclusion, ...] = ()
    open: bool = False
    totals: bool = False
    by: str | None = None
    by_step: str | int = "first"
    unit: str = "customer"
    max_entries: int = 10

    @classmethod
    def build(
        cls,
        steps: Sequence[Any],
        *,
        optional: Sequence[Any] = (),
        step_limits: Mapping[int, Any] | None = None,
        window: Any = DEFAULT_WINDOW,
        exclude: Sequence[Any] = (),
        **options: Any,
    ) -> FunnelSpec:
        """Parse and check everything a funnel was given."""
        parsed = [Step.parse(s) for s in steps]
        parsed = _mark_optional(parsed, optional)
        for n, limit in (step_limits or {}).items():
            idx = _step_index(n, parsed, "step_limits")
            parsed[idx] = replace(parsed[idx], within=_duration(limit, "step_limits"))
        spec = cls(
            steps=tuple(parsed),
            window=_duration(window, "window"),
            exclusions=tuple(Exclusion.parse(e) for e in exclude),
            **options,
        )
        spec.check()
        return spec

    @property
    def key(self) -> str:
        return UNITS[self.unit]

    @property
    def required(self) -> list[int]:
        """0-based indexes of the required steps."""
        return [i for i, s in enumerate(self.steps) if not s.optional]

    def check(self) -> None:
        k = len(self.steps)
        if k < 1:
            raise InputError("A funnel needs at least one step; pass steps such as ['Home', 'Checkout'].")
        _choice(self.order, ORDERS, "order")
        _choice(self.unit, tuple(UNITS), "unit")
        if self.steps[0].optional or self.steps[-1].optional:
            raise InputError("The first and last funnel steps cannot be optional; make a middle step optional.")
        if any(s.optional for s in self.steps) and (self.open or self.order == "any"):
            raise InputError("Optional steps need a closed funnel in order 'ordered' or 'strict'; drop --optional.")
        if self.order == "any" and any(s.within for s in self.steps):
            raise InputError("Per-step time limits need order 'ordered' or 'strict'; drop step_limits.")
        if isinstance(self.by_step, str) and self.by_step not in BY_STEPS:
            raise InputError(f"by_step {self.by_step!r} is not first, last or a step number; use e.g. by_step=2.")
        if isinstance(self.by_step, int) and not 1 <= self.by_step <= k:
            raise InputError(f"by_step {self.by_step} is not a step of this {k}-step funnel; use 1..{k}.")
        if self.max_entries < 1:
            raise InputError(f"max_entries {self.max_entries} must be at least 1.")
        for ex in self.exclusions:
            _choice(ex.mode, EXCLUSION_MODES, "exclusion mode")
            before = ex.before or k
            if not 1 <= ex.after < before <= k:
                raise InputError(
                    f"Exclusion of {ex.step.label!r} between steps {ex.after} and {before} is not within this "
                    f"{k}-step funnel; use 1 <= after < before <= {k}."
                )


def _parse_text(text: str) -> Step:
    m = _TEXT_STEP.match(text)
    if not m or not text.strip():
        raise InputError(
            f"Funnel step {text!r} is not understood; write Checkout, stage:purchase or Checkout[channel=app]."
        )
    head, where_text = m.group("head"), m.group("where")
    where: dict[str, Any] = {}
    for item in (where_text or "").split(","):
        if not item.strip():
            continue
        attr, sep, value = item.partition("=")
        if not sep or not attr.strip():
            raise InputError(f"Funnel step {text!r} has filter {item!r}, which is not column=value.")
        attr, value = attr.strip(), value.strip()
        where[attr] = [*_as_list(where[attr]), value] if attr in where else value
    if head.lower().startswith("stage:"):
        return Step(stage=head[6:].strip(), where=where)
    return Step(touchpoint=head or None, where=where)


def _mark_optional(steps: list[Step], optional: Sequence[Any]) -> list[Step]:
    for item in optional:
        idx = _step_index(item, steps, "optional")
        steps[idx] = replace(steps[idx], optional=True)
    return steps


def _step_index(ref: Any, steps: list[Step], arg: str) -> int:
    """0-based index of a step named by its number (1-based) or its label."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        n = int(ref)
        if 1 <= n <= len(steps):
            return n - 1
    labels = [s.label for s in steps]
    if ref in labels:
        return labels.index(ref)
    raise InputError(
        f"{arg} names step {ref!r}, which is not a step of this funnel; use a step number 1..{len(steps)} "
        f"or one of: {', '.join(labels)}."
    )


def step_ref(ref: Any, steps: Sequence[Step], arg: str = "step") -> int:
    """1-based number of the step named by number or label (for ``--customers-at``)."""
    return _step_index(ref, list(steps), arg) + 1


def _duration(value: Any, arg: str) -> timedelta | None:
    try:
        return parse_duration(value)
    except ValueError as e:
        raise InputError(f"{arg} {value!r} is not a duration; write it like 14d, 12h or 30m ({e}).") from None


def _choice(value: str, choices: tuple[str, ...], arg: str) -> None:
    if value not in choices:
        raise InputError(f"{arg} {value!r} is not one of {', '.join(choices)}; pick one of those.")


def _names(value: Any) -> str:
    return "|".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _match(column: ir.Value, value: Any) -> ir.BooleanValue:
    col = column.cast("string")
    if isinstance(value, (list, tuple)):
        return col.isin([_text(v) for v in value])
    return col == _text(value)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _column(table: ir.Table, key: str, label: str) -> ir.Value:
    if key in table.columns:
        return table[key]
    if "properties" in table.columns:
        return property_value(table.properties, key)
    raise InputError(
        f"Funnel step {label!r} filters on {key!r}, which is neither an event column ({', '.join(table.columns)}) "
        "nor readable from properties; filter on one of those columns."
    )


def property_value(properties: ir.StringValue, key: str) -> ir.StringValue:
    """A scalar value of ``key`` in the ``properties`` JSON text (empty when absent), on any engine.

    >>> import ibis
    >>> property_value(ibis.literal('{"plan": "gold", "n": 3}'), "n").execute()
    '3'
    """
    pattern = r'"' + re.escape(key) + r'"\s*:\s*"?([^",}]*)'
    return properties.re_extract(pattern, 1).strip()


# -- names a user typed: touchpoints and stages that exist ---------------------------------------
MAX_LISTED = 12
"""How many known names an unknown-name error lists when none is close."""


def step_names(steps: Sequence[Any]) -> tuple[list[str], list[str]]:
    """The touchpoint and stage names that ``steps`` (or exclusions) use, in order, without repeats.

    >>> step_names(["Home", "stage:purchase", "Checkout[channel=app]", {"touchpoint": ["A", "Home"]}])
    (['Home', 'Checkout', 'A'], ['purchase'])
    """
    touchpoints: list[str] = []
    stages: list[str] = []
    for spec in steps:
        step = spec.step if isinstance(spec, Exclusion) else Step.parse(spec)
        for value, out in ((step.touchpoint, touchpoints), (step.stage, stages)):
            for name in _as_list(value) if value is not None else []:
                if str(name) not in out:
                    out.append(str(name))
    return touchpoints, stages


def close_names(value: str, known: Sequence[str] | set[str], n: int = 3) -> list[str]:
    """The known names closest to ``value`` (``difflib.get_close_matches``, ignoring case; a name equal
    but for case first).

    >>> close_names("BILED", ["BILLED", "Payment", "Billed"])
    ['BILLED', 'Billed']
    >>> close_names("billed", ["BILLED", "Payment"])
    ['BILLED']
    """
    import difflib

    names = sorted({str(k) for k in known})
    lower: dict[str, list[str]] = {}
    for k in names:
        lower.setdefault(k.lower(), []).append(k)
    hits = difflib.get_close_matches(value.lower(), list(lower), n=n, cutoff=0.6)
    same = lower.get(value.lower(), [])
    out = [*same, *[k for h in hits for k in lower[h] if k not in same]]
    return out[:n]


def unknown_name(value: str, known: Sequence[str] | set[str], *, what: str, option: str) -> InputError:
    """The one-line error for a ``what`` (touchpoint, stage) name that is not among ``known``."""
    names = sorted({str(k) for k in known})
    close = close_names(value, names)
    if close:
        hint = "closest: " + ", ".join(repr(c) for c in close) + " (names are case-sensitive)"
    elif names:
        more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
        hint = f"known {what}s: " + ", ".join(repr(c) for c in names[:MAX_LISTED]) + more
    else:
        hint = f"there are no {what}s to name yet"
    where = "the events or the blueprint" if what == "touchpoint" else "the blueprint"
    return InputError(f"{option} {value!r} is not a {what} of {where}; {hint}.")


def check_names(values: Sequence[str], known: Sequence[str] | set[str], *, what: str, option: str) -> None:
    """Raise :func:`unknown_name`'s error for the first of ``values`` that is not in ``known``."""
    known_set = {str(k) for k in known}
    for value in values:
        if str(value) not in known_set:
            raise unknown_name(str(value), known_set, what=what, option=option)


def present_touchpoints(table: ir.Table, con: Any = None) -> set[str]:
    """The touchpoints that occur in ``table`` (one distinct query)."""
    from journeymap.journeys.transitions import run

    df = run(table.select(_tp=table.touchpoint.cast("string")).distinct(), con)
    return {str(v) for v in df["_tp"] if v is not None}
