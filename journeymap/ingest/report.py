"""The typed result of an ingest: one entry per source plus totals.

For every source and for the total, ``rows_read = loaded + quarantined + duplicate``.

Examples
--------
>>> r = IngestReport(sources=[SourceReport(source="a.csv", table="events", rows_read=3, loaded=2,
...                                        quarantined=1, duplicate=0, seconds=0.1)])
>>> r.total.rows_read, r.tables()["ingest"][1][-1][:6]
(3, ['total', 'events', 3, 2, 1, 0])
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from journeymap.results import Result


class SourceReport(BaseModel):
    """What happened to one source file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    table: str
    rows_read: int
    loaded: int
    quarantined: int
    duplicate: int
    seconds: float = 0.0
    format: str | None = None
    mapping: dict[str, str] = Field(default_factory=dict)
    guessed: list[str] = Field(default_factory=list)
    """Canonical columns whose source column was guessed from its name."""

    @model_validator(mode="after")
    def _reconciles(self) -> SourceReport:
        if self.rows_read != self.loaded + self.quarantined + self.duplicate:
            raise ValueError(
                f"{self.source}: rows read {self.rows_read} != loaded {self.loaded} + quarantined "
                f"{self.quarantined} + duplicate {self.duplicate}"
            )
        return self

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else float("nan")


class IngestReport(Result):
    """Per-source and total counts of one ingest (``kind`` ``ingest``)."""

    kind: ClassVar[str] = "ingest"
    sources: list[SourceReport]
    ingest_id: str = ""

    @property
    def total(self) -> SourceReport:
        """Sums over all sources."""
        tables = sorted({s.table for s in self.sources})
        return SourceReport(
            source="total",
            table=",".join(tables),
            rows_read=sum(s.rows_read for s in self.sources),
            loaded=sum(s.loaded for s in self.sources),
            quarantined=sum(s.quarantined for s in self.sources),
            duplicate=sum(s.duplicate for s in self.sources),
            seconds=sum(s.seconds for s in self.sources),
        )

    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        columns = ["source", "table", "rows_read", "loaded", "quarantined", "duplicate", "seconds"]
        rows = [
            [
                s.source.replace("\\", "/").rsplit("/", 1)[-1],
                s.table,
                s.rows_read,
                s.loaded,
                s.quarantined,
                s.duplicate,
                round(s.seconds, 3),
            ]
            for s in [*self.sources, self.total]
        ]
        return {"ingest": (columns, rows)}
