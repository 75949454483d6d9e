"""Timestamps: the ingest options about source times, checked before anything is read.

``tz`` (an IANA name), ``ts_format`` (strptime codes, e.g. ``%d/%m/%Y %H:%M``) and the plausible
years (:func:`default_years`: rows outside are quarantined by the load). How the engine reads the
times (ISO 8601, epochs, one form per text column) is the loader's:
:mod:`journeymap.engine.duckdb_load.timestamps`.

Examples
--------
>>> check_years((None, 2100))[1]
2100
>>> check_tz("Mars/Olympus")
Traceback (most recent call last):
...
journeymap.errors.InputError: Time zone 'Mars/Olympus' (tz) is not an IANA name; use e.g. 'UTC', 'Europe/Paris' or 'America/New_York'.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from journeymap.errors import InputError


def check_tz(tz: str) -> str:
    """Return ``tz`` when it is an IANA time zone name, else raise InputError."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"Time zone {tz!r} (tz) is not an IANA name; use e.g. 'UTC', 'Europe/Paris' or 'America/New_York'."
        ) from None
    return tz


_CODES = re.compile(r"%(-?[aAwdbBmyYHIpMSfzZjUWcxX]|%)")
"""strptime codes the engine reads (``%-d`` style too)."""


def check_format(ts_format: str) -> str:
    """Return ``ts_format`` when it has strptime codes and only known ones, else raise InputError.

    >>> check_format("%Q")
    Traceback (most recent call last):
    ...
    journeymap.errors.InputError: Timestamp format '%Q' (ts_format) has an unknown code '%Q'; use strptime codes such as %d/%m/%Y %H:%M (%d day, %m month, %Y year, %y 2-digit year, %H hour, %M minute, %S second, %z offset).
    """
    if "%" not in ts_format:
        raise InputError(
            f"Timestamp format {ts_format!r} (ts_format) has no strptime codes; write e.g. '%d/%m/%Y %H:%M'."
        )
    for m in re.finditer(r"%-?.?", ts_format):
        if not _CODES.fullmatch(m.group(0)):
            raise InputError(
                f"Timestamp format {ts_format!r} (ts_format) has an unknown code {m.group(0)!r}; use strptime "
                "codes such as %d/%m/%Y %H:%M (%d day, %m month, %Y year, %y 2-digit year, %H hour, %M minute, "
                "%S second, %z offset)."
            )
    return ts_format


# -- one form per column ---------------------------------------------------------------------------
MIN_YEAR = 1970
"""Earliest plausible year of a source time, unless configured (``[ingest] min_year``)."""


YEARS_LIMIT = (1, 9999)
"""Plausible years can be widened up to these (Python's dates, which every analysis returns, end in 9999)."""


def default_years() -> tuple[int, int]:
    """Plausible years by default: 1970 to next year."""
    return MIN_YEAR, datetime.now(UTC).year + 1


def check_years(years: tuple[int | None, int | None] | None) -> tuple[int, int]:
    """``years`` as (min, max), a missing bound taking its default; InputError when not a range of years."""
    lo, hi = default_years()
    if years is None:
        return lo, hi
    try:
        a, b = years
    except (TypeError, ValueError):
        raise InputError(
            f"Plausible years {years!r} (years) must be a pair (min_year, max_year), e.g. ({lo}, {hi})."
        ) from None
    for v in (a, b):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise InputError(
                f"Plausible year {v!r} (years, or [ingest] min_year/max_year) is not a whole number; "
                f"write e.g. ({lo}, {hi})."
            )
    lo, hi = (lo if a is None else a), (hi if b is None else b)
    if lo > hi:
        raise InputError(
            f"Plausible years {lo}..{hi} (years, or [ingest] min_year/max_year) are empty; give min_year <= max_year."
        )
    if lo < YEARS_LIMIT[0] or hi > YEARS_LIMIT[1]:
        raise InputError(
            f"Plausible years {lo}..{hi} (years, or [ingest] min_year/max_year) go beyond "
            f"{YEARS_LIMIT[0]}..{YEARS_LIMIT[1]}, the years a time can be analysed in; give a range within them."
        )
    return lo, hi
