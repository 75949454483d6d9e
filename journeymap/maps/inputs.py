"""The inputs of a JourneyMap: every analysis the map needs, run once on one journeys table (engine work).

:func:`gather` runs the analytics (touchpoints, stage_funnel, friction, transitions, flows, attribution,
drivers, lift, the voice figures of :mod:`journeymap.voice.summary`, themes) on ONE journeys table (the
same definition the CLI uses: filtered events cut by ``build_journeys``), materialised once in the engine
and reused, and returns a frozen :class:`MapInputs`. Only aggregates reach Python. The sections
(:mod:`journeymap.maps.sections`) are pure functions of it. Nothing here writes to the warehouse: the
feedback scores are read as stored (:func:`journeymap.voice.summary.stored_scores`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from journeymap import engine
from journeymap.errors import InputError
from journeymap.maps.models import (
    AttributionComparison,
    AttributionRow,
    Driver,
    IngestEntry,
    JourneyMap,
    QuarantineCount,
)
from journeymap.ranking import rank_value
from journeymap.stats import MIN_N
from journeymap.voice.summary import UNASSIGNED, FeedbackFigures, NegativeQuote

if TYPE_CHECKING:
    from journeymap.blueprint import Blueprint
    from journeymap.voice.results import ThemeSet
    from journeymap.workspace import Workspace

SMALL_N = MIN_N
"""KPIs and emotions on fewer responses are flagged small (read with caution; :data:`journeymap.stats.MIN_N`)."""
SEP = "\x1f"
PROVENANCE = ("source", "ingest_id", "properties")
UNREAD_COLUMNS = ("properties", "source", "session_id")
"""Event and feedback columns no part of the map reads (not materialised)."""
PHASE = "_phase"
"""Column of the journeys the map's friction is grouped by: ``to_goal`` or ``post_goal`` (see _Gatherer._phased)."""
ALL = "\x1fall"
"""Stage key of a persona's emotion over all stages (not a stage name)."""

Rows = tuple[Mapping[str, Any], ...]
"""Result rows of an analysis, by column name."""
Key = tuple[str | None, str | None]
"""``(level, name)``: ``("touchpoint", "Checkout")``, ``("stage", "Buy")`` or ``(None, None)`` (overall)."""


# -- the inputs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Totals:
    """Journeys, customers and converted journeys in the mapped period."""

    journeys: int = 0
    customers: int = 0
    converted: int = 0


@dataclass(frozen=True)
class Attribution:
    """The attribution comparison and each touchpoint's share of credit per model."""

    doc: AttributionComparison
    shares: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def shares_of(self, tp: str) -> dict[str, float]:
        """Share of credit of touchpoint ``tp`` per model."""
        return dict(self.shares.get(tp, {}))


@dataclass(frozen=True)
class VoiceInputs:
    """The feedback of the mapped period: figures per touchpoint, stage, persona; KPI rows; quotes; themes."""

    n_feedback: int = 0
    """Feedback rows in the period."""
    n_unassigned: int = 0
    """Of them, linked to no touchpoint."""
    languages: Mapping[str, Any] = field(default_factory=dict)
    """:func:`journeymap.voice.scoring.language_summary` of the period's feedback."""
    figures: Mapping[Key, FeedbackFigures] = field(default_factory=dict)
    """:class:`FeedbackFigures` per ``(level, name)``."""
    kpis: Mapping[Key, Rows] = field(default_factory=dict)
    """Rows of :func:`journeymap.voice.kpis.kpis` per ``(level, name)`` (one per metric)."""
    persona_figures: Mapping[tuple[str, str], FeedbackFigures] = field(default_factory=dict)
    """Per ``(persona, stage)`` (stage :data:`ALL`: over all stages)."""
    persona_levels: Mapping[str, Mapping[Key, FeedbackFigures]] = field(default_factory=dict)
    """Per persona, its feedback figures per ``(level, name)``."""
    persona_kpis: Mapping[str, Mapping[Key, Rows]] = field(default_factory=dict)
    """Per persona, its KPI rows per ``(level, name)``."""
    negative_quotes: Mapping[str, tuple[NegativeQuote, ...]] = field(default_factory=dict)
    """Per touchpoint, its most negative comments."""
    persona_negative_quotes: Mapping[str, Mapping[str, tuple[NegativeQuote, ...]]] = field(default_factory=dict)
    """Per persona and touchpoint, its most negative comments."""
    themes: ThemeSet | None = None
    """Themes of the period's comments (None: none found, or left out)."""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonaInputs:
    """The figures of every persona, from the shared journeys table grouped by persona (``dimension``)."""

    totals: Rows = ()
    """``dimension, journeys, customers, converted`` per persona."""
    funnel: Rows = ()
    """:func:`stage_funnel` rows per persona."""
    paths: Rows = ()
    """Top 3 :func:`variants` per persona."""
    touchpoints: Rows = ()
    """:func:`touchpoints` rows per persona."""
    stage_figures: Rows = ()
    """Customers and median time to conversion per persona and stage."""
    friction: Rows = ()
    """:func:`friction` rows per persona (and phase)."""


@dataclass(frozen=True)
class DataInputs:
    """Rows, quarantine and ingest log of the workspace."""

    rows: Mapping[str, int] = field(default_factory=dict)
    quarantine: tuple[QuarantineCount, ...] = ()
    ingest_log: tuple[IngestEntry, ...] = ()
    mapped_events: int = 0


@dataclass(frozen=True, eq=False)
class MapInputs:
    """Everything a JourneyMap is composed from: the results of the analyses, run once.

    Frozen: the sections (:mod:`journeymap.maps.sections`) read it and never change it; one section can be
    rebuilt from it alone (:func:`journeymap.maps.sections.build_section`).
    """

    blueprint: Blueprint
    """The workspace's blueprint."""
    workspace: str
    """The workspace's folder name."""
    engine: str | None
    """The engine's name (duckdb, pyspark...)."""
    generated_at: datetime
    """When the inputs were gathered."""
    period_start: datetime | None
    period_end: datetime | None
    data_start: datetime | None
    """First event of the mapped journeys."""
    data_end: datetime | None
    """Last event of the workspace."""
    filters: Mapping[str, Any]
    persona: str | None
    """The one persona mapped (None: all customers)."""
    models: tuple[str, ...]
    """Attribution models."""
    totals: Totals
    touchpoints: Rows
    """:func:`journeymap.journeys.touchpoints` rows."""
    stage_funnel: Rows
    """:func:`journeymap.journeys.stage_funnel` rows."""
    stage_figures: Mapping[str, Mapping[str, Any]]
    """Customers and median time to conversion per stage."""
    friction: Mapping[str, Mapping[str, Any]]
    """:func:`journeymap.journeys.friction` rows per touchpoint (each ranked within its phase)."""
    transitions: Rows
    """:func:`journeymap.journeys.transitions` rows."""
    stage_transitions: Rows
    """Stage-to-stage transitions (summed from :attr:`transitions`)."""
    status: Mapping[str, int]
    """Journeys per status."""
    flow_nodes: Rows
    flow_links: Rows
    attribution: Attribution
    drivers: tuple[Driver, ...]
    lift: Mapping[str, Mapping[str, Any]]
    """:func:`journeymap.attribution.lift.lift` rows per touchpoint."""
    voice: VoiceInputs
    personas: PersonaInputs | None
    """None: no persona comparison (one persona mapped, none in the blueprint, or left out)."""
    data: DataInputs
    warnings: tuple[str, ...] = ()
    """Of the journeys' analyses (the voice's and the attribution's are with them)."""
    emotion_min_n: int = 10
    compare_to: str | None = None
    previous: JourneyMap | None = None
    """The compared period's map (``compare_to``), else None."""

    # -- derived from the blueprint ---------------------------------------------------------------
    @cached_property
    def stage_order(self) -> dict[str, int]:
        """Stage name -> position."""
        return {s.name: i for i, s in enumerate(self.blueprint.stages)}

    @cached_property
    def stage_of(self) -> dict[str, str | None]:
        """Touchpoint name -> its stage."""
        return {t.name: t.stage for t in self.blueprint.touchpoints}

    @cached_property
    def goal_cut(self) -> int | None:
        """Order of the first goal's stage; stages after it are post-purchase (post_goal)."""
        return _goal_cut(self.blueprint)

    @cached_property
    def post_goal_stages(self) -> set[str]:
        """Stages after the goal's."""
        return _post_goal_stages(self.blueprint)

    @property
    def has_goals(self) -> bool:
        return bool(self.blueprint.goal_touchpoints())


def _goal_cut(bp: Blueprint) -> int | None:
    order = {s.name: i for i, s in enumerate(bp.stages)}
    stage_of = {t.name: t.stage for t in bp.touchpoints}
    goal_stages = [order[s] for s in (stage_of.get(g) for g in bp.goal_touchpoints()) if s in order]
    return min(goal_stages) if goal_stages else None


def _post_goal_stages(bp: Blueprint) -> set[str]:
    cut = _goal_cut(bp)
    return {s.name for i, s in enumerate(bp.stages) if cut is not None and i > cut}


# -- gathering -------------------------------------------------------------------------------------
def gather(
    ws: Workspace,
    *,
    start: datetime | None,
    end: datetime | None,
    persona: str | None,
    models: Sequence[str],
    tell: Callable[[str], None],
    seed: int,
    personas: bool,
    themes: bool,
    emotion_min_n: int,
    compare_to: str | None = None,
) -> MapInputs:
    """Run every analysis of the map once and return their results (see the module).

    ``personas`` and ``themes`` leave the persona comparison / theme discovery out.
    """
    g = _Gatherer(ws, start, end, persona, list(models), tell, seed)
    with g.cached_journeys():
        return g.gather(
            personas=personas and persona is None, themes=themes, emotion_min_n=emotion_min_n, compare_to=compare_to
        )


class _Gatherer:
    def __init__(
        self,
        ws: Workspace,
        start: datetime | None,
        end: datetime | None,
        persona: str | None,
        models: list[str],
        tell: Callable[[str], None],
        seed: int,
    ) -> None:
        self.ws, self.bp, self.con = ws, ws.blueprint, ws.con
        self.start, self.end, self.persona = start, end, persona
        self.models, self.tell, self.seed = models, tell, seed
        self.warnings: list[str] = []
        bp = self.bp
        self.stage_order = {s.name: i for i, s in enumerate(bp.stages)}
        self.stage_of = {t.name: t.stage for t in bp.touchpoints}
        self.goal_cut = _goal_cut(bp)
        self.post_goal_stages = _post_goal_stages(bp)
        self.has_customers = _rows(ws.customers(), self.con) > 0
        self.j: ir.Table  # set by cached_journeys()
        self.total_journeys = 0

    # -- journeys, once ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def cached_journeys(self) -> Iterator[None]:
        from journeymap.journeys import Filters, apply_filters, build_journeys, with_dimension

        self.tell("journeys")
        self.filters = Filters(start=self.start, end=self.end, personas=(self.persona,) if self.persona else ())
        customers = self.ws.customers() if self.has_customers else None
        events = apply_filters(self.ws.events(), self.filters, customers=customers, blueprint=self.bp)
        if customers is not None and self.bp.personas:
            events = with_dimension(events, "persona", customers=customers, blueprint=self.bp)
        else:
            events = events.mutate(dimension=ibis.literal("other"))
        self.events = events
        # a persona's journeys are cut as in the full map: "in progress" against the data's end of the
        # period, not the last event of that persona's customers
        end = None
        if self.persona:
            period = apply_filters(self.ws.events(), Filters(start=self.start, end=self.end))
            end = _ts(engine.execute(period.ts.max(), self.con))
        journeys = build_journeys(events, self.bp, end=end)
        # the map reads no free-form event columns: leave them out of the materialised table
        journeys = journeys.drop(*[c for c in UNREAD_COLUMNS if c in journeys.columns])
        with _temp_table(journeys, self.con, "journeys") as j:
            self.j = j
            yield

    def gather(self, *, personas: bool, themes: bool, emotion_min_n: int, compare_to: str | None) -> MapInputs:
        from journeymap.journeys import status_counts, touchpoints, transitions

        j, con = self.j, self.con
        voice = _VoiceGatherer(self)
        with voice.closing():
            self.tell("voice")
            voice.prepare()
            # theme discovery (numpy/scikit-learn on the comments) runs in a worker thread while the
            # engine computes the journey figures
            pending = voice.start_themes() if themes else None
            try:
                self.tell("touchpoints")
                tp_rows = touchpoints(j, con=con).records()
                f1 = j.filter(j.step == 1)
                totals = engine.execute(
                    f1.aggregate(
                        journeys=f1.count(),
                        customers=f1.customer_id.nunique(),
                        converted=f1.converted.cast("int64").sum(),
                    ),
                    con,
                ).iloc[0]
                ev_span = engine.execute(j.aggregate(first=j.ts.min(), last=j.ts.max(), n=j.count()), con).iloc[0]
                self.total_journeys = int(totals["journeys"] or 0)
                self.tell("stages")
                with_personas = personas and bool(self.bp.personas) and self.has_customers
                stage_rows, persona_funnel = self._stage_funnels(with_personas)
                stage_tp, persona_stage_tp = self._stage_figures(with_personas)
                self.tell("friction")
                fr_rows, persona_friction = self._friction(with_personas)
                tr = transitions(j, con=con).records()
                tr_stage = self._stage_transitions(tr) if self.bp.stages else []
                status = status_counts(j)
                self.tell("flows")
                node_rows, link_rows = self._flow_rows()
                self.tell("attribution")
                if self.total_journeys:
                    attribution = self._attribution()
                    self.tell("drivers")
                    drivers_doc, lift_rows = self._drivers_and_lift()
                else:
                    self.warnings.append("No journeys in the mapped period: attribution, drivers and lift are empty.")
                    attribution, drivers_doc, lift_rows = _Attribution(self.models), [], {}
                self.tell("personas")
                persona_inputs = None
                if personas:
                    persona_inputs = self._personas(persona_funnel, persona_stage_tp, persona_friction)
                    voice.personas()
            finally:
                self.tell("themes")
                voice.finish_themes(pending)
            data = self._data(int(ev_span["n"] or 0))
            return MapInputs(
                blueprint=self.bp,
                workspace=ws_name(self.ws),
                engine=getattr(con, "name", None),
                generated_at=datetime.now(UTC),
                period_start=self.start,
                period_end=self.end,
                data_start=_ts(ev_span["first"]),
                data_end=_ts(engine.execute(self.ws.events().ts.max(), con)),
                filters=self.filters.describe(),
                persona=self.persona,
                models=tuple(attribution.models),
                totals=Totals(
                    journeys=int(totals["journeys"] or 0),
                    customers=int(totals["customers"] or 0),
                    converted=int(totals["converted"] or 0),
                ),
                touchpoints=tuple(tp_rows),
                stage_funnel=tuple(stage_rows),
                stage_figures=stage_tp,
                friction=fr_rows,
                transitions=tuple(tr),
                stage_transitions=tuple(tr_stage),
                status={k: int(v) for k, v in status.items()},
                flow_nodes=tuple(node_rows),
                flow_links=tuple(link_rows),
                attribution=Attribution(
                    doc=attribution.doc, shares=attribution.shares, warnings=tuple(attribution.warnings)
                ),
                drivers=tuple(drivers_doc),
                lift=lift_rows,
                voice=voice.inputs(),
                personas=persona_inputs,
                data=data,
                warnings=tuple(self.warnings),
                emotion_min_n=emotion_min_n,
                compare_to=compare_to,
            )

    def _phased(self, j: ir.Table) -> ir.Table:
        """``j`` with the column PHASE: ``post_goal`` for touches in a stage after the goal's, else ``to_goal``.

        Friction is computed per phase (``by=PHASE``): after a conversion, post-purchase touches (delivery
        tracking, returns, reviews) start journeys that rarely convert again, so their exits would always
        look like customers giving up next to the touches on the way to the goal. Each phase is judged
        against its own touches (exit rate by position, loop rate).
        """
        if not self.post_goal_stages:
            return j.mutate(**{PHASE: ibis.literal("to_goal")})
        return j.mutate(**{PHASE: ibis.ifelse(j.stage.isin(sorted(self.post_goal_stages)), "post_goal", "to_goal")})

    def _flow_rows(self) -> tuple[list[dict], list[dict]]:
        """The Sankey's nodes and links (``journeys.flows(j, steps=5, top=8)``) in one query.

        Both come from the same cleaned steps (a window pass over the journeys); run as one query the
        engine computes those steps once instead of once for the nodes and once for the links.
        """
        from journeymap.journeys.paths import flows_expr
        from journeymap.journeys.transitions import frame_rows

        nodes, links = flows_expr(self.j, steps=5, top=8)
        cols = ["step", "source", "target", "journeys"]
        nodes = nodes.select(
            step=nodes.step,
            source=nodes.node,
            target=ibis.null("string"),
            journeys=nodes.journeys,
            _part=ibis.literal(0),
        )
        links = links.select(*cols, _part=ibis.literal(1))
        df = engine.execute(nodes.union(links, distinct=False), self.con)
        df = df.sort_values(
            ["_part", "step", "journeys", "source", "target"], ascending=[True, True, False, True, True], kind="stable"
        )
        out: tuple[list[dict], list[dict]] = ([], [])
        for row in frame_rows(df[[*cols, "_part"]]):
            step, source, target, journeys, part = row
            out[part].append(
                {"step": step, "node": source, "journeys": journeys}
                if part == 0
                else {"step": step, "source": source, "target": target, "journeys": journeys}
            )
        return out

    def _friction(self, personas: bool) -> tuple[dict[str, dict], list[dict]]:
        """Friction per phase of the map (by touchpoint) and of each persona (``dimension`` first).

        Each is ranked within its own group (the map's phase; the persona's phase). Two queries: run
        as one (a union) the engine would keep the ordered touches of every journey in memory for
        both, ~0.5 s less CPU at 1M events but ~240 MB more peak memory.
        """
        from journeymap.journeys import friction

        keyed = self._phased(self.j)
        goals = bool(self.bp.goal_touchpoints())  # without goals journeys end, they do not give up
        main = {r["touchpoint"]: r for r in friction(keyed, by=PHASE, goals=goals, con=self.con).records()}
        if not personas:
            return main, []
        keyed = keyed.mutate(_dp=keyed.dimension.cast("string") + SEP + keyed[PHASE])
        per_persona = [
            {**r, "dimension": str(r["_dp"]).partition(SEP)[0]}
            for r in friction(keyed, by="_dp", goals=goals, con=self.con).records()
        ]
        return main, per_persona

    def _stage_transitions(self, tr: list[dict]) -> list[dict]:
        """``transitions(j, node="stage")``'s ``source, target, count, probability`` from the touchpoint transitions.

        A touch's stage is its touchpoint's (the blueprint's mapping, ``(none)`` without one), so each
        stage-to-stage edge is the sum of the touchpoint edges between their touchpoints, and its
        probability that count over all edges out of the source stage.
        """
        from journeymap.journeys.transitions import END_NODES, START

        ends = {START, *END_NODES.values()}

        def stage(node: str) -> str:
            return node if node in ends else (self.bp.stage_of(node) or "(none)")

        counts: dict[tuple[str, str], int] = {}
        for r in tr:
            key = (stage(r["source"]), stage(r["target"]))
            counts[key] = counts.get(key, 0) + int(r["count"])
        out_of: dict[str, int] = {}
        for (source, _), n in counts.items():
            out_of[source] = out_of.get(source, 0) + n
        rows = [{"source": s, "target": t, "count": n, "probability": n / out_of[s]} for (s, t), n in counts.items()]
        return sorted(rows, key=lambda r: (-r["count"], r["source"], r["target"]))

    def _stage_funnels(self, personas: bool) -> tuple[list[dict], list[dict]]:
        """The stage funnel of the map and, with ``personas``, of each persona (``dimension`` first).

        With personas the engine runs only the per-persona funnel: a journey belongs to one customer and
        a customer to one persona, so the map's counts are the sums of the personas' counts; its rates and
        Wilson intervals are then computed from those sums by the engine, as ``stage_funnel`` does.
        """
        from journeymap.journeys import stage_funnel

        if not self.bp.stages:
            return [], []
        if not personas or not self.total_journeys:
            return stage_funnel(self.j, self.bp, con=self.con).records(), []
        by_persona = stage_funnel(self.j, self.bp, by="dimension", con=self.con).records()
        return self._summed_funnel(by_persona), by_persona

    def _summed_funnel(self, rows: list[dict]) -> list[dict]:
        """``stage_funnel(j)`` from the rows of ``stage_funnel(j, by=...)`` (the groups split the journeys)."""
        from journeymap.journeys.stages import STAGE_COLUMNS
        from journeymap.journeys.touchpoints import wilson_interval
        from journeymap.journeys.transitions import frame_rows

        names = self.bp.stage_names()
        counts = (
            "journeys",
            "converted",
            "in_progress",
            "dropped",
            "reached_or_beyond",
            "ended_dropped",
            "ended_in_progress",
            "to_next",
            "converters",
            "after_goal",
        )
        sums = {name: dict.fromkeys(counts, 0) for name in names}
        for r in rows:
            for c in counts:
                sums[r["stage"]][c] += int(r[c] or 0)
        t = ibis.memtable(
            {
                "stage": names,
                "stage_no": list(range(1, len(names) + 1)),
                **{c: [sums[name][c] for name in names] for c in counts},
            }
        )
        t = t.cast({c: "int64" for c in ("stage_no", *counts)})
        t = t.mutate(
            to_next=ibis.ifelse(t.stage_no == len(names), ibis.null("int64"), t.to_next),
            _total=ibis.literal(self.total_journeys, "int64"),
        )
        low, high = wilson_interval(t.to_next, t.journeys)
        has = t.journeys > 0
        t = t.mutate(
            share_of_journeys=t.journeys.cast("float64") / t._total,
            rate_to_next=ibis.ifelse(has, t.to_next.cast("float64") / t.journeys, ibis.null("float64")),
            next_low=ibis.ifelse(has, low, ibis.null("float64")),
            next_high=ibis.ifelse(has, high, ibis.null("float64")),
            conversion_rate=ibis.ifelse(has, t.converted.cast("float64") / t.journeys, ibis.null("float64")),
        )
        # after the goal: the converters and those reaching the stage, summed too (null before the goal's stage)
        post = ibis.literal(False) if self.goal_cut is None else t.stage_no > self.goal_cut + 1
        t = t.mutate(
            converters=ibis.ifelse(post, t.converters, ibis.null("int64")),
            after_goal=ibis.ifelse(post, t.after_goal, ibis.null("int64")),
        )
        low, high = wilson_interval(t.after_goal, t.converters)
        has = t.converters > 0
        t = t.mutate(
            after_goal_rate=ibis.ifelse(has, t.after_goal.cast("float64") / t.converters, ibis.null("float64")),
            after_low=ibis.ifelse(has, low, ibis.null("float64")),
            after_high=ibis.ifelse(has, high, ibis.null("float64")),
        )
        df = engine.execute(t.select(*STAGE_COLUMNS).order_by("stage_no"), self.con)
        out = _recs(list(df.columns), frame_rows(df))
        for r in out:
            for c in ("to_next", "converters", "after_goal"):
                r[c] = None if r[c] is None else int(r[c])
        return out

    def _stage_figures(self, personas: bool) -> tuple[dict[str, dict], list[dict]]:
        """Customers and median time to conversion per stage, of the map and of each persona, in one query.

        The same figures as ``touchpoints(j, node="stage")`` (and ``by="dimension"``): per journey and
        stage its first touch, then distinct customers and the median time from that first touch to
        the journey's end over converted journeys. A persona is a property of the customer, so the
        journey x stage rows are the same for both and computed once.
        """
        from journeymap.journeys.transitions import frame_rows, whole_seconds

        if not self.bp.stages:
            return {}, []
        j = self.j.filter(self.j.stage.notnull())
        keys = ["dimension", "customer_id", "journey_no", "stage"]
        per = j.group_by(keys).agg(
            first_t=whole_seconds(j.ts.min()), end_t=whole_seconds(j.journey_end.max()), converted=j.converted.any()
        )
        per = per.mutate(
            _to_goal=ibis.ifelse(per.converted, (per.end_t - per.first_t).cast("float64"), ibis.null("float64"))
        )

        def figures(group: list[str]) -> ir.Table:
            return per.group_by(group).agg(
                customers=per.customer_id.nunique(), median_time_to_conversion_s=per._to_goal.median()
            )

        main = figures(["stage"]).mutate(dimension=ibis.null("string"), _part=ibis.literal(0))
        cols = ["dimension", "stage", "customers", "median_time_to_conversion_s", "_part"]
        expr = main.select(*cols)
        if personas:
            by_persona = figures(["dimension", "stage"])
            by_persona = by_persona.mutate(dimension=by_persona.dimension.cast("string"), _part=ibis.literal(1))
            expr = expr.union(by_persona.select(*cols), distinct=False)
        df = engine.execute(expr, self.con)
        stage_tp: dict[str, dict] = {}
        per_persona: list[dict] = []
        for r in _recs(cols, frame_rows(df[cols])):
            part = r.pop("_part")
            if part == 0:
                stage_tp[str(r["stage"])] = r
            else:
                per_persona.append(r)
        return stage_tp, per_persona

    def _attribution(self) -> _Attribution:
        from journeymap.attribution import AttributionSettings, attribute

        out = _Attribution(self.models)
        settings = AttributionSettings(level="touchpoint")
        try:
            res = attribute(self.j, self.models, blueprint=self.bp, settings=settings, con=self.con)
        except InputError as e:
            out.warnings.append(f"Attribution left out: {e}")
            return out
        out.read(res, self.bp)
        out.denominator(self._unattributed(settings), res.diagnostics.get("conversions"))
        return out

    def _unattributed(self, settings: Any) -> dict[str, int]:
        """Converted journeys, and those no attribution credit reaches, by reason (the journey container's rule).

        A conversion is credited over its journey's touches before the goal that take part (not goal touches;
        by default marketing touchpoints only) and are within the lookback of the goal; a converted journey
        without such a touch is left out of the attributed conversions.
        """
        from journeymap.attribution.touches import participating

        s = settings.resolved(self.bp)
        keep = participating(self.bp, s.include_service)
        conv = self.j.filter(self.j.converted)
        before = ~conv.is_goal
        takes_part = before & conv.touchpoint.isin(keep) if keep is not None else before
        within = takes_part
        if s.lookback is not None:
            gap = (conv.journey_end.epoch_seconds() - conv.ts.epoch_seconds()).cast("float64")
            within = takes_part & (gap <= s.lookback.total_seconds())
        per = conv.group_by("journey_id").agg(_b=before.any(), _p=takes_part.any(), _w=within.any())
        row = engine.execute(
            per.aggregate(
                converted=per.count(),
                no_touch_before_goal=(~per._b).cast("int64").sum(),
                no_credited_touch=(per._b & ~per._p).cast("int64").sum(),
                outside_lookback=(per._p & ~per._w).cast("int64").sum(),
            ),
            self.con,
        ).iloc[0]
        out = {
            k: int(row[k] or 0) for k in ("converted", "no_touch_before_goal", "no_credited_touch", "outside_lookback")
        }
        out["_marketing_only"] = int(keep is not None)
        out["_lookback_s"] = int(s.lookback.total_seconds()) if s.lookback is not None else -1
        return out

    def _drivers_and_lift(self) -> tuple[list[Driver], dict[str, dict]]:
        from journeymap.attribution.lift import lift
        from journeymap.journeys import drivers

        customers = self.ws.customers() if self.has_customers else None
        lift_rows: dict[str, dict] = {}
        try:
            lr = lift(self.j, customers, self.bp, con=self.con)
            lift_rows = {r["touchpoint"]: r for r in lr.records()}
        except InputError as e:
            self.warnings.append(f"Lift left out: {e}")
        try:
            attrs = None
            if customers is not None:
                from journeymap.journeys.drivers import _small_attributes

                # the ingest's own columns (file path...) are provenance, not customer attributes
                attrs = [a for a in _small_attributes(customers, self.con) if a not in PROVENANCE]
            dr = drivers(self.j, customers=customers, attributes=attrs, con=self.con).records()
        except InputError as e:
            self.warnings.append(f"Drivers left out: {e}")
            dr = []
        cut = self.goal_cut
        docs = []
        for r in dr:
            if r["kind"] == "touchpoint" and cut is not None:
                st = self.stage_of.get(r["value"])
                if st in self.stage_order and self.stage_order[st] >= cut:
                    continue  # steps of the goal's stage and after are outcomes, not drivers
            docs.append(
                Driver(
                    feature=r["value"] if r["kind"] == "touchpoint" else f"{r['name']}={r['value']}",
                    kind="touchpoint" if r["kind"] == "touchpoint" else "attribute",
                    odds_ratio=_f(r["odds_ratio"]),
                    low=_f(r["or_low"]),
                    high=_f(r["or_high"]),
                    p=_f(r["p_value"]),
                    q=_f(r["p_adjusted"]),
                    n=int(r["exposed"] or 0),
                    significant=bool(r["significant"]),
                )
            )
        docs.sort(
            key=lambda d: (
                not (d.significant and (d.odds_ratio or 0) > 1),
                d.kind != "touchpoint",
                -rank_value(d.odds_ratio),
                d.feature,
            )
        )
        return docs, lift_rows

    def _personas(self, funnel: list[dict], stage_tp: list[dict], fr: list[dict]) -> PersonaInputs | None:
        """Every persona's figures from the shared journeys table grouped by persona (``by="dimension"``:
        each persona against its own baseline, as in ``build_map(ws, persona=P)``), one query per analysis for
        all personas; journeys are not rebuilt per persona."""
        from journeymap.journeys import touchpoints, variants

        if not self.bp.personas or not self.has_customers:
            return None
        j, con = self.j, self.con
        f1 = j.filter(j.step == 1)
        per = engine.execute(
            f1.group_by("dimension").aggregate(
                journeys=f1.count(), customers=f1.customer_id.nunique(), converted=f1.converted.cast("int64").sum()
            ),
            con,
        )
        return PersonaInputs(
            totals=tuple(per.to_dict("records")),
            funnel=tuple(funnel),
            paths=tuple(variants(j, by="dimension", top=3, con=con).records()),
            touchpoints=tuple(touchpoints(j, by="dimension", con=con).records()),
            stage_figures=tuple(stage_tp),
            friction=tuple(fr),
        )

    def _data(self, mapped_events: int) -> DataInputs:
        ws, con = self.ws, self.con
        rows = {name: _rows(ws.table(name), con) for name in ("events", "feedback", "customers", "quarantine")}
        q = ws.quarantine()
        qc = engine.execute(q.group_by(["table", "reason"]).aggregate(count=q.count()), con)
        quarantine = sorted(
            (
                QuarantineCount(table=str(r["table"]), reason=str(r["reason"]), count=int(r["count"]))
                for r in qc.to_dict("records")
            ),
            key=lambda x: (-x.count, x.table, x.reason),
        )
        log = engine.execute(ws.ingest_log().order_by(ibis.desc("started_at")).limit(50), con)
        entries = []
        for r in log.to_dict("records"):
            entries.append(
                IngestEntry(
                    time=_ts(r.get("started_at")),
                    table=str(r.get("table") or ""),
                    source=str(r.get("source") or ""),
                    rows_read=_i(r.get("rows_read")),
                    rows_loaded=_i(r.get("loaded")),
                    rows_quarantined=_i(r.get("quarantined")),
                    extra={"duplicate": _i(r.get("duplicate")), "ingest_id": r.get("ingest_id")},
                )
            )
        return DataInputs(
            rows=rows, quarantine=tuple(quarantine), ingest_log=tuple(entries), mapped_events=mapped_events
        )


# -- attribution ---------------------------------------------------------------------------------
class _Attribution:
    def __init__(self, models: list[str]):
        self.models = list(models)
        self.doc = AttributionComparison(models=self.models)
        self.warnings: list[str] = []
        self.shares: dict[str, dict[str, float]] = {}

    def read(self, res: Any, bp: Blueprint) -> None:
        models = list(res.meta.get("models", self.models))
        self.models = models
        credits: dict[str, dict[str, float]] = {}
        shares: dict[str, dict[str, float]] = {}
        for model, tp, conv, _value, share, *_ in res.credits:
            credits.setdefault(tp, {})[model] = float(conv or 0)
            shares.setdefault(tp, {})[model] = float(share or 0)
        self.shares = shares
        data_driven = next((m for m in ("markov", "shapley") if m in models), models[0] if models else None)
        rows = []
        for tp in credits:
            btp = bp.touchpoint(tp)
            rows.append(
                AttributionRow(
                    touchpoint=tp, channel=btp.channel if btp else None, credits=credits[tp], shares=shares.get(tp, {})
                )
            )
        rows.sort(key=lambda r: (-rank_value(r.credits.get(data_driven, 0) if data_driven else 0), r.touchpoint))
        total = sum(v.get(models[0], 0) for v in credits.values()) if models else 0
        settings = {k: res.meta.get(k) for k in ("lookback", "container", "level", "include_service")}
        self.warnings += [f"Attribution: {w}" for w in res.diagnostics.get("warnings", [])]
        self.doc = AttributionComparison(
            models=models,
            conversions=total,
            rows=rows,
            note="Credits per touchpoint (marketing touchpoints: paid and earned, unless marked otherwise) "
            f"for conversions; settings {settings}.",
        )

    def denominator(self, counts: dict[str, int], attributed: float | None) -> None:
        """State the attribution's denominator: conversions credited vs converted journeys, and why they differ."""
        from journeymap.maps.sections.words import duration_words

        converted = counts["converted"]
        reasons = {k: counts[k] for k in ("no_touch_before_goal", "no_credited_touch", "outside_lookback")}
        conversions = float(attributed if attributed is not None else self.doc.conversions)
        lookback_s = counts["_lookback_s"]
        lookback = duration_words(timedelta(seconds=lookback_s)) if lookback_s >= 0 else None
        which = "marketing touch (a paid or earned touchpoint)" if counts["_marketing_only"] else "touch"
        within = f" in the {lookback} before the goal" if lookback else " before the goal"
        words = {
            "no_touch_before_goal": "had no touch before the goal",
            "no_credited_touch": "had no marketing touch before the goal, only owned or service touchpoints "
            "that attribution does not credit",
            "outside_lookback": f"had {'marketing ' if counts['_marketing_only'] else ''}touches only more "
            f"than {lookback or 'the lookback'} before the goal",
        }
        left = converted - sum(reasons.values())
        why = "; ".join(f"{n:,} {words[k]}" for k, n in reasons.items() if n)
        shown = f"{conversions:,.0f}" if float(conversions).is_integer() else f"{conversions:,.1f}"
        note = (
            f"Credit is shared over {shown} conversions: converted journeys with at least one {which}{within} "
            f"({converted:,} converted journeys" + (f"; {why})." if why else ").")
        )
        if abs(left - conversions) > 1e-6:  # not the journey container's count: say so rather than mislead
            note += f" {left:,} converted journeys have such a touch."
        self.doc = self.doc.model_copy(
            update={"converted_journeys": converted, "unattributed": dict(reasons), "denominator_note": note}
        )


# -- voice ---------------------------------------------------------------------------------------
class _VoiceGatherer:
    """Feedback in the period, linked to touchpoints, with its stored scores, materialised once; its figures
    from :mod:`journeymap.voice.summary`."""

    def __init__(self, g: _Gatherer):
        self.g = g
        self.warnings: list[str] = []
        self.n_feedback = 0
        self.n_unassigned = 0
        self.languages: dict[str, Any] = {}
        self.figures: dict[Key, FeedbackFigures] = {}
        self.kpis: dict[Key, Rows] = {}
        self.persona_figures: dict[tuple[str, str], FeedbackFigures] = {}
        self.persona_levels: dict[str, dict[Key, FeedbackFigures]] = {}
        self.persona_kpis: dict[str, dict[Key, Rows]] = {}
        self.negative: dict[str, tuple[NegativeQuote, ...]] = {}
        self.persona_negative: dict[str, dict[str, tuple[NegativeQuote, ...]]] = {}
        self.themes: ThemeSet | None = None
        self.table: ir.Table | None = None
        self._ctx = contextlib.ExitStack()

    def inputs(self) -> VoiceInputs:
        return VoiceInputs(
            n_feedback=self.n_feedback,
            n_unassigned=self.n_unassigned,
            languages=self.languages,
            figures=self.figures,
            kpis=self.kpis,
            persona_figures=self.persona_figures,
            persona_levels=self.persona_levels,
            persona_kpis=self.persona_kpis,
            negative_quotes=self.negative,
            persona_negative_quotes=self.persona_negative,
            themes=self.themes,
            warnings=tuple(self.warnings),
        )

    def prepare(self) -> None:
        from journeymap.journeys import apply_filters
        from journeymap.voice.summary import (
            feedback_figures,
            feedback_table,
            most_negative,
            unscored_count,
        )

        g, con = self.g, self.g.con
        fb = g.ws.feedback()
        if _rows(fb, con) == 0:
            self.warnings.append("No feedback in the workspace: KPIs, emotions, themes and quotes are empty.")
            return
        unscored = unscored_count(con, "lexicon")
        if unscored:
            self.warnings.append(
                f"{unscored:,} feedback comments have no sentiment score yet, so their text is left out of emotion, "
                "themes and quotes (their ratings still count); score them with `journeymap voice sentiment` "
                "(`journeymap map` and `journeymap report` score them first)."
            )
        customers = g.ws.customers() if g.has_customers else None
        fb = apply_filters(fb, g.filters, customers=customers, blueprint=g.bp)

        def keep(table: ir.Table) -> ir.Table:
            table = table.drop(*[c for c in UNREAD_COLUMNS if c in table.columns])
            return self._ctx.enter_context(_temp_table(table, con, "links"))

        t = feedback_table(fb, g.bp, con, customers=customers if g.bp.personas else None, materialize=keep)
        t = t.drop(*[c for c in UNREAD_COLUMNS if c in t.columns])
        self.table = self._ctx.enter_context(_temp_table(t, con, "feedback"))
        t = self.table
        counts = engine.execute(
            t.aggregate(n=t.count(), un=(t.link_touchpoint == UNASSIGNED).cast("int64").sum()), con
        ).iloc[0]
        self.n_feedback, self.n_unassigned = int(counts["n"]), int(counts["un"] or 0)
        if self.n_feedback == 0:
            return
        from journeymap.voice.scoring import language_summary

        if _has_scores(con):
            self.languages = language_summary(con, "lexicon", t)
        self._levels(t)
        # persona x stage emotion
        if g.bp.personas:
            for (who,), f in _keyed(feedback_figures(t, ["persona"], con)).items():
                self.persona_figures[(who, ALL)] = f
            for (who, stage), f in _keyed(feedback_figures(t, ["persona", "link_stage"], con)).items():
                if stage is not None:
                    self.persona_figures[(who, stage)] = f
        self.negative = {tp: tuple(qs) for tp, qs in most_negative(t, con, by_persona=False).get(None, {}).items()}

    def _levels(self, t: ir.Table) -> None:
        """KPI rows (voice.kpis) and feedback figures per touchpoint, per stage, overall."""
        from journeymap.voice.kpis import kpis
        from journeymap.voice.summary import feedback_figures

        g, con = self.g, self.g.con
        kt = t.mutate(touchpoint=t.link_touchpoint)
        for level, col in (("touchpoint", "link_touchpoint"), ("stage", "link_stage"), (None, None)):
            if level == "stage" and not g.bp.stages:
                continue
            res = (
                kpis(kt, by=level, blueprint=g.bp, min_n=SMALL_N, con=con)
                if level
                else kpis(kt, min_n=SMALL_N, con=con)
            )
            for value, f in feedback_figures(t, col, con).items():
                self.figures[(level, value if level else None)] = f
            for r in res.records():
                key = (level, r.get(level) if level else None)
                if level and key[1] in (None, UNASSIGNED):
                    continue
                self.kpis[key] = (*self.kpis.get(key, ()), r)

    def personas(self) -> None:
        """Each persona's KPI rows and feedback figures per level (one grouped query per level for all personas,
        key: persona + level value) and its most negative comments: the figures of ``build_map(ws, persona=P)``."""
        from journeymap.voice.kpis import kpis
        from journeymap.voice.summary import feedback_figures, most_negative

        g, con = self.g, self.g.con
        if self.table is None or not self.n_feedback:
            return
        t = self.table
        for level, col in (("touchpoint", "link_touchpoint"), ("stage", "link_stage"), (None, None)):
            if level == "stage" and not g.bp.stages:
                continue
            part = t[col].cast("string") if col else ibis.literal("")
            kt = t.mutate(_pk=t.persona.cast("string") + SEP + part, touchpoint=t.link_touchpoint)
            res = kpis(kt, by="_pk", min_n=SMALL_N, con=con)
            for pk, f in feedback_figures(kt, "_pk", con).items():
                if pk is None or f.n == 0:
                    continue
                who, _, name = str(pk).partition(SEP)
                if not (level and name == UNASSIGNED):
                    self.persona_levels.setdefault(who, {})[(level, name if level else None)] = f
            for r in res.records():
                pk = r.get("_pk")
                if pk is None:
                    continue
                who, _, name = str(pk).partition(SEP)
                if level and name in ("", UNASSIGNED):
                    continue
                scoped = self.persona_kpis.setdefault(who, {})
                key = (level, name if level else None)
                scoped[key] = (*scoped.get(key, ()), r)
        self.persona_negative = {
            who: {tp: tuple(qs) for tp, qs in by_tp.items()}
            for who, by_tp in most_negative(t, con, by_persona=True).items()
            if who is not None
        }

    def closing(self) -> contextlib.ExitStack:
        """Drops the materialised feedback when the gathering is done."""
        return self._ctx

    def start_themes(self) -> Future | None:
        """Fetch the comments (engine, this thread) and start theme discovery in a worker thread."""
        from journeymap.voice.themes import find_themes

        if self.table is None or self.n_feedback == 0:
            return None
        t = self.table
        t = t.filter(t.text.notnull() & t.feedback_id.notnull())
        df = engine.execute(
            t.select("feedback_id", "text", "ts", "link_touchpoint", "sentiment", "sentiment_label"), self.g.con
        )
        if df.empty:
            return None
        fb = ibis.memtable(df[["feedback_id", "text", "ts", "link_touchpoint"]])
        sc = ibis.memtable(df[["feedback_id", "sentiment", "sentiment_label"]])
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journeymap-themes")
        self._ctx.callback(pool.shutdown, wait=True)
        # memtables run on their own in-process engine, not on the workspace's connection
        return pool.submit(
            _one_thread, find_themes, fb, blueprint=self.g.bp, scores=sc, backend="tfidf", seed=self.g.seed
        )

    def finish_themes(self, pending: Future | None) -> None:
        """The themes found (or a warning saying why none)."""
        if pending is None:
            return
        try:
            self.themes = pending.result()
        except InputError as e:
            self.warnings.append(f"Themes left out: {e}")


# -- helpers -------------------------------------------------------------------------------------
def _temp_table(table: ir.Table, con: Any, what: str) -> contextlib.AbstractContextManager[ir.Table]:
    """``table`` computed once in the engine (:func:`journeymap.engine.materialized`), released afterwards."""
    return engine.materialized(con, table, what=f"the map's {what}", name=f"_jm_map_{what}_{uuid.uuid4().hex[:12]}")


def _has_scores(con: Any) -> bool:
    from journeymap.voice.scoring import SCHEMA, TABLE

    return engine.table_exists(con, TABLE) and all(c in con.table(TABLE).columns for c in SCHEMA.names)


def _keyed(figures: Mapping[Any, FeedbackFigures]) -> dict[tuple, FeedbackFigures]:
    return {k if isinstance(k, tuple) else (k,): v for k, v in figures.items()}


def _one_thread(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """``func`` with numpy/scikit-learn kept to one thread: the engine uses the other cores meanwhile."""
    try:
        from threadpoolctl import threadpool_limits
    except ModuleNotFoundError:  # pragma: no cover - scikit-learn depends on it
        return func(*args, **kwargs)
    with threadpool_limits(1):
        return func(*args, **kwargs)


def ws_name(ws: Any) -> str:
    """The workspace's folder name."""
    from pathlib import Path

    path = getattr(ws, "path", None)
    return Path(path).name if path is not None else str(ws)


def _rows(table: ir.Table, con: Any) -> int:
    return int(engine.execute(table.count(), con) or 0)


def _recs(columns: list[str], rows: list[list]) -> list[dict]:
    return [dict(zip(columns, r, strict=True)) for r in rows]


def _f(x: Any) -> float | None:
    from journeymap.voice.summary import _f as f

    return f(x)


def _i(x: Any) -> int | None:
    v = _f(x)
    return None if v is None else int(v)


def _ts(x: Any) -> datetime | None:
    from journeymap.voice.summary import _ts as ts

    return ts(x)
