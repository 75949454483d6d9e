"""Figures in words: percentages, ratios, durations and the driver of a friction score (shared by the sections)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from journeymap.ranking import rank_value

Driver = Literal["exits", "loops", "waits"]
DRIVERS: dict[str, Driver] = {"exit": "exits", "loop": "loops", "slow": "waits"}
"""Friction component prefix -> the name of the driver of a pain point (:attr:`PainPoint.driver`)."""


def pct(x: float | None) -> str:
    """A share as ``12.3%`` (``n/a`` for None)."""
    return "n/a" if x is None else f"{x * 100:.1f}%"


def times(x: float) -> str:
    """A ratio as ``3.2x`` (``114x`` from 10 up; two decimals where one would read ``1.0x``)."""
    if x >= 9.95:
        return f"{x:.0f}x"
    return f"{x:.2f}x" if f"{x:.1f}" == "1.0" else f"{x:.1f}x"


def duration_words(d: timedelta) -> str:
    """``30 days``, ``1 day``, ``12 hours``: a conversion window in words."""
    seconds = d.total_seconds()
    if seconds % 86400 == 0:
        days = int(seconds // 86400)
        return f"{days} day" + ("s" if days != 1 else "")
    hours = seconds / 3600
    return f"{hours:g} hour" + ("s" if hours != 1 else "")


def friction_driver(components: dict[str, Any]) -> Driver | None:
    """The component that drives a friction score: ``exits``, ``loops`` or ``waits``, the one with the largest
    positive part (the score is the sum of the positive parts; ties: exits, then loops); None when none is.

    >>> friction_driver({"exit_component": -2.1, "loop_component": 0.4, "slow_component": 2.75})
    'waits'
    >>> friction_driver({"exit_component": None, "loop_component": -1.0, "slow_component": 0.0}) is None
    True
    """
    parts = {k: components.get(f"{k}_component") for k in DRIVERS}
    positive = {k: float(v) for k, v in parts.items() if v is not None and float(v) > 0}
    if not positive:
        return None
    main = max(positive, key=lambda k: (rank_value(positive[k]), k == "exit", k == "loop"))
    return DRIVERS[main]


def driver_words(driver: str, components: dict[str, Any], post_goal: bool) -> str:
    """The driving component's own figure against its expectation, in words (a pain point's headline)."""
    # a post-purchase touchpoint's journeys follow a conversion: said first, and its expectations are of
    # post-purchase touches
    after = " for post-purchase touches" if post_goal else ""
    head = "post-purchase: " if post_goal else ""
    if driver == "exits" and components.get("exit_rate") is not None:
        exp = components.get("expected_exit_rate")
        what = (
            "{} of touches here end a journey after a purchase without another one"
            if post_goal
            else "{} of touches here end a journey that gives up"
        )
        return (
            head
            + what.format(pct(components["exit_rate"]))
            + (f" (expected {pct(exp)}{after})" if exp is not None else "")
        )
    if driver == "loops" and components.get("loop_rate") is not None:
        exp = components.get("expected_loop_rate")
        return f"{head}{pct(components['loop_rate'])} of journeys come back to it" + (
            f" (expected {pct(exp)}{after})" if exp is not None else ""
        )
    if driver == "waits" and components.get("slow_ratio") is not None:
        return f"{head}the wait around it is {times(components['slow_ratio'])} the usual"
    return f"{head}{driver} drive its friction score"
