"""Typed results of attribution, lift, hypothesis and A/B tests (JSON round trip, tables for CSV).

Examples
--------
>>> from journeymap.results import Result
>>> r = AttributionResult(credits=[["linear", "a", 2.0, 10.0, 1.0, None, None, None, None]],
...                       diagnostics={"conversions": 2.0})
>>> Result.from_json(r.to_json()) == r, r.to_csv().splitlines()[0].startswith("model,channel,conversions,value,share")
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from journeymap.results import Result, TableResult, TableRow

CREDIT_COLUMNS = [
    "model",
    "channel",
    "conversions",
    "value",
    "share",
    "conversions_low",
    "conversions_high",
    "value_low",
    "value_high",
]
"""Columns of :attr:`AttributionResult.credits` (the interval columns are empty without --bootstrap)."""


class AttributionResult(Result):
    """Credits per model and channel, a side-by-side comparison, diagnostics.

    ``share`` is the channel's part of the model's credited conversions (of the
    value when the result was computed with ``value=True``).
    """

    kind: ClassVar[str] = "attribution"
    credits: list[list[Any]]
    removal_effects: list[list[Any]] = Field(default_factory=list)
    ordered: list[list[Any]] = Field(default_factory=list)
    diagnostics: dict[str, Any] = Field(default_factory=dict)

    def models(self) -> list[str]:
        """The models in the result, in the order they were asked for."""
        return list(dict.fromkeys(r[0] for r in self.credits))

    def channels(self) -> list[str]:
        return sorted({r[1] for r in self.credits})

    def credit(self, model: str, what: str = "conversions") -> dict[str, float]:
        """``{channel: credit}`` for one model (``what``: conversions, value, share)."""
        i = CREDIT_COLUMNS.index(what)
        return {r[1]: r[i] for r in self.credits if r[0] == model}

    def comparison(self) -> tuple[list[str], list[list[Any]]]:
        """Channels by models: each model's share per channel, side by side."""
        models = self.models()
        shares = {m: self.credit(m, "share") for m in models}
        rows = [[c, *[shares[m].get(c, 0.0) for m in models]] for c in self.channels()]
        return ["channel", *models], rows

    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        out = {"attribution": (CREDIT_COLUMNS, self.credits), "comparison": self.comparison()}
        if self.removal_effects:
            out["removal_effects"] = (["channel", "removal_effect"], self.removal_effects)
        if self.ordered:
            out["ordered_shapley"] = (["channel", "position", "conversions", "value"], self.ordered)
        diag = [[k, v] for k, v in self.diagnostics.items() if k != "warnings"]
        diag += [["warning", w] for w in self.diagnostics.get("warnings", [])]
        out["diagnostics"] = (["name", "value"], diag)
        return out


@dataclass(frozen=True)
class LiftRow(TableRow):
    """One touchpoint of :class:`LiftResult` (and the one row of :class:`HypothesisResult`)."""

    touchpoint: str
    exposed: int
    exposed_conversions: int
    exposed_rate: float | None
    unexposed: int
    unexposed_conversions: int
    unexposed_rate: float | None
    risk_difference: float | None
    rd_low: float | None
    rd_high: float | None
    odds_ratio: float | None
    or_low: float | None
    or_high: float | None
    p_value: float | None
    q_value: float | None
    significant: bool
    strata: int


class LiftResult(TableResult):
    """Exposure lift per touchpoint: association, not cause (see :mod:`journeymap.attribution.lift`)."""

    kind: ClassVar[str] = "lift"
    Row: ClassVar[type[TableRow]] = LiftRow


class HypothesisResult(TableResult):
    """One touchpoint's exposure effect: effect, interval, p-value and sample sizes, in words too."""

    kind: ClassVar[str] = "hypothesis"
    Row: ClassVar[type[TableRow]] = LiftRow
    answer: str = ""


class ABTestResult(Result):
    """Conversion per variant, differences with intervals and tests, sample-ratio check, power."""

    kind: ClassVar[str] = "abtest"
    variants: list[list[Any]]
    comparisons: list[list[Any]]
    srm: dict[str, Any] = Field(default_factory=dict)
    power: dict[str, Any] = Field(default_factory=dict)

    VARIANT_COLUMNS: ClassVar[list[str]] = ["variant", "units", "conversions", "rate"]
    COMPARISON_COLUMNS: ClassVar[list[str]] = [
        "variant",
        "control",
        "difference",
        "low",
        "high",
        "relative_lift",
        "z",
        "p_value",
        "significant",
    ]

    def tables(self) -> dict[str, tuple[list[str], list[list[Any]]]]:
        return {
            "comparisons": (self.COMPARISON_COLUMNS, self.comparisons),
            "variants": (self.VARIANT_COLUMNS, self.variants),
            "checks": (
                ["name", "value"],
                [[f"srm_{k}", v] for k, v in self.srm.items()] + [[k, v] for k, v in self.power.items()],
            ),
        }
