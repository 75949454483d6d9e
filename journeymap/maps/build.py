"""Build the JourneyMap of a Workspace: gather the inputs (engine work), then compose the sections (pure).

1. :func:`journeymap.maps.inputs.gather` runs every analysis once on one journeys table and returns a frozen
   :class:`~journeymap.maps.inputs.MapInputs`;
2. :func:`journeymap.maps.sections.compose` makes each part of the document from it
   (:func:`~journeymap.maps.sections.build_section` rebuilds one part alone).

Building a map writes nothing: feedback is read with the scores it has (``journeymap map`` and
``journeymap report`` score new feedback first, :func:`score_missing`); unscored feedback is said in
``meta.warnings``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from journeymap import engine
from journeymap.errors import InputError
from journeymap.maps.models import EMOTION_MIN_N, JourneyMap
from journeymap.ranking import round_figures

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from journeymap.maps.inputs import MapInputs
    from journeymap.workspace import Workspace

ProgressFn = Callable[[str, int, int], None]
"""``progress(step_label, done, total)``: called as the build goes."""

STEPS = (
    "journeys",
    "voice",
    "touchpoints",
    "stages",
    "friction",
    "flows",
    "attribution",
    "drivers",
    "personas",
    "themes",
    "compare",
    "assemble",
)
DEFAULT_COMPARE_DAYS = 30


def build_map(
    ws: Workspace,
    *,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    persona: str | None = None,
    compare_to: str | None = None,
    models: str | Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    personas: bool = True,
    themes: bool = True,
    seed: int = 0,
    emotion_min_n: int | None = None,
) -> JourneyMap:
    """The JourneyMap of a workspace.

    Parameters
    ----------
    ws
        An open :class:`~journeymap.workspace.Workspace` (read-only is enough: nothing is written).
    start, end
        The period (``start`` inclusive, ``end`` exclusive); default: all data.
    persona
        Map only this persona's customers (the persona comparison is then left out).
    compare_to
        ``"previous"`` (the period of equal length before ``start``; without ``start``
        the map covers the last 30 days of data and compares with the 30 before) or
        ``"START:END"`` dates of the period to compare with.
    models
        Attribution models (default: :data:`journeymap.attribution.DEFAULT_MODELS`).
    progress
        ``progress(label, done, total)`` callback.
    personas, themes
        Leave the persona comparison / theme discovery out (faster; used for the compared period).
    seed
        Seed of theme discovery (the same data and seed give the same themes).
    emotion_min_n
        Fewest scored feedback items an emotion needs to be shown as a colour (``meta.emotion_min_n``);
        default: ``[report] emotion_min_n`` in journeymap.toml, else 10.

    Feedback without a sentiment score yet counts by its ratings only and ``meta.warnings`` says so: score it
    first (:func:`score_missing`, or ``journeymap voice sentiment``).

    The document is deterministic: the same data gives the same JSON (but for ``meta``'s build time
    and the ingest log's clock) with any number of engine threads and any order of the source rows
    that keeps same-time rows in file order. Every float keeps 9 significant digits and every ranking
    has a rounded key and a name tie-break (:mod:`journeymap.ranking`).
    """
    from journeymap.maps.sections import compose

    t0 = time.perf_counter()
    inputs = map_inputs(
        ws,
        start=start,
        end=end,
        persona=persona,
        compare_to=compare_to,
        models=models,
        progress=progress,
        personas=personas,
        themes=themes,
        seed=seed,
        emotion_min_n=emotion_min_n,
    )
    doc = compose(inputs)
    meta = doc.meta.model_copy(update={"build_seconds": round(time.perf_counter() - t0, 3)})
    # figures keep 9 significant digits: the same data gives the same document whatever the engine's threads
    return JourneyMap.model_validate(round_figures(doc.model_copy(update={"meta": meta}).model_dump()))


def map_inputs(
    ws: Workspace,
    *,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    persona: str | None = None,
    compare_to: str | None = None,
    models: str | Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    personas: bool = True,
    themes: bool = True,
    seed: int = 0,
    emotion_min_n: int | None = None,
) -> MapInputs:
    """The inputs of :func:`build_map` (same parameters): every analysis run once, nothing composed yet.

    ``journeymap.maps.sections.build_section(name, map_inputs(ws))`` is that section of ``build_map(ws)``.
    """
    from journeymap.attribution import DEFAULT_MODELS, parse_models
    from journeymap.maps.inputs import gather

    min_n = _emotion_min_n(ws, emotion_min_n)
    tell = _progress(progress)
    model_list = parse_models(models or DEFAULT_MODELS)
    period_start, period_end, previous = _periods(ws.events(), ws.con, start, end, compare_to)
    inputs = gather(
        ws,
        start=period_start,
        end=period_end,
        persona=persona,
        models=model_list,
        tell=tell,
        seed=seed,
        personas=personas,
        themes=themes,
        emotion_min_n=min_n,
        compare_to=compare_to,
    )
    if previous is not None:
        tell("compare")
        old = build_map(
            ws,
            start=previous[0],
            end=previous[1],
            persona=persona,
            models=["first"],
            personas=False,
            themes=False,
            seed=seed,
            emotion_min_n=min_n,
        )
        from dataclasses import replace

        inputs = replace(inputs, previous=old)
    tell("assemble")
    return inputs


def score_missing(ws: Workspace, backend: str = "lexicon", progress: Callable[[int, int], None] | None = None) -> int:
    """Score the feedback ``backend`` has not scored yet (the scoring step before a map); returns how many.

    Writes to the warehouse (``ws`` must be open for writing when something is unscored); builds nothing.
    """
    from journeymap.voice.scoring import pending, score_feedback

    if not pending(ws.con, backend):
        return 0
    return score_feedback(ws.con, backend=backend, workspace=ws, progress=progress).scored


def _emotion_min_n(ws: Any, given: int | None) -> int:
    """The emotion minimum: ``given``, else ``[report] emotion_min_n`` of journeymap.toml, else 10."""
    where = "emotion_min_n"
    value: Any = given
    if value is None:
        settings = getattr(ws, "settings", None)
        report = (getattr(settings, "extra", None) or {}).get("report") or {}
        value = report.get("emotion_min_n", EMOTION_MIN_N) if isinstance(report, dict) else EMOTION_MIN_N
        where = "[report] emotion_min_n in journeymap.toml"
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{where} is {value!r}, not a whole number of at least 1; write e.g. emotion_min_n = 10.")
    return int(value)


def _periods(
    events: ir.Table, con: Any, start: Any, end: Any, compare_to: str | None
) -> tuple[datetime | None, datetime | None, tuple[datetime, datetime] | None]:
    """The period mapped and the compared one (or None)."""
    start_dt, end_dt = _dt(start), _dt(end)
    if start_dt and end_dt and end_dt <= start_dt:
        raise InputError(f"--end {end!r} is not after --start {start!r}; give an end after the start.")
    if not compare_to:
        return start_dt, end_dt, None
    if compare_to == "previous":
        if end_dt is None:
            last = _ts(engine.execute(events.ts.max(), con))
            if last is None:
                raise InputError("There are no events to compare periods of; ingest events first.")
            end_dt = last + timedelta(seconds=1)
        if start_dt is None:
            start_dt = end_dt - timedelta(days=DEFAULT_COMPARE_DAYS)
        length = end_dt - start_dt
        return start_dt, end_dt, (start_dt - length, start_dt)
    a, sep, z = str(compare_to).partition(":")
    if not sep or not a.strip() or not z.strip():
        raise InputError(
            f"--compare-to {compare_to!r} is not 'previous' or START:END; write e.g. "
            "--compare-to 2025-01-01:2025-02-01."
        )
    pa, pz = _dt(a.strip()), _dt(z.strip())
    if pa is None or pz is None or pz <= pa:
        raise InputError(f"--compare-to {compare_to!r} ends before it starts; write START:END with START first.")
    return start_dt, end_dt, (pa, pz)


def _progress(progress: ProgressFn | None) -> Callable[[str], None]:
    done = [0]

    def tell(label: str) -> None:
        if progress is not None:
            progress(label, min(done[0], len(STEPS)), len(STEPS))
        done[0] += 1

    return tell


def _ts(x: Any) -> datetime | None:
    from journeymap.voice.summary import _ts as ts

    return ts(x)


def _dt(x: Any) -> datetime | None:
    if x is None or x == "":
        return None
    if isinstance(x, datetime):
        return x
    try:
        return datetime.fromisoformat(str(x).strip())
    except ValueError:
        raise InputError(f"Date {x!r} is not a date; write YYYY-MM-DD or an ISO time.") from None
