"""Build the JourneyMap from a Workspace: blueprint + journeys + attribution + voice, composed.

Every figure comes from the analytics functions (touchpoints, stage_funnel, friction,
transitions, flows, drivers, lift, attribute, kpis, find_themes...), run on ONE
journeys table (the same definition the CLI uses: filtered events cut by
``build_journeys``), materialised once in the engine as a temporary table and
reused. Only aggregates reach Python.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from journeymap import __version__, engine
from journeymap.errors import InputError
from journeymap.maps import opportunities as opp
from journeymap.maps.models import (
    EMOTION_MIN_N,
    KPI,
    PURCHASE_PATH_CAVEAT,
    AttributionComparison,
    AttributionRow,
    BackFlow,
    Change,
    DataQuality,
    DesignedVsObserved,
    Driver,
    Emotion,
    EmotionCurve,
    EmotionPoint,
    EmotionShare,
    Evidence,
    Flows,
    Friction,
    Headline,
    IngestEntry,
    JourneyMap,
    Lane,
    Lift,
    Meta,
    PainPoint,
    PersonaColumn,
    PersonaMap,
    PersonaStage,
    QuarantineCount,
    Quote,
    Rate,
    SankeyLink,
    SankeyNode,
    SkippedStage,
    StageColumn,
    Summary,
    Theme,
    ThemeRef,
    TouchpointCell,
    TouchpointFigures,
    Transition,
    UnmappedTouchpoint,
)
from journeymap.maps.stats import mean_interval, rate
from journeymap.ranking import RANK_DECIMALS, rank_value, round_figures

ProgressFn = Callable[[str, int, int], None]
"""``progress(step_label, done, total)``: called as the build goes."""

STEPS = ("journeys", "voice", "touchpoints", "stages", "friction", "flows", "attribution", "drivers", "personas",
         "themes", "compare", "assemble")
SMALL_N = 30
"""KPIs and emotions on fewer responses are flagged small (read with caution)."""
NEGATIVE = -0.05
"""An item scored below this is negative."""
EMOTION_THRESHOLD = 0.4
"""An emotion counts as present in a comment when its score reaches this (voice.emotions.dominant's threshold)."""
TOP_PAIN_POINTS = 10
QUOTES_PER_TOUCHPOINT = 5
DEFAULT_COMPARE_DAYS = 30
UNASSIGNED = "unassigned"
SEP = "\x1f"
PROVENANCE = ("source", "ingest_id", "properties")
UNREAD_COLUMNS = ("properties", "source", "session_id")
"""Event and feedback columns no part of the map reads (not materialised)."""
PHASE = "_phase"
"""Column of the journeys the map's friction is grouped by: ``to_goal`` or ``post_goal`` (see _Builder._phased)."""
ALL = ("all",)
"""Key of a persona's emotion over all stages (not a stage name)."""
CAVEAT_PAIN_RANK = 5
"""Pain points up to this rank that are also conversion drivers carry :data:`PURCHASE_PATH_CAVEAT`."""
DRIVERS = {"exit": "exits", "loop": "loops", "slow": "waits"}
"""Friction component prefix -> the name of the driver of a pain point (:attr:`PainPoint.driver`)."""


def build_map(
    ws: Any,
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
        An open :class:`~journeymap.workspace.Workspace`.
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

    The document is deterministic: the same data gives the same JSON (but for ``meta``'s build time
    and the ingest log's clock) with any number of engine threads and any order of the source rows
    that keeps same-time rows in file order. Every float keeps 9 significant digits and every ranking
    has a rounded key and a name tie-break (:mod:`journeymap.ranking`).
    """
    from journeymap.attribution import DEFAULT_MODELS, parse_models

    t0 = time.perf_counter()
    min_n = _emotion_min_n(ws, emotion_min_n)
    tell = _progress(progress)
    model_list = parse_models(models or DEFAULT_MODELS)
    bp = ws.blueprint
    con = ws.con
    events_all = ws.events()
    period_start, period_end, previous = _periods(events_all, con, start, end, compare_to)
    b = _Builder(ws, bp, con, period_start, period_end, persona, model_list, tell, seed)
    with b.cached_journeys():
        doc = b.build(personas=personas and persona is None, themes=themes)
    if previous is not None:
        tell("compare")
        old = build_map(ws, start=previous[0], end=previous[1], persona=persona, models=["first"],
                        personas=False, themes=False, seed=seed, emotion_min_n=min_n)
        doc = with_change(doc, old)
    tell("assemble")
    meta = doc.meta.model_copy(update={
        "compare_to": compare_to, "emotion_min_n": min_n, "build_seconds": round(time.perf_counter() - t0, 3)})
    # figures keep 9 significant digits: the same data gives the same document whatever the engine's threads
    return JourneyMap.model_validate(round_figures(doc.model_copy(update={"meta": meta}).model_dump()))


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


def with_change(doc: JourneyMap, old: JourneyMap) -> JourneyMap:
    """``doc`` with its :class:`Change` section against ``old`` (an earlier period's map) and headline deltas."""
    from journeymap.maps.diff import map_deltas

    deltas = map_deltas(old, doc)
    change = Change(previous_start=old.meta.period_start, previous_end=old.meta.period_end,
                    current_start=doc.meta.period_start, current_end=doc.meta.period_end, deltas=deltas)
    by_key = {d.name: d for d in deltas if d.scope == "headline"}
    heads = [h.model_copy(update={"delta": by_key[h.key].delta, "significant": by_key[h.key].significant})
             if h.key in by_key else h for h in doc.summary.headlines]
    sentences = list(doc.summary.sentences)
    conv = by_key.get("conversion")
    if conv is not None and conv.delta is not None:
        verdict = "a significant" if conv.significant else "not a significant"
        sentences.append(f"Conversion moved {conv.delta * 100:+.1f} points against the previous period "
                         f"({_pct(conv.old)} to {_pct(conv.new)}), {verdict} change.")
    summary = doc.summary.model_copy(update={"headlines": heads, "sentences": sentences})
    return doc.model_copy(update={"change": change, "summary": summary})


# -- the builder ---------------------------------------------------------------------------------
class _Builder:
    def __init__(self, ws, bp, con, start, end, persona, models, tell, seed):
        self.ws, self.bp, self.con = ws, bp, con
        self.start, self.end, self.persona = start, end, persona
        self.models, self.tell, self.seed = models, tell, seed
        self.warnings: list[str] = []
        self.stage_order = {s.name: i for i, s in enumerate(bp.stages)}
        self.stage_of = {t.name: t.stage for t in bp.touchpoints}
        goal_stages = [self.stage_order[s] for s in (self.stage_of.get(g) for g in bp.goal_touchpoints())
                       if s in self.stage_order]
        self.goal_cut = min(goal_stages) if goal_stages else None
        """Order of the first goal's stage; stages after it are post-purchase (post_goal)."""
        self.post_goal_stages = {s.name for s in bp.stages
                                 if self.goal_cut is not None and self.stage_order[s.name] > self.goal_cut}
        self.has_customers = _rows(ws.customers(), con) > 0
        self.j: ir.Table  # set by cached_journeys()

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

    def build(self, *, personas: bool, themes: bool) -> JourneyMap:
        from journeymap.journeys import status_counts, touchpoints, transitions

        j, con = self.j, self.con
        voice = _Voice(self)
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
                totals = engine.execute(f1.aggregate(
                    journeys=f1.count(), customers=f1.customer_id.nunique(),
                    converted=f1.converted.cast("int64").sum()), con).iloc[0]
                ev_span = engine.execute(j.aggregate(first=j.ts.min(), last=j.ts.max(), n=j.count()), con).iloc[0]
                self.total_journeys = int(totals["journeys"] or 0)
                self.tell("stages")
                with_personas = personas and bool(self.bp.personas) and self.has_customers
                stage_rows, self._persona_funnel = self._stage_funnels(with_personas)
                stage_tp, self._persona_stage_tp = self._stage_figures(with_personas)
                self.tell("friction")
                fr_rows, self._persona_friction = self._friction(with_personas)
                tr = transitions(j, con=con).records()
                tr_stage = self._stage_transitions(tr) if self.bp.stages else []
                status = status_counts(j)
                self.tell("flows")
                flows_doc = self._flows(tr)
                self.tell("attribution")
                if self.total_journeys:
                    attribution = self._attribution()
                    self.tell("drivers")
                    drivers_doc, lift_rows = self._drivers_and_lift()
                else:
                    self.warnings.append("No journeys in the mapped period: attribution, drivers and lift are empty.")
                    attribution, drivers_doc, lift_rows = _Attribution(self.models), [], {}
                self.tell("personas")
                persona_docs, persona_maps = self._personas(voice) if personas else ([], [])
            finally:
                self.tell("themes")
                theme_docs, theme_quotes = voice.finish_themes(pending)
            return self._compose(voice, persona_docs, persona_maps, theme_docs, theme_quotes, tp_rows, totals, ev_span,
                                 stage_rows, stage_tp, fr_rows, tr, tr_stage, status, flows_doc, attribution,
                                 drivers_doc, lift_rows)

    def _compose(self, voice, persona_docs, persona_maps, theme_docs, theme_quotes, tp_rows, totals, ev_span, stage_rows,
                 stage_tp, fr_rows, tr, tr_stage, status, flows_doc, attribution, drivers_doc,
                 lift_rows) -> JourneyMap:
        tp_quotes = voice.quotes(theme_quotes)

        cells, stages = self._grid(voice, tp_rows, fr_rows, stage_rows, stage_tp, self.total_journeys,
                                   attribution=attribution, lift_rows=lift_rows, quotes=tp_quotes)

        pain = self._pain_points(cells)
        stages, pain = self._with_caveats(stages, pain, drivers_doc)
        cells = sorted((tp for st in stages for lane in st.lanes for tp in lane.touchpoints), key=lambda c: c.order)
        dvo = self._designed_vs_observed(cells, tr, tr_stage)
        curve = _curve(stages, cells, voice.method)
        overall_conv = rate(totals["converted"], totals["journeys"])
        overall_kpis = voice.kpis_at(None, None)
        overall_emotion = voice.emotion_at(None, None)
        opportunities = opp.opportunities(cells, pain, dvo, self.bp, overall_conv)
        meta = Meta(
            workspace=ws_name(self.ws), generated_at=datetime.now(UTC),
            period_start=_dt(self.start), period_end=_dt(self.end),
            data_start=_ts(ev_span["first"]), data_end=_ts(engine.execute(self.ws.events().ts.max(), self.con)),
            filters=self.filters.describe(), persona=self.persona, models=attribution.models,
            engine=getattr(self.con, "name", None),
            journey_definition={"goals": self.bp.goal_touchpoints(),
                                **self.bp.journey.model_dump(mode="json")},
            journeymap_version=__version__, warnings=self.warnings + voice.warnings + attribution.warnings)
        summary = _summary(meta, totals, overall_conv, overall_kpis, overall_emotion, pain, opportunities,
                           drivers_doc, stages, self.bp, status)
        dq = self._data_quality(status, int(ev_span["n"] or 0), voice)
        return JourneyMap(meta=meta, summary=summary, stages=stages, flows=flows_doc, emotion_curve=curve,
                          pain_points=pain, opportunities=opportunities, attribution=attribution.doc,
                          drivers=drivers_doc, themes=theme_docs, personas=persona_docs, persona_maps=persona_maps,
                          designed_vs_observed=dvo, data_quality=dq)

    def _grid(self, voice, tp_rows, fr_rows, stage_rows, stage_tp, total_journeys, *, attribution=None,
              lift_rows=None, quotes=None) -> tuple[list[TouchpointCell], list[StageColumn]]:
        """The touchpoint cells (journey order) and the stage columns with their lanes, from the figures of
        one journeys table (all journeys, or one persona's); ``voice`` is the matching feedback scope."""
        lift_rows, quotes = lift_rows or {}, quotes or {}
        tp_by_name = {r["touchpoint"]: r for r in tp_rows}
        names = [t.name for t in self.bp.touchpoints] + sorted(n for n in tp_by_name if self.bp.touchpoint(n) is None)
        cells: list[TouchpointCell] = []
        for name in names:
            bt = self.bp.touchpoint(name)
            r = tp_by_name.get(name)
            f = fr_rows.get(name)
            figures = TouchpointFigures()
            if r is not None:
                figures = TouchpointFigures(
                    events=int(r["events"]), customers=int(r["customers"]), journeys=int(r["journeys"]),
                    share=_f(r["share_of_journeys"]),
                    conversion=rate(r["conversions"], r["journeys"], r["rate_low"], r["rate_high"]),
                    median_position=_f(r["median_step"]),
                    median_time_to_conversion_s=_f(r["median_time_to_conversion_s"]),
                    repeat_rate=_f(r["repeat_rate"]),
                    exit_rate=_f(f["exit_rate"]) if f else None, exits=int(f["exits"]) if f else None)
            cells.append(TouchpointCell(
                name=name, stage=bt.stage if bt else None, post_goal=bool(bt and bt.stage in self.post_goal_stages),
                channel=(bt.channel if bt else None) or _channel_of(r),
                owner=bt.owner if bt else None, kind=bt.kind if bt else None,
                interaction=bt.interaction if bt else "direct", in_blueprint=bt is not None,
                has_data=r is not None, figures=figures,
                kpis=voice.kpis_at("touchpoint", name), emotion=voice.emotion_at("touchpoint", name),
                friction=_friction(f), attribution=attribution.shares_of(name) if attribution else {},
                lift=_lift(lift_rows.get(name)), themes=voice.themes_at(name),
                quotes=quotes.get(name, [])))
        cells = _ordered(cells, self.stage_order)

        stages: list[StageColumn] = []
        by_stage = {r["stage"]: r for r in stage_rows}
        for i, st in enumerate(self.bp.stages):
            r = by_stage.get(st.name)
            lanes: dict[str, list[TouchpointCell]] = {}
            for c in cells:
                if c.stage == st.name:
                    lanes.setdefault(c.channel or UNASSIGNED, []).append(c)
            col = StageColumn(order=i, name=st.name, description=st.description,
                              post_goal=st.name in self.post_goal_stages,
                              kpis=voice.kpis_at("stage", st.name), emotion=voice.emotion_at("stage", st.name),
                              lanes=[Lane(channel=k, touchpoints=v) for k, v in lanes.items()])
            if r is not None:
                sr = stage_tp.get(st.name, {})
                col = col.model_copy(update=dict(
                    reach=rate(r["journeys"], total_journeys),
                    customers=int(sr.get("customers") or 0),
                    # journeys end at the goal: from the goal's stage on, what follows is after_goal
                    conversion_to_next=None if r["to_next"] is None or i == self.goal_cut else
                    rate(r["to_next"], r["journeys"], r["next_low"], r["next_high"]),
                    after_goal=_after_goal(r),
                    conversion=rate(r["converted"], r["journeys"]),
                    drop_off=rate(r["ended_dropped"], r["journeys"]),
                    median_time_s=_f(sr.get("median_time_to_conversion_s"))))
            stages.append(col)
        # touchpoints without a known stage get a lane of their own after the stages
        loose = [c for c in cells if c.stage not in self.stage_order]
        if loose:
            lanes = {}
            for c in loose:
                lanes.setdefault(c.channel or UNASSIGNED, []).append(c)
            stages.append(StageColumn(order=len(stages), name="(no stage)",
                                      description="Touchpoints in the data that the blueprint does not place in a stage.",
                                      lanes=[Lane(channel=k, touchpoints=v) for k, v in lanes.items()]))
        return cells, stages

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

    # -- sections ---------------------------------------------------------------------------------
    def _flows(self, tr: list[dict]) -> Flows:
        node_rows, link_rows = self._flow_rows()
        nodes = [SankeyNode(id=f"{r['step']}:{r['node']}", label=r["node"], step=int(r["step"]),
                            stage=self.stage_of.get(r["node"])) for r in node_rows]
        links = [SankeyLink(source=f"{r['step']}:{r['source']}", target=f"{int(r['step']) + 1}:{r['target']}",
                            value=int(r["journeys"])) for r in link_rows]
        # end states (CONVERTED/DROPPED/IN_PROGRESS) may appear as targets without a node row
        known = {n.id for n in nodes}
        for link in links:
            if link.target not in known:
                step, _, label = link.target.partition(":")
                nodes.append(SankeyNode(id=link.target, label=label, step=int(step)))
                known.add(link.target)
        real = [r for r in tr if r["source"] != "START"]
        top = sorted(real, key=lambda r: (-int(r["count"]), r["source"], r["target"]))[:25]
        ends = self._end_words()
        return Flows(
            unit="journeys", total=self.total_journeys,
            top_transitions=[Transition(source=r["source"], target=ends.get(r["target"], r["target"]),
                                        count=int(r["count"]),
                                        share=_f(r["probability"]), median_gap_s=_f(r["median_gap_s"]))
                             for r in top],
            nodes=nodes, links=links,
            note="Sankey: first 5 steps of each journey (repeats collapsed), top 8 touchpoints per step, the rest "
                 "as 'Other'; link values count journeys (one transition per journey per step). Top transitions "
                 "count every transition between consecutive touches, and a journey's last touch to how it ends "
                 f"({', '.join(dict.fromkeys(ends.values()))}); journey starts are left out.")

    def _end_words(self) -> dict[str, str]:
        """The end nodes of transitions (CONVERTED, DROPPED, IN_PROGRESS) in words, with or without goals."""
        from journeymap.journeys.transitions import CONVERTED, DROPPED, IN_PROGRESS

        if self.bp.goal_touchpoints():
            return {CONVERTED: "Converted", DROPPED: "Gave up", IN_PROGRESS: "Still in progress"}
        return {CONVERTED: "Converted", DROPPED: "Ended", IN_PROGRESS: "Continued"}

    def _flow_rows(self) -> tuple[list[dict], list[dict]]:
        """The Sankey's nodes and links (``journeys.flows(j, steps=5, top=8)``) in one query.

        Both come from the same cleaned steps (a window pass over the journeys); run as one query the
        engine computes those steps once instead of once for the nodes and once for the links.
        """
        from journeymap.journeys.paths import flows_expr
        from journeymap.journeys.transitions import frame_rows

        nodes, links = flows_expr(self.j, steps=5, top=8)
        cols = ["step", "source", "target", "journeys"]
        nodes = nodes.select(step=nodes.step, source=nodes.node, target=ibis.null("string"),
                             journeys=nodes.journeys, _part=ibis.literal(0))
        links = links.select(*cols, _part=ibis.literal(1))
        df = engine.execute(nodes.union(links, distinct=False), self.con)
        df = df.sort_values(["_part", "step", "journeys", "source", "target"], ascending=[True, True, False, True, True],
                            kind="stable")
        out: tuple[list[dict], list[dict]] = ([], [])
        for row in frame_rows(df[[*cols, "_part"]]):
            step, source, target, journeys, part = row
            out[part].append({"step": step, "node": source, "journeys": journeys} if part == 0 else
                             {"step": step, "source": source, "target": target, "journeys": journeys})
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
        per_persona = [{**r, "dimension": str(r["_dp"]).partition(SEP)[0]}
                       for r in friction(keyed, by="_dp", goals=goals, con=self.con).records()]
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
        counts = ("journeys", "converted", "in_progress", "dropped", "reached_or_beyond", "ended_dropped",
                  "ended_in_progress", "to_next", "converters", "after_goal")
        sums = {name: dict.fromkeys(counts, 0) for name in names}
        for r in rows:
            for c in counts:
                sums[r["stage"]][c] += int(r[c] or 0)
        t = ibis.memtable({"stage": names, "stage_no": list(range(1, len(names) + 1)),
                           **{c: [sums[name][c] for name in names] for c in counts}})
        t = t.cast({c: "int64" for c in ("stage_no", *counts)})
        t = t.mutate(to_next=ibis.ifelse(t.stage_no == len(names), ibis.null("int64"), t.to_next),
                     _total=ibis.literal(self.total_journeys, "int64"))
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
        t = t.mutate(converters=ibis.ifelse(post, t.converters, ibis.null("int64")),
                     after_goal=ibis.ifelse(post, t.after_goal, ibis.null("int64")))
        low, high = wilson_interval(t.after_goal, t.converters)
        has = t.converters > 0
        t = t.mutate(after_goal_rate=ibis.ifelse(has, t.after_goal.cast("float64") / t.converters, ibis.null("float64")),
                     after_low=ibis.ifelse(has, low, ibis.null("float64")),
                     after_high=ibis.ifelse(has, high, ibis.null("float64")))
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
        per = j.group_by(keys).agg(first_t=whole_seconds(j.ts.min()), end_t=whole_seconds(j.journey_end.max()),
                                   converted=j.converted.any())
        per = per.mutate(_to_goal=ibis.ifelse(per.converted, (per.end_t - per.first_t).cast("float64"),
                                              ibis.null("float64")))

        def figures(group: list[str]) -> ir.Table:
            return per.group_by(group).agg(customers=per.customer_id.nunique(),
                                           median_time_to_conversion_s=per._to_goal.median())

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
        row = engine.execute(per.aggregate(
            converted=per.count(),
            no_touch_before_goal=(~per._b).cast("int64").sum(),
            no_credited_touch=(per._b & ~per._p).cast("int64").sum(),
            outside_lookback=(per._p & ~per._w).cast("int64").sum()), self.con).iloc[0]
        out = {k: int(row[k] or 0) for k in ("converted", "no_touch_before_goal", "no_credited_touch",
                                             "outside_lookback")}
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
        goal_stages = [self.stage_order[s] for s in (self.stage_of.get(g) for g in self.bp.goal_touchpoints())
                       if s in self.stage_order]
        cut = min(goal_stages) if goal_stages else None
        docs = []
        for r in dr:
            if r["kind"] == "touchpoint" and cut is not None:
                st = self.stage_of.get(r["value"])
                if st in self.stage_order and self.stage_order[st] >= cut:
                    continue  # steps of the goal's stage and after are outcomes, not drivers
            docs.append(Driver(
                feature=r["value"] if r["kind"] == "touchpoint" else f"{r['name']}={r['value']}",
                kind="touchpoint" if r["kind"] == "touchpoint" else "attribute",
                odds_ratio=_f(r["odds_ratio"]), low=_f(r["or_low"]), high=_f(r["or_high"]), p=_f(r["p_value"]),
                q=_f(r["p_adjusted"]), n=int(r["exposed"] or 0), significant=bool(r["significant"])))
        docs.sort(key=lambda d: (not (d.significant and (d.odds_ratio or 0) > 1), d.kind != "touchpoint",
                                 -rank_value(d.odds_ratio), d.feature))
        return docs, lift_rows

    def _pain_points(self, cells: list[TouchpointCell]) -> list[PainPoint]:
        scored = [(c, c.friction, c.figures.share) for c in cells
                  if c.friction is not None and c.friction.score > 0 and c.figures.share]
        scored.sort(key=lambda x: (-rank_value(x[1].score * x[2]), x[0].name))
        out = []
        goals = bool(self.bp.goal_touchpoints())
        for i, (c, fr, share) in enumerate(scored[:TOP_PAIN_POINTS]):
            neg = [t for t in c.themes if t.sentiment is not None and t.sentiment < 0]
            # without goals a journey's end is not giving up: no exit figures and no conversion in a pain point
            fig: dict[str, Any] = {"friction": round(fr.score, 4), "reach": share, "journeys": c.figures.journeys,
                   "customers": c.figures.customers, "exit_rate": c.figures.exit_rate if goals else None,
                   "expected_exit_rate": fr.components.get("expected_exit_rate") if goals else None,
                   "loop_rate": fr.components.get("loop_rate"),
                   "slow_ratio": fr.components.get("slow_ratio"),
                   "conversion": c.figures.conversion.value if c.figures.conversion and goals else None,
                   "emotion": c.emotion.mean if c.emotion else None,
                   "feedback": c.emotion.n if c.emotion else 0}
            # the headline names the component that drives the score, with its own figure against its expectation
            driver = friction_driver(fr.components)
            parts = [_driver_words(driver, fr.components, c.post_goal)] if driver else []
            if neg:
                parts.append(f"top complaint: \"{neg[0].theme}\" ({neg[0].n} comments)")
            quotes = sorted((q for q in c.quotes if (q.sentiment or 0) < 0),
                            key=lambda q: (rank_value(q.sentiment), q.feedback_id))
            out.append(PainPoint(
                rank=i + 1, touchpoint=c.name, stage=c.stage, owner=c.owner, post_goal=c.post_goal,
                score=fr.score * share, friction=fr.score, reach=share, driver=driver,
                headline=f"{c.name}: " + "; ".join(parts) if parts else c.name, themes=neg[:3],
                evidence=Evidence(figures=fig, quotes=quotes[:QUOTES_PER_TOUCHPOINT],
                                  note="score = friction score x share of journeys reaching it"
                                       + ("; post-purchase touchpoint: exits and loops judged against "
                                          "post-purchase touches" if c.post_goal else ""))))
        return out

    def _with_caveats(self, stages: list[StageColumn], pain: list[PainPoint],
                      drivers: list[Driver]) -> tuple[list[StageColumn], list[PainPoint]]:
        """Stages and pain points with :data:`PURCHASE_PATH_CAVEAT` where a touchpoint is both a top pain point
        (rank <= :data:`CAVEAT_PAIN_RANK`) and a conversion driver: a significant positive exposure lift, or a
        significant touchpoint driver with odds ratio above 1. Touches on the way to the goal are reached by
        most buyers whatever they do for them, so their lift reflects where they sit."""
        driving = {d.feature for d in drivers if d.kind == "touchpoint" and d.significant and (d.odds_ratio or 0) > 1}
        cells = {tp.name: tp for st in stages for lane in st.lanes for tp in lane.touchpoints}
        flagged = set()
        for p in pain:
            cell = cells.get(p.touchpoint)
            lift = cell.lift if cell is not None else None
            lifts = lift is not None and lift.significant and (lift.effect or 0) > 0
            if p.rank <= CAVEAT_PAIN_RANK and (lifts or p.touchpoint in driving):
                flagged.add(p.touchpoint)
        if not flagged:
            return stages, pain

        def cell(tp: TouchpointCell) -> TouchpointCell:
            return tp.model_copy(update={"caveats": [*tp.caveats, PURCHASE_PATH_CAVEAT]}) if tp.name in flagged else tp

        stages = [st.model_copy(update={"lanes": [lane.model_copy(update={"touchpoints": [cell(tp) for tp in
                                                                                           lane.touchpoints]})
                                                  for lane in st.lanes]}) for st in stages]
        pain = [p.model_copy(update={"caveats": [*p.caveats, PURCHASE_PATH_CAVEAT]}) if p.touchpoint in flagged
                else p for p in pain]
        return stages, pain

    def _designed_vs_observed(self, cells, tr, tr_stage) -> DesignedVsObserved:
        order = self.stage_order
        back = []
        for r in tr:
            s, t = self.stage_of.get(r["source"]), self.stage_of.get(r["target"])
            if s in order and t in order and order[t] < order[s]:
                back.append(BackFlow(source=r["source"], source_stage=s, target=r["target"], target_stage=t,
                                     count=int(r["count"]), share=_f(r["probability"])))
        back.sort(key=lambda b: (-b.count, b.source, b.target))
        names = [s.name for s in self.bp.stages]
        skipped = []
        for r in tr_stage:
            s, t = r["source"], r["target"]
            if s in order and t in order and order[t] > order[s] + 1:
                skipped.append(SkippedStage(source_stage=s, target_stage=t, skipped=names[order[s] + 1:order[t]],
                                            count=int(r["count"]), share=_f(r["probability"])))
        skipped.sort(key=lambda x: (-x.count, x.source_stage, x.target_stage))
        reached = {c.stage for c in cells if c.has_data}
        return DesignedVsObserved(
            touchpoints_without_data=[c.name for c in cells if c.in_blueprint and not c.has_data],
            unmapped_touchpoints=[UnmappedTouchpoint(name=c.name, events=c.figures.events,
                                                     customers=c.figures.customers)
                                  for c in cells if not c.in_blueprint],
            stages_without_data=[s for s in names if s not in reached],
            back_flows=back[:20], skipped_stages=skipped[:20])

    def _personas(self, voice: _Voice) -> tuple[list[PersonaColumn], list[PersonaMap]]:
        """The side-by-side persona comparison and the grid of each persona.

        Every figure comes from the shared journeys table grouped by persona (``by="dimension"``:
        each persona against its own baseline, as in ``build_map(ws, persona=P)``), one query per
        analysis for all personas; journeys are not rebuilt per persona.
        """
        from journeymap.journeys import touchpoints, variants

        if not self.bp.personas or not self.has_customers:
            return [], []
        j, con = self.j, self.con
        f1 = j.filter(j.step == 1)
        per = engine.execute(f1.group_by("dimension").aggregate(
            journeys=f1.count(), customers=f1.customer_id.nunique(), converted=f1.converted.cast("int64").sum()), con)
        total_customers = int(per.customers.sum()) or 1
        sf = self._persona_funnel
        paths = variants(j, by="dimension", top=3, con=con).records()
        tps = touchpoints(j, by="dimension", con=con).records()
        stps = self._persona_stage_tp
        frs = self._persona_friction
        order = [p.name for p in self.bp.personas] + ["other"]
        scopes = voice.persona_scopes()
        persona_quotes = voice.persona_quotes()
        columns, maps = [], []
        for rec in sorted(per.to_dict("records"), key=lambda r: order.index(r["dimension"])
                          if r["dimension"] in order else len(order)):
            name = rec["dimension"]
            scope = scopes.get(name) or _Scope()
            cells, grid = self._grid(
                scope, [r for r in tps if r["dimension"] == name],
                {r["touchpoint"]: r for r in frs if r["dimension"] == name},
                [r for r in sf if r["dimension"] == name],
                {r["stage"]: r for r in stps if r["dimension"] == name}, int(rec["journeys"]),
                quotes=persona_quotes.get(name, {}))
            pain = self._pain_points(cells)
            conversion = rate(rec["converted"], rec["journeys"])
            maps.append(PersonaMap(persona=name, customers=int(rec["customers"]), journeys=int(rec["journeys"]),
                                   conversion=conversion, stages=grid, emotion_curve=_curve(grid, cells, voice.method),
                                   pain_points=pain))
            stages = []
            for r in sf:
                if r["dimension"] != name:
                    continue
                stages.append(PersonaStage(
                    stage=r["stage"], reach=rate(r["journeys"], rec["journeys"]),
                    conversion_to_next=None if r["to_next"] is None or self.stage_order.get(r["stage"]) == self.goal_cut
                    else rate(r["to_next"], r["journeys"]),
                    after_goal=_after_goal(r),
                    emotion=voice.persona_emotion(name, r["stage"])))
            bpp = next((p for p in self.bp.personas if p.name == name), None)
            columns.append(PersonaColumn(
                name=name, description=bpp.description if bpp else "", customers=int(rec["customers"]),
                share=int(rec["customers"]) / total_customers, conversion=conversion,
                emotion=voice.persona_emotion(name, None), stages=stages,
                top_pain_points=[p.touchpoint for p in pain[:3]],
                top_paths=[r["path"] for r in paths if r["dimension"] == name][:3]))
        return columns, maps

    def _data_quality(self, status: dict[str, int], mapped_events: int, voice: _Voice) -> DataQuality:
        ws, con = self.ws, self.con
        rows = {name: _rows(ws.table(name), con) for name in ("events", "feedback", "customers", "quarantine")}
        q = ws.quarantine()
        qc = engine.execute(q.group_by(["table", "reason"]).aggregate(count=q.count()), con)
        quarantine = sorted((QuarantineCount(table=str(r["table"]), reason=str(r["reason"]), count=int(r["count"]))
                             for r in qc.to_dict("records")), key=lambda x: (-x.count, x.table, x.reason))
        log = engine.execute(ws.ingest_log().order_by(ibis.desc("started_at")).limit(50), con)
        entries = []
        for r in log.to_dict("records"):
            entries.append(IngestEntry(
                time=_ts(r.get("started_at")), table=str(r.get("table") or ""), source=str(r.get("source") or ""),
                rows_read=_i(r.get("rows_read")), rows_loaded=_i(r.get("loaded")),
                rows_quarantined=_i(r.get("quarantined")),
                extra={"duplicate": _i(r.get("duplicate")), "ingest_id": r.get("ingest_id")}))
        notes = []
        if voice.n_feedback:
            unlinked = voice.n_unassigned / voice.n_feedback
            notes.append(f"{_pct(unlinked)} of feedback in the period could not be linked to a touchpoint.")
        langs = voice.languages.get("languages", {})
        if set(langs) - {"en", "und"} or voice.languages.get("unscored"):
            said = ", ".join(f"{k} {v}" for k, v in langs.items())
            why = "; ".join(f"{n}: {r}" for r, n in voice.languages.get("unscored_reasons", {}).items())
            notes.append(f"Feedback languages: {said} (und: too short to tell)."
                         + (f" {voice.languages['unscored']} comments have no text sentiment ({why}); their ratings "
                            "still count." if voice.languages.get("unscored") else ""))
        small = voice.small_kpis
        if small:
            notes.append(f"{small} touchpoint/stage KPI figures rest on fewer than {SMALL_N} responses (flagged).")
        if status.get("in_progress"):
            notes.append(f"{status['in_progress']} journeys are still in progress at the data's end; "
                         + ("they count as neither converted nor gave up." if self.bp.goal_touchpoints() else
                            "the blueprint has no goals: they continued, the others ended."))
        return DataQuality(rows=rows, mapped_rows={"events": mapped_events, "feedback": voice.n_feedback},
                           feedback_languages=dict(langs),
                           unscored_feedback=dict(voice.languages.get("unscored_reasons", {})),
                           quarantine=quarantine, ingest_log=entries,
                           journey_status={k: int(v) for k, v in status.items()}, notes=notes)


# -- attribution ---------------------------------------------------------------------------------
class _Attribution:
    def __init__(self, models: list[str]):
        self.models = list(models)
        self.doc = AttributionComparison(models=self.models)
        self.warnings: list[str] = []
        self._shares: dict[str, dict[str, float]] = {}

    def read(self, res, bp) -> None:
        models = list(res.meta.get("models", self.models))
        self.models = models
        credits: dict[str, dict[str, float]] = {}
        shares: dict[str, dict[str, float]] = {}
        for model, tp, conv, _value, share, *_ in res.credits:
            credits.setdefault(tp, {})[model] = float(conv or 0)
            shares.setdefault(tp, {})[model] = float(share or 0)
        self._shares = shares
        data_driven = next((m for m in ("markov", "shapley") if m in models), models[0] if models else None)
        rows = [AttributionRow(touchpoint=tp, channel=(bp.touchpoint(tp).channel if bp.touchpoint(tp) else None),
                               credits=credits[tp], shares=shares.get(tp, {})) for tp in credits]
        rows.sort(key=lambda r: (-rank_value(r.credits.get(data_driven, 0) if data_driven else 0), r.touchpoint))
        total = sum(v.get(models[0], 0) for v in credits.values()) if models else 0
        settings = {k: res.meta.get(k) for k in ("lookback", "container", "level", "include_service")}
        self.warnings += [f"Attribution: {w}" for w in res.diagnostics.get("warnings", [])]
        self.doc = AttributionComparison(
            models=models, conversions=total, rows=rows,
            note="Credits per touchpoint (marketing touchpoints: paid and earned, unless marked otherwise) "
                 f"for conversions; settings {settings}.")

    def denominator(self, counts: dict[str, int], attributed: float | None) -> None:
        """State the attribution's denominator: conversions credited vs converted journeys, and why they differ."""
        converted = counts["converted"]
        reasons = {k: counts[k] for k in ("no_touch_before_goal", "no_credited_touch", "outside_lookback")}
        conversions = float(attributed if attributed is not None else self.doc.conversions)
        lookback_s = counts["_lookback_s"]
        lookback = _duration_words(timedelta(seconds=lookback_s)) if lookback_s >= 0 else None
        which = "marketing touch (a paid or earned touchpoint)" if counts["_marketing_only"] else "touch"
        within = f" in the {lookback} before the goal" if lookback else " before the goal"
        words = {"no_touch_before_goal": "had no touch before the goal",
                 "no_credited_touch": "had no marketing touch before the goal, only owned or service touchpoints "
                                      "that attribution does not credit",
                 "outside_lookback": f"had {'marketing ' if counts['_marketing_only'] else ''}touches only more "
                                     f"than {lookback or 'the lookback'} before the goal"}
        left = converted - sum(reasons.values())
        why = "; ".join(f"{n:,} {words[k]}" for k, n in reasons.items() if n)
        shown = f"{conversions:,.0f}" if float(conversions).is_integer() else f"{conversions:,.1f}"
        note = (f"Credit is shared over {shown} conversions: converted journeys with at least one {which}{within} "
                f"({converted:,} converted journeys" + (f"; {why})." if why else ")."))
        if abs(left - conversions) > 1e-6:  # not the journey container's count: say so rather than mislead
            note += f" {left:,} converted journeys have such a touch."
        self.doc = self.doc.model_copy(update={"converted_journeys": converted,
                                               "unattributed": {k: v for k, v in reasons.items()},
                                               "denominator_note": note})

    def shares_of(self, tp: str) -> dict[str, float]:
        return dict(self._shares.get(tp, {}))


# -- voice ---------------------------------------------------------------------------------------
class _Scope:
    """KPIs and emotions of a subset of the feedback (one persona's), read like :class:`_Voice`."""

    def __init__(self) -> None:
        self.kpis: dict[tuple, list[KPI]] = {}
        self.emotion: dict[tuple, Emotion] = {}

    def kpis_at(self, level: str | None, name: str | None) -> list[KPI]:
        return list(self.kpis.get((level, name), []))

    def emotion_at(self, level: str | None, name: str | None) -> Emotion | None:
        return self.emotion.get((level, name))

    def themes_at(self, tp: str) -> list[ThemeRef]:
        return []


class _Voice:
    """Feedback in the period, linked to touchpoints, scored (lexicon), materialised once."""

    method = ("Each feedback item gets one score on -1..+1: the mean of its lexicon text sentiment and its "
              "ratings rescaled to -1..+1 (rating on 1..scale, NPS (x-5)/5, CSAT (x-3)/2, CES (x-4)/3). "
              "Means with 95% normal intervals.")

    def __init__(self, b: _Builder):
        self.b = b
        self.warnings: list[str] = []
        self.n_feedback = 0
        self.n_unassigned = 0
        self.small_kpis = 0
        self.languages: dict[str, Any] = {}
        self._kpis: dict[tuple, list[KPI]] = {}
        self._emotion: dict[tuple, Emotion] = {}
        self._persona: dict[tuple, Any] = {}
        self._themes_at: dict[str, list[ThemeRef]] = {}
        self.table: ir.Table | None = None
        self._ctx = contextlib.ExitStack()

    def prepare(self) -> None:
        from journeymap.journeys import apply_filters
        from journeymap.voice.linking import link_feedback
        from journeymap.voice.scoring import score_feedback, scores

        b, con = self.b, self.b.con
        fb = b.ws.feedback()
        if _rows(fb, con) == 0:
            self.warnings.append("No feedback in the workspace: KPIs, emotions, themes and quotes are empty.")
            return
        customers = b.ws.customers() if b.has_customers else None
        fb = apply_filters(fb, b.filters, customers=customers, blueprint=b.bp)
        score_feedback(con, backend="lexicon", workspace=b.ws)
        s = scores(con, "lexicon").drop("backend", "scored_at").rename(s_id="feedback_id")
        def keep(table: ir.Table) -> ir.Table:
            table = table.drop(*[c for c in UNREAD_COLUMNS if c in table.columns])
            return self._ctx.enter_context(_temp_table(table, con, "links"))

        linked = link_feedback(fb, b.bp, con=con, materialize=keep) if b.bp.touchpoints else \
            fb.mutate(link_touchpoint=ibis.literal(UNASSIGNED), link_method=ibis.literal(UNASSIGNED),
                      link_confidence=ibis.literal(0.0))
        t = linked.left_join(s, linked.feedback_id == s.s_id).drop("s_id")
        stage_map = {k: v for k, v in b.stage_of.items() if v}
        t = t.mutate(link_stage=t.link_touchpoint.substitute(stage_map, else_=ibis.null("string"))
                     if stage_map else ibis.null("string"))
        if customers is not None and b.bp.personas:
            from journeymap.journeys import assign_personas

            pa = assign_personas(customers, b.bp).select(_pc="customer_id", persona="persona")
            t = t.left_join(pa, t.customer_id == pa._pc).drop("_pc")
            t = t.mutate(persona=t.persona.fill_null("other"))
        else:
            t = t.mutate(persona=ibis.literal("other"))
        t = t.mutate(_score=_item_score(t))
        t = t.drop(*[c for c in UNREAD_COLUMNS if c in t.columns])
        self.table = self._ctx.enter_context(_temp_table(t, con, "feedback"))
        t = self.table
        counts = engine.execute(t.aggregate(n=t.count(), un=(t.link_touchpoint == UNASSIGNED).cast("int64").sum()),
                                con).iloc[0]
        self.n_feedback, self.n_unassigned = int(counts["n"]), int(counts["un"] or 0)
        if self.n_feedback == 0:
            return
        from journeymap.voice.scoring import language_summary

        self.languages = language_summary(con, "lexicon", t)
        self._means, self.small_kpis = self._levels(t, self._kpis, self._emotion)
        # persona x stage emotion
        if b.bp.personas:
            for group in (["persona"], ["persona", "link_stage"]):
                df = engine.execute(t.group_by(group).aggregate(
                    n=t._score.count(), mean=t._score.mean(), sd=t._score.std(how="sample")), con)
                for r in df.to_dict("records"):
                    key = (r["persona"], r["link_stage"] if "link_stage" in group else ALL)
                    self._persona[key] = mean_interval(_f(r["mean"]), _f(r["sd"]), int(r["n"] or 0))

    def _levels(self, t: ir.Table, kpi_out: dict, emotion_out: dict) -> tuple[dict, int]:
        """KPIs (voice.kpis) and emotions per touchpoint, per stage, overall of feedback ``t``; targets from the
        blueprint. Fills ``kpi_out``/``emotion_out``; returns the aggregates and the count of small KPIs."""
        from journeymap.voice.kpis import kpis

        b, con = self.b, self.b.con
        kt = t.mutate(touchpoint=t.link_touchpoint)
        means: dict[tuple, dict] = {}
        small = 0
        for level, col in (("touchpoint", "link_touchpoint"), ("stage", "link_stage"), (None, None)):
            if level == "stage" and not b.bp.stages:
                continue
            res = kpis(kt, by=level, blueprint=b.bp, min_n=SMALL_N, con=con) if level else \
                kpis(kt, min_n=SMALL_N, con=con)
            agg = self._aggregates(t, col, emotion_out)
            means.update(agg)
            for r in res.records():
                key = (level, r.get(level) if level else None)
                if level and key[1] in (None, UNASSIGNED):
                    continue
                kpi = _kpi(r, b.bp.targets, agg.get(key, {}))
                small += bool(level and kpi.small_sample)
                kpi_out.setdefault(key, []).append(kpi)
        return means, small

    def persona_scopes(self) -> dict[str, _Scope]:
        """KPIs and emotions of each persona's feedback: per level one grouped KPI query and one aggregate query
        for all personas (key: persona + level value), the same figures as ``build_map(ws, persona=P)``."""
        from journeymap.voice.kpis import kpis

        b, con = self.b, self.b.con
        scopes: dict[str, _Scope] = {}
        if self.table is None or not self.n_feedback:
            return scopes
        t = self.table
        for level, col in (("touchpoint", "link_touchpoint"), ("stage", "link_stage"), (None, None)):
            if level == "stage" and not b.bp.stages:
                continue
            part = t[col].cast("string") if col else ibis.literal("")
            kt = t.mutate(_pk=t.persona.cast("string") + SEP + part, touchpoint=t.link_touchpoint)
            res = kpis(kt, by="_pk", min_n=SMALL_N, con=con)
            emotions: dict[tuple, Emotion] = {}
            agg = self._aggregates(kt, "_pk", emotions)

            def split(pk, level=level):
                who, _, name = str(pk).partition(SEP)
                return scopes.setdefault(who, _Scope()), (level, name if level else None)

            for (_, pk), e in emotions.items():
                if pk is None:
                    continue
                scope, key = split(pk)
                if not (level and key[1] == UNASSIGNED):
                    scope.emotion[key] = e
            for r in res.records():
                pk = r.get("_pk")
                if pk is None:
                    continue
                scope, key = split(pk)
                if level and key[1] in ("", UNASSIGNED):
                    continue
                scope.kpis.setdefault(key, []).append(_kpi(r, b.bp.targets, agg.get(("_pk", pk), {})))
        return scopes

    def _aggregates(self, t: ir.Table, col: str | None, emotion_out: dict) -> dict[tuple, dict]:
        from journeymap.voice.emotions import EMOTIONS

        level = {"link_touchpoint": "touchpoint", "link_stage": "stage", None: None}.get(col, col)
        aggs = dict(n=t._score.count(), mean=t._score.mean(), sd=t._score.std(how="sample"),
                    neg=(t._score < NEGATIVE).cast("float64").mean(), texts=t.sentiment.count(),
                    nps_mean=t.nps.cast("float64").mean(), csat_mean=t.csat.cast("float64").mean(),
                    ces_mean=t.ces.cast("float64").mean(),
                    **{f"e_{e}": (t[e] >= EMOTION_THRESHOLD).cast("int64").sum() for e in EMOTIONS})
        df = engine.execute(t.group_by(col).aggregate(**aggs) if col else t.aggregate(**aggs), self.b.con)
        out = {}
        for r in df.to_dict("records"):
            key = (level, r[col] if col else None)
            out[key] = r
            n = int(r["n"] or 0)
            if n == 0:
                continue
            est = mean_interval(_f(r["mean"]), _f(r["sd"]), n)
            texts = int(r["texts"] or 0)
            dom = sorted(((int(r[f"e_{e}"] or 0), e) for e in EMOTIONS), key=lambda x: (-x[0], x[1]))
            emotion_out[key] = Emotion(
                mean=est.value, low=est.low, high=est.high, n=n, negative_share=_f(r["neg"]),
                dominant=[EmotionShare(emotion=e, share=k / texts, n=k) for k, e in dom[:3] if k > 0 and texts])
        return out

    def closing(self) -> contextlib.ExitStack:
        """Drops the materialised feedback when the build is done."""
        return self._ctx

    def kpis_at(self, level: str | None, name: str | None) -> list[KPI]:
        return list(self._kpis.get((level, name), []))

    def emotion_at(self, level: str | None, name: str | None) -> Emotion | None:
        return self._emotion.get((level, name))

    def persona_emotion(self, persona: str, stage: str | None):
        """Mean emotion of a persona's feedback at ``stage`` (``None``: over all its feedback)."""
        return self._persona.get((persona, ALL if stage is None else stage))

    def themes_at(self, tp: str) -> list[ThemeRef]:
        return list(self._themes_at.get(tp, []))

    def start_themes(self) -> Future | None:
        """Fetch the comments (engine, this thread) and start theme discovery in a worker thread."""
        from journeymap.voice.themes import find_themes

        if self.table is None or self.n_feedback == 0:
            return None
        t = self.table
        t = t.filter(t.text.notnull() & t.feedback_id.notnull())
        df = engine.execute(t.select("feedback_id", "text", "ts", "link_touchpoint", "sentiment",
                                     "sentiment_label"), self.b.con)
        if df.empty:
            return None
        fb = ibis.memtable(df[["feedback_id", "text", "ts", "link_touchpoint"]])
        sc = ibis.memtable(df[["feedback_id", "sentiment", "sentiment_label"]])
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journeymap-themes")
        self._ctx.callback(pool.shutdown, wait=True)
        # memtables run on their own in-process engine, not on the workspace's connection
        return pool.submit(_one_thread, find_themes, fb, blueprint=self.b.bp, scores=sc, backend="tfidf",
                           seed=self.b.seed)

    def finish_themes(self, pending: Future | None) -> tuple[list[Theme], dict[str, list[Quote]]]:
        """The themes of the map and, per touchpoint, the theme quotes linked to it."""
        if pending is None:
            return [], {}
        try:
            ts = pending.result()
        except InputError as e:
            self.warnings.append(f"Themes left out: {e}")
            return [], {}
        docs = []
        quotes: dict[str, list[Quote]] = {}
        for i, th in enumerate(ts.themes):
            tps = sorted(th.touchpoints.items(), key=lambda kv: (-kv[1], kv[0]))
            qs = [Quote(feedback_id=q.feedback_id, text=q.text, sentiment=q.sentiment, touchpoint=q.touchpoint,
                        theme=th.name) for q in th.quotes]
            docs.append(Theme(theme_id=i + 1, label=th.name, n=th.size, share=th.share, sentiment=th.sentiment,
                              touchpoints=[k for k, _ in tps if k != UNASSIGNED][:5], quotes=qs[:5]))
            for tp, n in tps:
                if tp == UNASSIGNED:
                    continue
                total = (self._means.get(("touchpoint", tp)) or {}).get("texts") or 0
                self._themes_at.setdefault(tp, []).append(ThemeRef(
                    theme=th.name, theme_id=i + 1, n=int(n), share=(n / total) if total else None,
                    sentiment=th.sentiment))
                quotes.setdefault(tp, []).extend(q for q in qs if q.touchpoint == tp)
        for tp in self._themes_at:
            self._themes_at[tp] = sorted(self._themes_at[tp], key=lambda x: (-x.n, x.theme))[:5]
        return docs, quotes

    def quotes(self, theme_quotes: dict[str, list[Quote]], persona: str | None = None) -> dict[str, list[Quote]]:
        """3-5 quotes per touchpoint: one from each of its top themes first, then its most negative comments
        (of ``persona``'s customers only when given)."""
        if self.table is None or self.n_feedback == 0:
            return {}
        t = self.table if persona is None else self.table.filter(self.table.persona == persona)
        return self._pick(theme_quotes, self._most_negative(t, by_persona=False).get(None, {}))

    def persona_quotes(self) -> dict[str, dict[str, list[Quote]]]:
        """Per persona, ``quotes({}, persona=P)`` of every persona, from one windowed query."""
        if self.table is None or self.n_feedback == 0:
            return {}
        return {p: self._pick({}, negative) for p, negative in self._most_negative(self.table, by_persona=True).items()}

    def _most_negative(self, t: ir.Table, *, by_persona: bool) -> dict[str | None, dict[str, list[Quote]]]:
        """The 15 most negative comments per touchpoint (and persona), most negative first."""
        from journeymap.voice.redact import redact

        t = t.filter(t.text.notnull() & (t.text.strip() != "") & (t.link_touchpoint != UNASSIGNED))
        keys = [t.persona, t.link_touchpoint] if by_persona else [t.link_touchpoint]
        w = ibis.window(group_by=keys, order_by=[t.sentiment.round(RANK_DECIMALS).asc(nulls_first=False), t.feedback_id])
        ranked = t.mutate(_r=ibis.row_number().over(w))
        cols = ["feedback_id", "text", "sentiment", "link_touchpoint", "ts", "kind", "_r"]
        df = engine.execute(ranked.filter(ranked._r <= 3 * QUOTES_PER_TOUCHPOINT).select(
            *cols, _who=ranked.persona if by_persona else ibis.null("string")), self.b.con)
        df = df.sort_values(["_r", "feedback_id"], kind="stable")
        out: dict[str | None, dict[str, list[Quote]]] = {}
        for r in df.to_dict("records"):
            who = _s(r["_who"]) if by_persona else None
            out.setdefault(who, {}).setdefault(r["link_touchpoint"], []).append(Quote(
                feedback_id=str(r["feedback_id"]), text=redact(r["text"]) or "", sentiment=_f(r["sentiment"]),
                touchpoint=r["link_touchpoint"], time=_ts(r["ts"]), source=_s(r.get("kind"))))
        return out

    def _pick(self, theme_quotes: dict[str, list[Quote]], negative: dict[str, list[Quote]]) -> dict[str, list[Quote]]:
        """One quote of each top theme of a touchpoint first, then its most negative comments; no repeats."""
        out: dict[str, list[Quote]] = {}
        for tp in set(negative) | set(theme_quotes):
            picked: list[Quote] = []
            seen: set[str] = set()  # feedback ids and texts already picked (no repeated wording)
            by_theme: dict[str, list[Quote]] = {}
            for q in theme_quotes.get(tp, []):
                by_theme.setdefault(q.theme or "", []).append(q)
            order = [x.theme for x in self._themes_at.get(tp, [])]
            for name in order:
                for q in by_theme.get(name, [])[:1]:
                    if q.feedback_id not in seen and _norm(q.text) not in seen:
                        picked.append(q)
                        seen.update((q.feedback_id, _norm(q.text)))
            for q in negative.get(tp, []):
                if len(picked) >= QUOTES_PER_TOUCHPOINT:
                    break
                if q.feedback_id not in seen and _norm(q.text) not in seen:
                    picked.append(q)
                    seen.update((q.feedback_id, _norm(q.text)))
            out[tp] = picked[:QUOTES_PER_TOUCHPOINT]
        return out


# -- helpers -------------------------------------------------------------------------------------
def _one_thread(func: Callable, *args: Any, **kwargs: Any) -> Any:
    """``func`` with numpy/scikit-learn kept to one thread: the engine uses the other cores meanwhile."""
    try:
        from threadpoolctl import threadpool_limits
    except ModuleNotFoundError:  # pragma: no cover - scikit-learn depends on it
        return func(*args, **kwargs)
    with threadpool_limits(1):
        return func(*args, **kwargs)


def _item_score(t: ir.Table) -> ir.FloatingValue:
    """One score per feedback item on -1..+1: the mean of the text sentiment and the rescaled ratings,
    each clamped to -1..+1 (a rating of 0 on a 1..5 scale, or a score from a hand-built table, cannot
    weigh more than the scale's end)."""
    rating, scale = t.rating.cast("float64"), t.rating_scale.cast("float64")
    parts = [
        t.sentiment.cast("float64"),
        ibis.ifelse(scale > 1, (rating - 1) / (scale - 1) * 2 - 1, ibis.null("float64")),
        (t.nps.cast("float64") - 5) / 5,
        (t.csat.cast("float64") - 3) / 2,
        (t.ces.cast("float64") - 4) / 3,
    ]
    parts = [p.clip(-1.0, 1.0) for p in parts]
    num = sum((p.fill_null(0) for p in parts), ibis.literal(0.0))
    den = sum((p.notnull().cast("int64") for p in parts), ibis.literal(0))
    return ibis.ifelse(den > 0, num / den.cast("float64"), ibis.null("float64"))


def _kpi(r: dict, targets, agg: dict) -> KPI:
    name = r["metric"]
    target = getattr(targets, name, None)
    mean = _f(agg.get(f"{name}_mean"))
    value = _f(r["value"])
    meets = None
    n = int(r["n"] or 0)
    if target is not None and value is not None:
        if name == "csat" and target <= 5:
            meets = None if mean is None else mean >= target
        else:
            meets = value >= target
    return KPI(name=name, value=value, low=_f(r["low"]), high=_f(r["high"]), n=n, small_sample=bool(r["too_small"]),
               target=target, meets_target=meets, mean=mean)


def _after_goal(r: dict) -> Rate | None:
    """A stage funnel row's after-goal figure (stages after the goal's), or None."""
    if r.get("after_goal") is None or r.get("converters") is None:
        return None
    return rate(r["after_goal"], r["converters"], r["after_low"], r["after_high"])


def _duration_words(d: timedelta) -> str:
    """``30 days``, ``1 day``, ``12 hours``: a conversion window in words."""
    seconds = d.total_seconds()
    if seconds % 86400 == 0:
        days = int(seconds // 86400)
        return f"{days} day" + ("s" if days != 1 else "")
    hours = seconds / 3600
    return f"{hours:g} hour" + ("s" if hours != 1 else "")


def friction_driver(components: dict[str, Any]) -> str | None:
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


def _driver_words(driver: str, components: dict[str, Any], post_goal: bool) -> str:
    """The driving component's own figure against its expectation, in words (a pain point's headline)."""
    # a post-purchase touchpoint's journeys follow a conversion: said first, and its expectations are of
    # post-purchase touches
    after = " for post-purchase touches" if post_goal else ""
    head = "post-purchase: " if post_goal else ""
    if driver == "exits" and components.get("exit_rate") is not None:
        exp = components.get("expected_exit_rate")
        what = ("{} of touches here end a journey after a purchase without another one" if post_goal
                else "{} of touches here end a journey that gives up")
        return head + what.format(_pct(components["exit_rate"])) + (f" (expected {_pct(exp)}{after})"
                                                                    if exp is not None else "")
    if driver == "loops" and components.get("loop_rate") is not None:
        exp = components.get("expected_loop_rate")
        return (f"{head}{_pct(components['loop_rate'])} of journeys come back to it"
                + (f" (expected {_pct(exp)}{after})" if exp is not None else ""))
    if driver == "waits" and components.get("slow_ratio") is not None:
        return f"{head}the wait around it is {_times(components['slow_ratio'])} the usual"
    return f"{head}{driver} drive its friction score"


def _friction(f: dict | None) -> Friction | None:
    if f is None:
        return None
    keys = ("exit_component", "loop_component", "slow_component", "exit_rate", "expected_exit_rate", "exit_lift",
            "loop_rate", "expected_loop_rate", "loop_lift", "slow_ratio", "p90_gap_in_s", "p90_gap_out_s",
            "touches", "exits")
    return Friction(score=float(f["friction_score"] or 0), rank=int(f["rank"]),
                    components={k: _f(f.get(k)) for k in keys})


def _lift(r: dict | None) -> Lift | None:
    if r is None:
        return None
    e, u = r["exposed_rate"], r["unexposed_rate"]
    return Lift(effect=_f(r["risk_difference"]), low=_f(r["rd_low"]), high=_f(r["rd_high"]),
                relative=(e / u - 1) if e is not None and u else None, p=_f(r["p_value"]), q=_f(r["q_value"]),
                significant=bool(r["significant"]), exposed=rate(r["exposed_conversions"], r["exposed"]),
                unexposed=rate(r["unexposed_conversions"], r["unexposed"]))


def _curve(stages: list[StageColumn], cells: list[TouchpointCell], method: str) -> EmotionCurve:
    return EmotionCurve(
        stages=[EmotionPoint(level="stage", name=s.name, stage=s.name, order=s.order, mean=s.emotion.mean,
                             low=s.emotion.low, high=s.emotion.high, n=s.emotion.n)
                for s in stages if s.emotion is not None and s.emotion.n > 0],
        touchpoints=[EmotionPoint(level="touchpoint", name=c.name, stage=c.stage, order=c.order,
                                  mean=c.emotion.mean, low=c.emotion.low, high=c.emotion.high, n=c.emotion.n)
                     for c in cells if c.emotion is not None and c.emotion.n > 0],
        method=method)


def _ordered(cells: list[TouchpointCell], stage_order: dict[str, int]) -> list[TouchpointCell]:
    """Cells in journey order: stage order, then median position (no data last), then name."""
    def key(c: TouchpointCell):
        pos = c.figures.median_position
        return (stage_order.get(c.stage or "", len(stage_order)), pos is None, rank_value(pos), c.name)
    return [c.model_copy(update={"order": i}) for i, c in enumerate(sorted(cells, key=key))]


def _summary(meta, totals, conv, kpis, emotion, pain, opportunities, drivers, stages, bp,
             status: dict[str, int] | None = None) -> Summary:
    heads = [
        Headline(key="customers", label="Customers", value=int(totals["customers"] or 0), unit="count"),
        Headline(key="journeys", label="Journeys", value=int(totals["journeys"] or 0), unit="count"),
        Headline(key="conversion", label="Journeys that convert", value=conv.value, unit="share", low=conv.low,
                 high=conv.high, n=conv.n, target=bp.targets.conversion_rate,
                 meets_target=None if bp.targets.conversion_rate is None or conv.value is None
                 else conv.value >= bp.targets.conversion_rate),
    ]
    for k in kpis:
        heads.append(Headline(key=k.name, label={"nps": "NPS", "csat": "CSAT (% satisfied)",
                                                 "ces": "Customer effort (1-7)"}[k.name],
                              value=k.value, unit="score", low=k.low, high=k.high, n=k.n, target=k.target,
                              meets_target=k.meets_target))
    if emotion is not None:
        heads.append(Headline(key="emotion", label="Mean emotion (-1..+1)", value=emotion.mean, unit="score",
                              low=emotion.low, high=emotion.high, n=emotion.n))
    if pain:
        heads.append(Headline(key="top_pain_point", label="Top pain point", value=pain[0].touchpoint, unit="text"))
    who = f"the {meta.persona} persona" if meta.persona else "all customers"
    s = [f"This map covers {int(totals['journeys'] or 0):,} journeys of {int(totals['customers'] or 0):,} customers "
         f"({who}); {_pct(conv.value)} of journeys convert (95% CI {_pct(conv.low)}-{_pct(conv.high)})."]
    if not bp.goal_touchpoints():  # nothing can convert: journeys end or continue, they do not give up
        st = status or {}
        s[-1] = (f"This map covers {int(totals['journeys'] or 0):,} journeys of {int(totals['customers'] or 0):,} "
                 f"customers ({who}); the blueprint has no goals, so no journey converts: "
                 f"{int(st.get('dropped') or 0):,} ended and {int(st.get('in_progress') or 0):,} continued to the "
                 "data's end.")
    if bp.targets.conversion_rate is not None and conv.value is not None:
        s[-1] += (f" The target is {_pct(bp.targets.conversion_rate)}"
                  + (" and is met." if conv.value >= bp.targets.conversion_rate else " and is not met."))
    if pain:
        p = pain[0]
        s.append(f"The biggest pain point is {p.touchpoint} ({p.stage or 'no stage'}, owned by {p.owner or 'nobody'}), "
                 f"reached by {_pct(p.reach)} of journeys" + (f"; {p.headline.split(': ', 1)[1]}."
                                                              if ': ' in p.headline else "."))
    # the biggest drop of the stage funnel toward the goal: stages after the goal's follow a conversion and
    # start journeys that rarely convert again, so their drop-off is not customers giving up on buying
    goal_stages = [x.order for x in stages if x.name in {bp.stage_of(g) for g in bp.goal_touchpoints()}]
    last = min(goal_stages) if goal_stages else len(stages)
    steps = [(x, stages[i + 1]) for i, x in enumerate(stages[:-1])
             if x.order < last and stages[i + 1].order <= last and x.conversion_to_next is not None
             and x.conversion_to_next.n]
    if steps:
        a, z = min(steps, key=lambda p: (rank_value(p[0].conversion_to_next.value), p[0].order))
        s.append(f"The biggest drop is from {a.name} to {z.name}: only {_pct(a.conversion_to_next.value)} of the "
                 f"{a.conversion_to_next.n:,} journeys that reach {a.name} go on to {z.name}.")
    after = [x for x in stages if x.after_goal is not None and x.after_goal.n]
    if after:  # what converters do next (their later journeys), not "0% go on" within the converting journey
        window = bp.journey.conversion_window
        reach = [f"{_pct(x.after_goal.value)} go on to {x.name}" if i == 0 else f"{_pct(x.after_goal.value)} to {x.name}"
                 for i, x in enumerate(after)]
        s.append("After converting, " + (", ".join(reach[:-1]) + " and " + reach[-1] if len(reach) > 1 else reach[0])
                 + (f" within {_duration_words(window)}" if window is not None else "")
                 + f" (of {after[0].after_goal.n:,} converted journeys; their customers' later journeys).")
    top_tp = [d for d in drivers if d.kind == "touchpoint" and d.significant and (d.odds_ratio or 0) > 1]
    if top_tp:
        d = top_tp[0]
        s.append(f"Journeys that include {d.feature} convert with {d.odds_ratio:.1f}x the odds of those that do not "
                 "(association, not proof of cause).")
    for k in kpis:
        if k.name == "nps" and k.value is not None:
            s.append(f"NPS is {k.value:.0f} (n={k.n})" + (f" against a target of {k.target:.0f}." if k.target
                                                          is not None else "."))
    if opportunities:
        o = opportunities[0]
        s.append(f"First opportunity: {o.title}" + (f" (owner: {o.owner})." if o.owner else "."))
    return Summary(sentences=s, headlines=heads)


def _periods(events: ir.Table, con, start, end, compare_to):
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
        raise InputError(f"--compare-to {compare_to!r} is not 'previous' or START:END; write e.g. "
                         "--compare-to 2025-01-01:2025-02-01.")
    pa, pz = _dt(a.strip()), _dt(z.strip())
    if pa is None or pz is None or pz <= pa:
        raise InputError(f"--compare-to {compare_to!r} ends before it starts; write START:END with START first.")
    return start_dt, end_dt, (pa, pz)


@contextlib.contextmanager
def _temp_table(table: ir.Table, con, what: str) -> Iterator[ir.Table]:
    """``table`` computed once in the engine, released afterwards.

    A temporary table where the engine has them (DuckDB); elsewhere (Spark) the engine's own
    cache, as :func:`journeymap.attribution.attribution` does.
    """
    from journeymap.errors import EngineError

    name = f"_jm_map_{what}_{uuid.uuid4().hex[:12]}"
    try:
        try:
            cached = con.create_table(name, obj=table, temp=True)
            release = functools.partial(con.drop_table, name, force=True)
        except NotImplementedError:  # no temporary tables: ibis's cache, memtables registered first
            con._run_pre_execute_hooks(table)
            cached = con._cached_table(table)
            release = cached.release
    except Exception as e:  # engine errors differ per backend
        raise EngineError(f"The engine failed to prepare the map's {what}: {e}") from e
    try:
        yield cached
    finally:
        with contextlib.suppress(Exception):
            release()


def _progress(progress: ProgressFn | None) -> Callable[[str], None]:
    done = [0]

    def tell(label: str) -> None:
        if progress is not None:
            progress(label, min(done[0], len(STEPS)), len(STEPS))
        done[0] += 1
    return tell


def ws_name(ws) -> str:
    """The workspace's folder name."""
    path = getattr(ws, "path", None)
    return Path(path).name if path is not None else str(ws)


def _rows(table: ir.Table, con) -> int:
    return int(engine.execute(table.count(), con) or 0)


def _recs(columns: list[str], rows: list[list]) -> list[dict]:
    return [dict(zip(columns, r, strict=True)) for r in rows]


def _channel_of(r: dict | None) -> str | None:
    return None


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _times(x: float) -> str:
    """A ratio as ``3.2x`` (``114x`` from 10 up; two decimals where one would read ``1.0x``)."""
    if x >= 9.95:
        return f"{x:.0f}x"
    return f"{x:.2f}x" if f"{x:.1f}" == "1.0" else f"{x:.1f}x"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"


def _f(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v


def _i(x: Any) -> int | None:
    v = _f(x)
    return None if v is None else int(v)


def _s(x: Any) -> str | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return str(x)


def _ts(x: Any) -> datetime | None:
    if x is None:
        return None
    try:
        import pandas as pd

        if pd.isna(x):
            return None
        v = pd.Timestamp(x).to_pydatetime()
    except (TypeError, ValueError):
        return None
    return v


def _dt(x: Any) -> datetime | None:
    if x is None or x == "":
        return None
    if isinstance(x, datetime):
        return x
    try:
        return datetime.fromisoformat(str(x).strip())
    except ValueError:
        raise InputError(f"Date {x!r} is not a date; write YYYY-MM-DD or an ISO time.") from None
