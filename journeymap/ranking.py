"""Deterministic rankings: rounded sort keys and figures that do not carry float noise.

A figure computed by an engine can differ in its last bits from one run to the next: DuckDB
sums floats in parallel, so the order of the additions (and the result's last bits) depends on
the number of threads and how the rows were split; BLAS kernels in NumPy and scikit-learn do the
same on another machine. Two consequences, and the rule for each:

- **Ranking.** Every sort and top-N ranks on :func:`rank_value` (the float rounded to
  :data:`RANK_DECIMALS` decimals, or fewer for float32 figures) and then a text or id that
  is unique in the ranked set, so ties, real or noise, always fall the same way.
- **Figures in documents.** :func:`round_figures` keeps :data:`FIGURE_DIGITS` significant
  digits of every float of a document (the map JSON), so the same data gives the same bytes
  with 1 or 16 threads; nine digits is far beyond what any figure is read to.

Examples
--------
>>> a = 0.1 + 0.2 + 0.3          # one order of additions
>>> b = 0.3 + 0.2 + 0.1          # another: a != b in the last bit
>>> a == b, rank_value(a) == rank_value(b)
(False, True)
>>> sorted([("b", 0.6000000000000001), ("a", 0.6)], key=lambda r: (-rank_value(r[1]), r[0]))
[('a', 0.6), ('b', 0.6000000000000001)]
>>> round_figures({"share": 0.6000000000000001, "n": 3, "p": 1.2345678912345e-40})
{'share': 0.6, 'n': 3, 'p': 1.23456789e-40}
"""

from __future__ import annotations

import math
from typing import Any

RANK_DECIMALS = 9
"""Decimals a float64 figure keeps in a sort key (engine noise is ~1e-15 of the figure)."""
FLOAT32_RANK_DECIMALS = 5
"""Decimals a float32 figure (theme centrality, NMF weights) keeps in a sort key (noise ~1e-7)."""
FIGURE_DIGITS = 9
"""Significant digits a float keeps in a document (:func:`round_figures`)."""


def rank_value(x: float | None, decimals: int = RANK_DECIMALS) -> float:
    """``x`` rounded for use in a sort key: equal figures computed in another order rank equal.

    None and NaN rank as 0 (callers that must put them last add a flag before it).

    >>> rank_value(0.30000000000000004), rank_value(-1e-12), rank_value(None)
    (0.3, 0.0, 0.0)
    """
    if x is None:
        return 0.0
    v = float(x)
    if math.isnan(v):
        return 0.0
    if math.isinf(v):
        return v
    return round(v, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def round_figure(x: float, digits: int = FIGURE_DIGITS) -> float:
    """``x`` with ``digits`` significant digits (non-finite values are returned as they are).

    >>> round_figure(0.005693198580852512), round_figure(123456.78901234)
    (0.00569319858, 123456.789)
    """
    if not math.isfinite(x) or x == 0:
        return x + 0.0
    return float(f"{x:.{digits}g}")


def round_figures(value: Any, digits: int = FIGURE_DIGITS) -> Any:
    """``value`` (dicts, lists and tuples of scalars, nested) with every float rounded by :func:`round_figure`."""
    if isinstance(value, float):
        return round_figure(value, digits)
    if isinstance(value, dict):
        return {k: round_figures(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(round_figures(v, digits) for v in value)
    return value
