"""Attribute conversions to channels or touchpoints with any set of models, in one call.

:func:`attribute` takes journeys (from :func:`journeymap.journeys.build_journeys`)
or aggregated :class:`~journeymap.attribution.paths.Paths` (e.g. a
ChannelAttribution path file) and returns an
:class:`~journeymap.attribution.results.AttributionResult`: credits per model and
channel, the side-by-side comparison, Markov removal effects, bootstrap
intervals on request, and diagnostics.

Examples
--------
>>> from journeymap.attribution.paths import Paths
>>> p = Paths.from_sequences([["a", "b"], ["b"]], conversions=[1, 1], value=[10, 5], nulls=[1, 2])
>>> r = attribute(p, ["first", "last", "markov", "shapley"])
>>> r.credit("first"), r.credit("last")
({'a': 1.0, 'b': 1.0}, {'a': 0.0, 'b': 2.0})
>>> round(sum(r.credit("markov").values()), 9), round(sum(r.credit("shapley", "value").values()), 9)
(2.0, 15.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir
import numpy as np

from journeymap.attribution.bootstrap import bootstrap_intervals
from journeymap.attribution.diagnostics import path_diagnostics
from journeymap.attribution.heuristics import NEEDS_TIME, canonical_model, heuristic_credits
from journeymap.attribution.markov import markov_credits
from journeymap.attribution.paths import Paths, aggregate_paths, path_touches
from journeymap.attribution.results import AttributionResult
from journeymap.attribution.shapley import MAX_EXACT, ordered_shapley, shapley_credits
from journeymap.attribution.touches import AttributionSettings, attribution_touches
from journeymap.blueprint import Blueprint
from journeymap.errors import InputError

DEFAULT_MODELS = ("first", "last", "last_non_direct", "linear", "time_decay", "position", "markov", "shapley")
"""What ``journeymap attribution`` runs without ``--models``."""

DATA_DRIVEN = ("markov", "shapley")


def parse_models(models: str | Sequence[str]) -> list[str]:
    """``"first,U,markov"`` -> ``['first', 'position', 'markov']``.

    ``all`` stands for every model but ``custom``, which runs only when named (it needs weights).

    >>> parse_models("first, U ,markov")
    ['first', 'position', 'markov']
    """
    from journeymap.attribution.heuristics import HEURISTIC_MODELS

    items = [m for m in (models.split(",") if isinstance(models, str) else models) if str(m).strip()]
    out: list[str] = []
    for m in items:
        key = str(m).strip().lower()
        if key == "all":  # custom needs its weights, so it is only run when named
            out += [*(h for h in HEURISTIC_MODELS if h != "custom"), *DATA_DRIVEN]
            continue
        out.append(key if key in DATA_DRIVEN else canonical_model(key))
    if not out:
        raise InputError(f"--models {models!r} names no model; use e.g. first,last,linear,markov,shapley.")
    return list(dict.fromkeys(out))


def attribute(
    source: ir.Table | Paths,
    models: str | Sequence[str] = DEFAULT_MODELS,
    *,
    blueprint: Blueprint | None = None,
    settings: AttributionSettings | None = None,
    order: int = 1,
    value: bool = False,
    bootstrap: int = 0,
    seed: int = 0,
    custom_weights: Sequence[float] | None = None,
    collapse_repeats: bool = True,
    ordered: bool = False,
    max_exact: int = MAX_EXACT,
    con=None,
) -> AttributionResult:
    """Credits per model and channel for journeys (an Ibis table) or aggregated paths.

    Parameters
    ----------
    source
        Journeys from :func:`~journeymap.journeys.build_journeys`, or :class:`Paths`.
    models
        Any of the rule-based models (:data:`~journeymap.attribution.heuristics.HEURISTIC_MODELS`),
        ``markov`` and ``shapley``.
    settings
        Lookback, container, level, which touchpoints, half-life (journeys only).
    order
        Markov order, 1 to 4.
    value
        Shares by conversion value instead of conversions.
    bootstrap
        Replicates for Markov and Shapley intervals (0: none).
    ordered
        Add the ordered Shapley table (credit by position of first appearance).
    """
    models = parse_models(models)
    settings = (settings or AttributionSettings()).resolved(blueprint)
    warnings: list[str] = []
    if isinstance(source, Paths):
        paths, touches, unattributed = source, None, 0.0
        if any(m in NEEDS_TIME for m in models):
            warnings.append("time_decay left out: a path file has no touch times.")
            models = [m for m in models if m not in NEEDS_TIME]
    else:
        from journeymap.engine import materialized

        touches_expr = _slim(attribution_touches(source, blueprint, settings, markers=True), models)
        with materialized(con, touches_expr, "the attribution touches") as marked:
            touches = marked.filter(marked.channel.notnull()).mutate(nulls=1.0 - marked.conversions)
            paths = aggregate_paths(touches, con)
            unattributed = _unattributed(marked, paths, con)
            rows = _heuristic_rows(
                paths, touches, [m for m in models if m not in DATA_DRIVEN], settings, custom_weights, con
            )
    if isinstance(source, Paths):
        rows = _heuristic_rows(paths, None, [m for m in models if m not in DATA_DRIVEN], settings, custom_weights, con)
    extra: dict[str, Any] = {}
    rows += _data_driven_rows(paths, models, order, collapse_repeats, max_exact, seed, extra, warnings)
    if bootstrap and paths.total_conversions > 0:
        _add_intervals(rows, paths, [m for m in models if m in DATA_DRIVEN], bootstrap, order, collapse_repeats, seed)
    diagnostics = path_diagnostics(paths, unattributed=unattributed)
    diagnostics["warnings"] = warnings + extra.pop("warnings", []) + diagnostics["warnings"]
    meta = {
        "models": models,
        "order": order,
        "value": value,
        "bootstrap": bootstrap,
        "seed": seed,
        "collapse_repeats": collapse_repeats,
        "input": "paths" if isinstance(source, Paths) else "journeys",
        **settings.describe(),
    }
    _set_shares(rows, value)
    return AttributionResult(
        credits=rows,
        diagnostics=diagnostics,
        meta=meta,
        removal_effects=extra.get("removal", []),
        ordered=[list(r) for r in ordered_shapley(paths)] if ordered else [],
    )


def _slim(touches: ir.Table, models: list[str]) -> ir.Table:
    """Only the columns the models read (``nulls`` is ``1 - conversions`` on journeys' touches)."""
    cols = ["path_id", "channel", "pos", "conversions", "value"]
    if any(m in NEEDS_TIME for m in models):
        cols.append("t_before")
    return touches.select(*cols)


def _unattributed(marked: ir.Table, paths: Paths, con) -> float:
    """Conversions (goal touches, the marker rows) that no credited touch led to."""
    from journeymap.engine import execute

    total = execute(marked.filter(marked.channel.isnull()).count(), con)
    return max(0.0, float(total or 0) - paths.total_conversions)


def _heuristic_rows(
    paths: Paths, touches: ir.Table | None, models: list[str], s: AttributionSettings, custom_weights, con
) -> list[list[Any]]:
    if not models:
        return []
    from journeymap.engine import execute

    if touches is None:
        touches, con = path_touches(paths), None
    expr = heuristic_credits(
        touches, models, half_life=s.half_life_delta, direct=s.direct, custom_weights=custom_weights
    )
    df = execute(expr, con)
    rows = []
    for m in models:
        sub = df[df["model"] == m].sort_values("channel")
        rows += [
            [m, str(c), float(cv), float(v), None, None, None, None, None]
            for c, cv, v in zip(sub["channel"], sub["conversions"], sub["value"], strict=True)
        ]
    return rows


def _data_driven_rows(
    paths: Paths,
    models: list[str],
    order: int,
    collapse: bool,
    max_exact: int,
    seed: int,
    extra: dict[str, Any],
    warnings: list[str],
) -> list[list[Any]]:
    rows: list[list[Any]] = []
    if paths.n_paths == 0 and any(m in DATA_DRIVEN for m in models):
        warnings.append("No paths: Markov and Shapley have nothing to credit.")
        return rows
    for m in models:
        if m == "markov":
            fit = markov_credits(paths, order, collapse_repeats=collapse)
            extra["removal"] = [[c, float(e)] for c, e in zip(fit.channels, fit.removal_effects, strict=True)]
            rows += _rows("markov", fit.channels, fit.conversions, fit.value)
        elif m == "shapley":
            sfit = shapley_credits(paths, max_exact=max_exact, seed=seed)
            if not sfit.exact:
                warnings.append(
                    f"Shapley sampled over {sfit.n_permutations} channel orders ({len(sfit.channels)} "
                    f"channels > {max_exact}); largest standard error "
                    f"{float(sfit.stderr_conversions.max()):.3g} conversions."
                )
            rows += _rows("shapley", sfit.channels, sfit.conversions, sfit.value)
    return rows


def _rows(model: str, channels: list[str], conv: np.ndarray, val: np.ndarray) -> list[list[Any]]:
    return [
        [model, c, float(a), float(b), None, None, None, None, None]
        for c, a, b in sorted(zip(channels, conv, val, strict=True))
    ]


def _add_intervals(
    rows: list[list[Any]], paths: Paths, models: list[str], n: int, order: int, collapse: bool, seed: int
) -> None:
    if not models:
        return
    iv = bootstrap_intervals(paths, n, models=models, order=order, collapse_repeats=collapse, seed=seed)
    index = {c: i for i, c in enumerate(paths.channels)}
    for r in rows:
        if r[0] in iv and r[1] in index:
            lo, hi, vlo, vhi = iv[r[0]]
            i = index[r[1]]
            r[5:9] = [float(lo[i]), float(hi[i]), float(vlo[i]), float(vhi[i])]


def _set_shares(rows: list[list[Any]], value: bool) -> None:
    col = 3 if value else 2
    totals: dict[str, float] = {}
    for r in rows:
        totals[r[0]] = totals.get(r[0], 0.0) + r[col]
    for r in rows:
        t = totals[r[0]]
        r[4] = r[col] / t if t > 0 else 0.0
