"""Typed results: what every computation returns and every renderer reads.

A result is a frozen pydantic model with a registered ``kind`` and a
``schema_version``. It serialises to JSON and loads back equal; its tables turn
into pandas DataFrames or CSV. Renderers never see engines or SQL, only results.

Examples
--------
>>> class Demo(TableResult):
...     kind = "demo"
>>> r = Demo(columns=["a", "b"], rows=[[1, "x"], [2, "y"]])
>>> Result.from_json(r.to_json()) == r
True
>>> r.to_frame().shape
(2, 2)
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from journeymap.errors import InputError

_REGISTRY: dict[str, type[Result]] = {}


class Result(BaseModel):
    """Base of all typed results."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=False)

    kind: ClassVar[str] = "result"
    schema_version: ClassVar[int] = 1
    migrations: ClassVar[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}
    """Schema migration steps: ``migrations[v]`` turns a version ``v`` dict into version ``v + 1``."""

    meta: dict[str, Any] = Field(default_factory=dict)
    """Settings and provenance: filters, engine, row counts, definitions used."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind:
            _REGISTRY[kind] = cls

    # -- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with ``kind`` and ``schema_version``."""
        body = self.model_dump(mode="json")
        return {"kind": self.kind, "schema_version": self.schema_version, **_clean(body)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Load any registered result from :meth:`to_dict` output."""
        data = dict(data)
        kind = data.pop("kind", None)
        version = data.pop("schema_version", None)
        target = _REGISTRY.get(kind) if kind else (cls if cls is not Result else None)
        if target is None:
            raise InputError(f"Result kind {kind!r} is unknown; known kinds: {', '.join(sorted(_REGISTRY))}.")
        if "from_dict" in vars(target):  # a result with its own loading (the JourneyMap document)
            return target.from_dict(data if version is None else {"schema_version": version, **data})
        if version is not None and version > target.schema_version:
            raise InputError(
                f"Result {kind!r} has schema_version {version}, newer than this journeymap "
                f"reads ({target.schema_version}); upgrade journeymap."
            )
        if version is not None and version < target.schema_version:
            data = target.migrate(data, version)
        return target.model_validate(data)

    @classmethod
    def migrate(cls, data: dict[str, Any], version: int, to: int | None = None) -> dict[str, Any]:
        """``data`` of schema ``version`` brought to version ``to`` (default: this one) step by step
        (:attr:`migrations`); a version without a step is refused in one sentence."""
        target = cls.schema_version if to is None else to
        while version < target:
            step = cls.migrations.get(version)
            if step is None:
                raise InputError(
                    f"Result {cls.kind!r} of schema_version {version} cannot be read by this journeymap "
                    f"(it reads {target}); make it again with this version."
                )
            data = step(dict(data))
            version += 1
        return data

    @classmethod
    def from_json(cls, text: str) -> Result:
        return cls.from_dict(json.loads(text))

    # -- tables ----------------------------------------------------------------------------------
    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        """Named tables of this result as (columns, rows); empty when it has none."""
        return {}

    def to_frame(self, name: str | None = None):
        """One of :meth:`tables` as a pandas DataFrame (the first when ``name`` is None)."""
        import pandas as pd

        tables = self.tables()
        if not tables:
            raise InputError(f"Result {self.kind!r} has no tables to turn into a DataFrame.")
        key = name or next(iter(tables))
        if key not in tables:
            raise InputError(f"Result {self.kind!r} has no table {key!r}; it has: {', '.join(tables)}.")
        columns, rows = tables[key]
        return pd.DataFrame(rows, columns=columns)

    def to_csv(self, name: str | None = None) -> str:
        """One of :meth:`tables` as CSV text."""
        tables = self.tables()
        key = name or next(iter(tables))
        columns, rows = tables[key]
        from journeymap.safety import csv_cell  # "=HYPERLINK(...)" is not run as a formula

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([csv_cell(c) for c in columns])
        for row in rows:
            writer.writerow([csv_cell(v) for v in row])
        return buf.getvalue()


@dataclass(frozen=True)
class TableRow:
    """Base of the typed rows of a :class:`TableResult`: a frozen dataclass whose fields are its columns.

    A result kind declares its row model as ``Row`` (e.g. ``TouchpointsResult.Row``) and
    :meth:`TableResult.typed_rows` returns the rows as instances, read by attribute
    (``r.rate_low``) instead of by column-name string. The stored ``columns``/``rows`` (JSON, CSV)
    stay as they are; a row model only reads them. Analyses with a breakdown (``by``) put its
    column(s) first: those values are in :attr:`breakdown`, by column name, and are not fields.
    Fields listed in :attr:`renamed` may carry another column name (``touchpoints(node="stage")``
    names its first column ``stage``; the field stays ``touchpoint``).

    To move a consumer from ``r["rate_low"]`` over ``result.records()`` to ``r.rate_low`` over
    ``result.typed_rows()``: same values, same order; a breakdown value is ``r.breakdown["dimension"]``.
    """

    breakdown: dict[str, Any] = field(default_factory=dict, kw_only=True, hash=False)
    """The breakdown columns' values, by column name (empty without a breakdown)."""
    renamed: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """The table's own columns, in order: the fields without :attr:`breakdown`."""
        return tuple(f.name for f in fields(cls) if f.name != "breakdown")

    def values(self) -> list[Any]:
        """The row as stored: breakdown values first, then the fields in order."""
        return [*self.breakdown.values(), *(getattr(self, c) for c in self.columns())]


R = TypeVar("R", bound=TableRow)


def typed_rows(row: type[R], columns: list[str], rows: list[list[Any]], *, what: str = "table") -> list[R]:
    """``rows`` of a table with ``columns`` as ``row`` instances (see :class:`TableRow`).

    The last columns must be ``row``'s columns (names in ``row.renamed`` aside); the ones before them
    are the breakdown and go to ``breakdown``. A mismatch is refused in one sentence.
    """
    own = row.columns()
    lead = len(columns) - len(own)
    tail = columns[lead:] if lead >= 0 else columns
    if lead < 0 or any(c != f and f not in row.renamed for c, f in zip(tail, own, strict=True)):
        raise InputError(
            f"The {what} columns {columns} do not end with the columns of {row.__name__} {list(own)}; "
            "declare the row model that matches the table."
        )
    keys = columns[:lead]
    return [row(*r[lead:], breakdown=dict(zip(keys, r[:lead], strict=True))) for r in rows]


class TableResult(Result):
    """A result that is one table: ``columns`` and ``rows``; ``Row`` is its typed row model."""

    kind: ClassVar[str] = "table"
    Row: ClassVar[type[TableRow] | None] = None
    """The typed row model of this kind (:class:`TableRow`); None only for the generic ``table``."""
    columns: list[str]
    rows: list[list[Any]]

    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        return {self.kind: (self.columns, self.rows)}

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column (:meth:`typed_rows` reads them by attribute)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def typed_rows(self) -> list[Any]:
        """Rows as instances of :attr:`Row`, read by attribute (``r.rate_low``); see :class:`TableRow`.

        For a statically typed list, call :func:`typed_rows` with the row class
        (``typed_rows(TouchpointRow, r.columns, r.rows)``).
        """
        if self.Row is None:
            raise InputError(f"Result {self.kind!r} declares no row model; read its rows with records().")
        return typed_rows(self.Row, self.columns, self.rows, what=f"{self.kind!r} result's")


def registered_kinds() -> dict[str, type[Result]]:
    """Every registered result type, by kind (for round-trip tests)."""
    return dict(_REGISTRY)


def _clean(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with None, recursively."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
