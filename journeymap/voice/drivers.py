"""Key-driver analysis: which touchpoint ratings matter most for an overall score.

For a survey where each response rates several touchpoints and gives an overall score (or a
satisfied / not satisfied label), :func:`key_drivers` reports, per rating:

- ``shapley``: its share of the R^2 of a linear model of the overall score on all ratings,
  by Shapley value over all subsets of ratings (the LMG decomposition; Lindeman, Merenda and
  Gold 1980; Grömping 2006). The shares add up to the full R^2 and, unlike regression
  weights, do not flip sign or vanish when ratings are correlated (they always are).
  Exact for up to :data:`MAX_SHAPLEY` ratings (2^p subset regressions, each solved from the
  correlation matrix in microseconds).
- ``relative_weight``: Johnson's (2000) relative weights, which approximate LMG closely at
  any number of ratings; they also add up to R^2.
- ``correlation``: the plain correlation with the overall score.

Only aggregates leave the engine: the means and the correlation matrix of the ratings and the
target (rows with any of them missing are left out, listwise; ``missing_values`` such as the
0 = "not applicable" of many rating scales become missing first).

Examples
--------
>>> import ibis, numpy as np
>>> rng = np.random.default_rng(0)
>>> a, b, c = rng.normal(size=(3, 500))
>>> t = ibis.memtable({"a": a, "b": b, "c": c, "y": 3 * a + b + rng.normal(size=500)})
>>> r = key_drivers(t, "y", ["a", "b", "c"])
>>> [x.driver for x in r.typed_rows()], round(r.meta["r2"], 2)
(['a', 'b', 'c'], 0.91)
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations_with_replacement
from math import factorial
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np

from journeymap import engine
from journeymap.errors import InputError
from journeymap.ranking import rank_value
from journeymap.voice.results import KeyDriverRow, KeyDrivers

MAX_SHAPLEY = 16
"""Up to this many ratings the Shapley (LMG) shares are exact; beyond, only relative weights."""


def r2_of_subset(R: np.ndarray, r: np.ndarray, idx: Sequence[int]) -> float:
    """R^2 of the regression of the target on the ratings ``idx``, from correlations.

    ``R`` is the ratings' correlation matrix and ``r`` their correlations with the target.

    >>> R = np.eye(2); r = np.array([0.6, 0.3])
    >>> round(r2_of_subset(R, r, [0, 1]), 3)
    0.45
    """
    idx = list(idx)
    if not idx:
        return 0.0
    sub = R[np.ix_(idx, idx)]
    rs = r[idx]
    return float(rs @ np.linalg.lstsq(sub, rs, rcond=None)[0])


def shapley_r2(R: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Each predictor's Shapley share of R^2 (LMG), exact over all subsets.

    >>> R = np.eye(2); r = np.array([0.6, 0.3])
    >>> shapley_r2(R, r).round(3).tolist()
    [0.36, 0.09]
    """
    p = len(r)
    if p > MAX_SHAPLEY:
        raise InputError(
            f"Shapley needs at most {MAX_SHAPLEY} ratings, got {p} (argument ratings); use fewer or relative weights."
        )
    masks = np.arange(1 << p)
    r2 = np.zeros(1 << p)
    for m in masks[1:]:
        r2[m] = r2_of_subset(R, r, [j for j in range(p) if m >> j & 1])
    size = np.array([bin(m).count("1") for m in masks])
    weight = np.array([factorial(s) * factorial(p - s - 1) / factorial(p) if s < p else 0.0 for s in range(p + 1)])
    out = np.zeros(p)
    for j in range(p):
        without = masks[(masks >> j & 1) == 0]
        out[j] = float((weight[size[without]] * (r2[without | (1 << j)] - r2[without])).sum())
    return out


def relative_weights(R: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Johnson's relative weights of each predictor (they sum to the model's R^2).

    >>> relative_weights(np.eye(2), np.array([0.6, 0.3])).round(3).tolist()
    [0.36, 0.09]
    """
    evals, evecs = np.linalg.eigh(R)
    evals = np.clip(evals, 1e-12, None)
    lam = evecs @ np.diag(np.sqrt(evals)) @ evecs.T
    beta = np.linalg.solve(lam, r)
    return (lam**2) @ (beta**2)


def correlations(table: ir.Table, columns: Sequence[str], con: Any = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Correlation matrix, means and row count of ``columns`` (computed by the engine)."""
    aggs: dict[str, Any] = {"n": table.count()}
    for i, a in enumerate(columns):
        aggs[f"m{i}"] = table[a].mean()
    for i, j in combinations_with_replacement(range(len(columns)), 2):
        if i != j:
            aggs[f"c{i}_{j}"] = table[columns[i]].corr(
                table[columns[j]], how="pop"
            )  # pop and sample correlations are equal
    row = engine.execute(table.aggregate(**aggs), con).iloc[0]
    p = len(columns)
    C = np.eye(p)
    for i, j in combinations_with_replacement(range(p), 2):
        if i != j:
            v = row[f"c{i}_{j}"]
            C[i, j] = C[j, i] = 0.0 if v is None or v != v else float(v)
    return C, np.array([float(row[f"m{i}"]) for i in range(p)]), int(row["n"])


def key_drivers(
    table: ir.Table,
    target: str,
    ratings: Sequence[str],
    *,
    positive: str | None = None,
    missing_values: Sequence[float] = (),
    con: Any = None,
) -> KeyDrivers:
    """Relative importance of each rating in ``ratings`` for ``target``.

    Parameters
    ----------
    table : ibis.Table
        One row per response.
    target : str
        The overall score column (numeric), or a label column with ``positive``.
    ratings : sequence of str
        The touchpoint rating columns.
    positive : str, optional
        For a label target: the value that counts as 1 (e.g. ``"satisfied"``); others are 0.
    missing_values : sequence of float
        Rating values that mean "not rated" (e.g. ``[0]``), treated as missing.

    Returns
    -------
    KeyDrivers
        Rows ranked by Shapley share (or relative weight beyond :data:`MAX_SHAPLEY` ratings).
    """
    ratings = list(ratings)
    missing = [c for c in [target, *ratings] if c not in table.columns]
    if missing:
        raise InputError(
            f"Column {missing[0]!r} is not in the table (arguments target, ratings); it has: {', '.join(table.columns)}."
        )
    if len(ratings) < 2:
        raise InputError(
            f"Key drivers need at least 2 ratings, got {ratings!r} (argument ratings); name more rating columns."
        )
    cols: dict[str, Any] = {}
    for i, c in enumerate(ratings):
        v = table[c].cast("float64")
        for mv in missing_values:
            v = ibis.cases((v == mv, ibis.null("float64")), else_=v)
        cols[f"x{i}"] = v
    y = table[target]
    cols["y"] = (y.cast("string") == str(positive)).cast("float64") if positive is not None else y.cast("float64")
    t = table.select(**cols).drop_null()
    names = [f"x{i}" for i in range(len(ratings))]
    C, means, n = correlations(t, [*names, "y"], con)
    if n < len(ratings) + 2:
        raise InputError(
            f"Only {n} complete responses for {len(ratings)} ratings (table {target!r}); key drivers need more responses than ratings."
        )
    R, r = C[:-1, :-1], C[:-1, -1]
    r2 = r2_of_subset(R, r, range(len(ratings)))
    rw = relative_weights(R, r)
    sh = shapley_r2(R, r) if len(ratings) <= MAX_SHAPLEY else None
    key = sh if sh is not None else rw
    order = sorted(range(len(ratings)), key=lambda j: (-rank_value(float(key[j])), ratings[j]))  # rounded, then name
    rows = []
    for rank, j in enumerate(order, start=1):
        rows.append(
            [
                ratings[j],
                None if sh is None else float(sh[j]),
                None if sh is None else float(100 * sh[j] / r2),
                float(rw[j]),
                float(r[j]),
                float(means[j]),
                n,
                rank,
            ]
        )
    columns = list(KeyDriverRow.columns())
    meta = {
        "target": target,
        "positive": positive,
        "r2": r2,
        "n": n,
        "target_mean": float(means[-1]),
        "method": "LMG (Shapley decomposition of R^2)" if sh is not None else "Johnson relative weights",
        "missing_values": list(missing_values),
    }
    return KeyDrivers(columns=columns, rows=rows, meta=meta)
