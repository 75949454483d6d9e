"""The data-quality section: rows, quarantine, ingest log and plain-words notes."""

from __future__ import annotations

from journeymap.maps.inputs import SMALL_N, MapInputs
from journeymap.maps.models import DataQuality
from journeymap.maps.sections import voice
from journeymap.maps.sections.words import pct


def small_kpis(inputs: MapInputs) -> int:
    """Touchpoint and stage KPI figures on fewer than :data:`SMALL_N` responses."""
    view = voice.view(inputs)
    return sum(k.small_sample for (level, _), kpis in view.kpis.items() if level for k in kpis)


def data_quality(inputs: MapInputs) -> DataQuality:
    """The document's ``data_quality``."""
    v, status = inputs.voice, inputs.status
    notes = []
    if v.n_feedback:
        unlinked = v.n_unassigned / v.n_feedback
        notes.append(f"{pct(unlinked)} of feedback in the period could not be linked to a touchpoint.")
    langs = v.languages.get("languages", {})
    if set(langs) - {"en", "und"} or v.languages.get("unscored"):
        said = ", ".join(f"{k} {n}" for k, n in langs.items())
        why = "; ".join(f"{n}: {r}" for r, n in v.languages.get("unscored_reasons", {}).items())
        notes.append(
            f"Feedback languages: {said} (und: too short to tell)."
            + (
                f" {v.languages['unscored']} comments have no text sentiment ({why}); their ratings still count."
                if v.languages.get("unscored")
                else ""
            )
        )
    small = small_kpis(inputs)
    if small:
        notes.append(f"{small} touchpoint/stage KPI figures rest on fewer than {SMALL_N} responses (flagged).")
    if status.get("in_progress"):
        notes.append(
            f"{status['in_progress']} journeys are still in progress at the data's end; "
            + (
                "they count as neither converted nor gave up."
                if inputs.has_goals
                else "the blueprint has no goals: they continued, the others ended."
            )
        )
    return DataQuality(
        rows=dict(inputs.data.rows),
        mapped_rows={"events": inputs.data.mapped_events, "feedback": v.n_feedback},
        feedback_languages=dict(langs),
        unscored_feedback=dict(v.languages.get("unscored_reasons", {})),
        quarantine=list(inputs.data.quarantine),
        ingest_log=list(inputs.data.ingest_log),
        journey_status=dict(status),
        notes=notes,
    )
