"""Voice-of-the-customer commands: ``voice kpis|sentiment|emotions|themes|quotes|impact|drivers`` and ``label``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from journeymap.cli import Context, main, pass_ctx
from journeymap.cli.output import emit, err_console, format_option, handle_errors

BY = ("touchpoint", "stage", "channel", "persona", "period")


def by_options(func):
    """``--by``, ``--period`` and ``--link/--no-link`` for the grouped voice commands."""
    func = click.option(
        "--link/--no-link",
        default=True,
        show_default=True,
        help="Link comments without a touchpoint by keywords and similarity first.",
    )(func)
    func = click.option(
        "--period",
        type=click.Choice(["day", "week", "month"]),
        default="month",
        show_default=True,
        help="Period length for --by period.",
    )(func)
    return click.option("--by", type=click.Choice(BY), default=None, help="Break the figures down by this.")(func)


@contextmanager
def _progress_bars() -> Iterator[Callable[[str], Callable[[int, int], None]]]:
    """Rich progress bars on stderr for scoring and embedding runs.

    Yields ``track(name)``, which gives the ``progress(done, total)`` callback the library takes
    (:func:`~journeymap.voice.scoring.score_feedback`, :class:`~journeymap.voice.embeddings.Embedder`);
    a bar appears on the first call. As with ingest, the bars show while stderr is a terminal and
    go when done; redirected output (json, csv, logs) gets nothing from them.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    tasks: dict[str, TaskID] = {}

    def track(name: str) -> Callable[[int, int], None]:
        def callback(done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        return callback

    with bar:
        yield track


def _embedder(ws, progress: Callable[[int, int], None] | None = None):
    """The workspace's embedder (ONNX Runtime when installed, on CPU), reporting to ``progress``."""
    from journeymap.voice.embeddings import Embedder, workspace_cache_dir

    return Embedder(cache_dir=workspace_cache_dir(ws), progress=progress)


def _score(ws, backend: str, *, rescore: bool = False) -> None:
    """Score the feedback ``backend`` has not scored yet (all of it with ``rescore``), with progress bars."""
    from journeymap.voice.scoring import pending, score_feedback

    if not rescore and not pending(ws.con, backend):
        return
    with _progress_bars() as track:
        model: object = backend
        if backend != "lexicon":
            from journeymap.voice.sentiment import get_backend

            model = get_backend(backend, workspace=ws, embedder=_embedder(ws, track(f"embedding ({backend})")))
        score_feedback(
            ws.con,
            backend=model,  # type: ignore[arg-type]
            workspace=ws,
            rescore=rescore,
            progress=track(f"scoring ({backend})"),
        )


def _feedback(ctx: Context, link: bool):
    """The feedback table, its ``touchpoint`` replaced by the linked one when ``link``."""
    ws = ctx.ws
    fb = ws.feedback()
    if link and ws.blueprint.touchpoints:
        from journeymap.voice.linking import link_feedback

        linked = link_feedback(fb, ws.blueprint, con=ws.con)
        fb = linked.mutate(touchpoint=linked.link_touchpoint)
    return fb


def _grouped(ctx: Context, table, by: str | None, period: str):
    from journeymap.voice.kpis import with_dimension

    if by is None:
        return table, []
    ws = ctx.ws
    customers = ws.customers() if by == "persona" else None
    return with_dimension(table, by, blueprint=ws.blueprint, customers=customers, period=period), [by]


@main.group("voice")
def voice() -> None:
    """Voice of the customer: KPIs, sentiment, emotions, themes and quotes from feedback.

    \b
    Example:
      journeymap voice kpis --by touchpoint
      journeymap voice themes --sentiment negative --format json
    """


@voice.command("kpis")
@by_options
@click.option("--min-n", type=int, default=30, show_default=True, help="Flag groups with fewer responses as too small.")
@click.option("--level", type=float, default=0.95, show_default=True, help="Confidence level of the intervals.")
@format_option()
@pass_ctx
@handle_errors
def kpis_cmd(ctx: Context, by: str | None, period: str, link: bool, min_n: int, level: float, fmt: str) -> None:
    """NPS, CSAT and CES with the number of responses, an interval and a too-small flag.

    \b
    Example:
      journeymap voice kpis
      journeymap voice kpis --by stage --format csv
      journeymap voice kpis --by period --period week --min-n 50
    """
    from journeymap.voice.kpis import kpis

    ws = ctx.ws
    fb = _feedback(ctx, link and by in ("touchpoint", "stage"))
    customers = ws.customers() if by == "persona" else None
    result = kpis(
        fb, by=by, period=period, blueprint=ws.blueprint, customers=customers, min_n=min_n, level=level, con=ws.con
    )
    emit(result, fmt, title="KPIs")
    if result.meta.get("empty_reason"):
        err_console.print(result.meta["empty_reason"], highlight=False, markup=False)
    elif result.meta.get("csat_from") == "rating":
        err_console.print(
            "CSAT is the share of 4-5 among the 1-5 ratings (there is no csat score).", highlight=False, markup=False
        )


def _scored(ctx: Context, backend: str, link: bool, rescore: bool = False):
    from journeymap.voice.scoring import scores

    ws = ctx.writer() if rescore else ctx.scored(backend)
    _score(ws, backend, rescore=rescore)
    s = scores(ws.con, backend).drop("backend", "scored_at").rename(s_id="feedback_id")
    fb = _feedback(ctx, link)
    return fb.inner_join(s, fb.feedback_id == s.s_id).drop("s_id")


def _languages(ws, backend: str, feedback_ids: list[str] | None = None) -> dict:
    """Rows per language and the unscored rows per reason among ``backend``'s scores (of ``feedback_ids``)."""
    import ibis

    from journeymap.voice.scoring import language_summary

    ids = (
        None
        if feedback_ids is None
        else ibis.memtable({"feedback_id": list(feedback_ids)}, schema={"feedback_id": "string"})
    )
    return language_summary(ws.con, backend, ids)


def _say_languages(summary: dict, fmt: str) -> None:
    """Below a table: how many comments were in which language, and how many were left unscored and why."""
    if fmt != "table" or not summary.get("languages"):
        return
    from journeymap.cli.output import err_console

    langs = ", ".join(f"{k} {v}" for k, v in summary["languages"].items())
    lines = [f"Languages: {langs} (und: too short to tell)."]
    for reason, n in summary.get("unscored_reasons", {}).items():
        lines.append(f"{n} comments have no sentiment score: {reason}.")
    for line in lines:
        err_console.print(line, highlight=False, markup=False)


@voice.command("sentiment")
@by_options
@click.option(
    "--backend",
    type=click.Choice(["lexicon", "embedding", "trained"]),
    default="lexicon",
    show_default=True,
    help="Sentiment backend (embedding and trained need the nlp extra).",
)
@click.option(
    "--rescore",
    is_flag=True,
    default=False,
    help="Score every comment again and replace the stored scores (e.g. after 'journeymap label').",
)
@format_option()
@pass_ctx
@handle_errors
def sentiment_cmd(ctx: Context, by: str | None, period: str, link: bool, backend: str, rescore: bool, fmt: str) -> None:
    """Mean sentiment (-1..1) and the share of each label, scoring new comments first.

    Scores are kept: a comment scored once keeps its score until --rescore, which scores every
    comment again with the backend as it is now (the trained backend with the latest labels).

    \b
    Example:
      journeymap voice sentiment --by touchpoint
      journeymap label fb-102 fb-311 --as negative
      journeymap voice sentiment --backend trained --rescore --by period --format json
    """
    from journeymap import engine
    from journeymap.voice.results import SentimentTable

    t, group = _grouped(ctx, _scored(ctx, backend, link and by in ("touchpoint", "stage"), rescore), by, period)
    lab = t.sentiment_label
    aggs = {
        "n": t.count(),
        "sentiment": t.sentiment.mean(),
        **{f"{x}_pct": (lab == x).cast("float64").mean() * 100 for x in ("negative", "neutral", "positive", "mixed")},
        "unscored": t.sentiment.isnull().cast("int64").sum(),
    }
    expr = t.group_by(group).aggregate(**aggs).order_by(group) if group else t.aggregate(**aggs)
    df = engine.execute(expr, ctx.ws.con)
    summary = _languages(ctx.ws, backend)
    from journeymap.voice.scoring import model_info

    model = model_info(ctx.ws.con, backend) if backend == "lexicon" else None
    emit(
        SentimentTable(
            columns=list(df.columns),
            rows=df.astype(object).values.tolist(),
            meta={**summary, "backend": backend, "by": by, "rescored": rescore, "model": model},
        ),
        fmt,
        title="sentiment",
    )
    _say_languages(summary, fmt)
    if fmt == "table" and model and model.get("model") == "ratings":
        from journeymap.cli.output import err_console

        err_console.print(
            f"Scored by this workspace's ratings model ({model['n_rated']} rated comments; macro-F1 "
            f"{model['heldout_macro_f1']} on the {model['n_heldout']} held out).",
            highlight=False,
            markup=False,
        )


@voice.command("emotions")
@by_options
@format_option()
@pass_ctx
@handle_errors
def emotions_cmd(ctx: Context, by: str | None, period: str, link: bool, fmt: str) -> None:
    """Mean score (0..1) of each journey emotion: delight, trust, frustration, confusion, anxiety, disappointment.

    \b
    Example:
      journeymap voice emotions --by stage
    """
    from journeymap import engine
    from journeymap.voice.emotions import EMOTIONS
    from journeymap.voice.results import EmotionTable

    t, group = _grouped(ctx, _scored(ctx, "lexicon", link and by in ("touchpoint", "stage")), by, period)
    aggs = {"n": t.count(), **{e: t[e].mean() for e in EMOTIONS}}
    expr = t.group_by(group).aggregate(**aggs).order_by(group) if group else t.aggregate(**aggs)
    df = engine.execute(expr, ctx.ws.con)
    emit(
        EmotionTable(columns=list(df.columns), rows=df.astype(object).values.tolist(), meta={"by": by}),
        fmt,
        title="emotions",
    )


@voice.command("summary")
@click.option(
    "--by",
    type=click.Choice(["touchpoint", "stage", "persona"]),
    default=None,
    help="Break the figures down by this (feedback linked to touchpoints as on the map).",
)
@format_option()
@pass_ctx
@handle_errors
def summary_cmd(ctx: Context, by: str | None, fmt: str) -> None:
    """Mean emotion (-1..+1) with its 95% interval, negative share and top emotions: the map's voice figures.

    Each item's score is the mean of its text sentiment and its rescaled ratings (scoring new comments
    first); the map shows the same figures per touchpoint, stage and persona.

    \b
    Example:
      journeymap voice summary --by touchpoint
    """
    from journeymap.voice.summary import feedback_table, voice_summary

    ws = ctx.scored("lexicon")
    _score(ws, "lexicon")
    bp = ws.blueprint
    t = feedback_table(ws.feedback(), bp, ws.con, customers=ws.customers() if bp.personas else None)
    column = {"touchpoint": "link_touchpoint", "stage": "link_stage", "persona": "persona", None: None}[by]
    result = voice_summary(t, column, ws.con)
    emit(result.model_copy(update={"meta": {**result.meta, "by": by}}), fmt, title="voice summary")


def theme_options(func):
    """Options shared by ``voice themes``, ``quotes`` and ``impact``."""
    options = [
        click.option(
            "--backend",
            type=click.Choice(["tfidf", "embedding"]),
            default="tfidf",
            show_default=True,
            help="Clustering: TF-IDF + NMF, or MiniLM embeddings (nlp extra).",
        ),
        click.option(
            "--k", "n_themes", type=int, default=None, help="Number of themes (default: chosen by silhouette)."
        ),
        click.option(
            "--seed", type=int, default=0, show_default=True, help="Seed: the same data gives the same themes."
        ),
        click.option(
            "--sentiment",
            type=click.Choice(["negative", "neutral", "positive", "mixed"]),
            default=None,
            help="Only comments with this sentiment (mixed: praise and complaint in one comment).",
        ),
        click.option("--touchpoint", default=None, help="Only comments about this touchpoint."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _themes(
    ctx: Context,
    backend: str,
    n_themes: int | None,
    seed: int,
    sentiment: str | None,
    touchpoint: str | None,
    period: str = "month",
):
    from journeymap.voice.scoring import scores
    from journeymap.voice.themes import find_themes

    ws = ctx.scored("lexicon")
    _score(ws, "lexicon")
    fb = _feedback(ctx, True)
    fb = fb.mutate(link_touchpoint=fb.touchpoint)
    if touchpoint:
        fb = fb.filter(fb.link_touchpoint == touchpoint)
    if backend != "embedding":
        return find_themes(
            fb,
            blueprint=ws.blueprint,
            scores=scores(ws.con, "lexicon"),
            sentiment=sentiment,
            backend=backend,
            n_themes=n_themes,
            seed=seed,
            period=period,
            con=ws.con,
        )
    with _progress_bars() as track:
        return find_themes(
            fb,
            blueprint=ws.blueprint,
            scores=scores(ws.con, "lexicon"),
            sentiment=sentiment,
            backend=backend,
            n_themes=n_themes,
            seed=seed,
            embedder=_embedder(ws, track("embedding")),
            period=period,
            con=ws.con,
        )


@voice.command("themes")
@theme_options
@click.option(
    "--period",
    type=click.Choice(["day", "week", "month"]),
    default="month",
    show_default=True,
    help="Period length of each theme's trend.",
)
@format_option()
@pass_ctx
@handle_errors
def themes_cmd(
    ctx: Context,
    backend: str,
    n_themes: int | None,
    seed: int,
    sentiment: str | None,
    touchpoint: str | None,
    period: str,
    fmt: str,
) -> None:
    """Themes in the comments: label (key phrases), size, sentiment, touchpoints, trend, quotes.

    Rename, merge or pin themes under ``themes:`` in blueprint.yaml; that sticks across runs.

    \b
    Example:
      journeymap voice themes --sentiment negative
      journeymap voice themes --backend embedding --k 10 --format json > themes.json
    """
    result = _themes(ctx, backend, n_themes, seed, sentiment, touchpoint, period)
    summary = _languages(ctx.ws, "lexicon", sorted(result.assignments()))
    result = result.model_copy(update={"meta": {**result.meta, **summary}})
    _say_languages(summary, fmt)
    if fmt == "table":
        from journeymap.cli.output import print_table

        cols, rows = result.tables()["themes"]
        print_table(cols[:-1], [r[:-1] for r in rows], title=f"themes ({result.n_comments} comments)")
    else:
        emit(result, fmt)


@voice.command("quotes")
@theme_options
@click.option("--theme", "theme_name", default=None, help="Only quotes of this theme (name or label).")
@format_option()
@pass_ctx
@handle_errors
def quotes_cmd(
    ctx: Context,
    backend: str,
    n_themes: int | None,
    seed: int,
    sentiment: str | None,
    touchpoint: str | None,
    theme_name: str | None,
    fmt: str,
) -> None:
    """Representative quotes (redacted) per theme, each with its feedback id.

    \b
    Example:
      journeymap voice quotes --sentiment negative --touchpoint Checkout
      journeymap voice quotes --theme "Refunds" --format csv
    """
    from journeymap.errors import InputError
    from journeymap.voice.results import ThemeSet

    result = _themes(ctx, backend, n_themes, seed, sentiment, touchpoint)
    if theme_name:
        t = result.theme(theme_name)
        if t is None:
            raise InputError(
                f"Theme {theme_name!r} is not among the themes (option --theme); "
                f"they are: {', '.join(x.name for x in result.themes)}."
            )
        result = ThemeSet(themes=[t], n_comments=result.n_comments, meta=result.meta)
    cols, rows = result.tables()["quotes"]
    if fmt == "json":
        emit([dict(zip(cols, r, strict=True)) for r in rows], "json")
    else:
        emit([dict(zip(cols, r, strict=True)) for r in rows], fmt, title="quotes")


@voice.command("impact")
@theme_options
@format_option()
@pass_ctx
@handle_errors
def impact_cmd(
    ctx: Context, backend: str, n_themes: int | None, seed: int, sentiment: str | None, touchpoint: str | None, fmt: str
) -> None:
    """How much NPS and CSAT would change if each theme's comments were removed.

    \b
    Example:
      journeymap voice impact --sentiment negative
    """
    from journeymap.voice.impact import theme_impact

    result = _themes(ctx, backend, n_themes, seed, sentiment, touchpoint)
    emit(theme_impact(ctx.ws.feedback(), result, con=ctx.ws.con), fmt, title="theme impact")


@voice.command("drivers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--target", required=True, help="Overall score column, or a label column with --positive.")
@click.option("--positive", default=None, help="The target value that counts as satisfied (label targets).")
@click.option("--rating", "ratings", multiple=True, required=True, help="A touchpoint rating column (repeat).")
@click.option(
    "--missing", "missing_values", type=float, multiple=True, help="A rating value meaning 'not rated' (e.g. 0)."
)
@format_option()
@handle_errors
def drivers_cmd(
    file: str, target: str, positive: str | None, ratings: tuple[str, ...], missing_values: tuple[float, ...], fmt: str
) -> None:
    """Key drivers: how much each touchpoint rating matters for the overall score (Shapley share of R^2).

    \b
    Example:
      journeymap voice drivers survey.csv --target satisfaction --positive satisfied \\
        --rating "Seat comfort" --rating "Online boarding" --rating "Checkin service" --missing 0
    """
    from journeymap.engine import connect
    from journeymap.voice.drivers import key_drivers

    con = connect("duckdb://")
    table = con.read_csv(file) if not file.endswith(".parquet") else con.read_parquet(file)
    emit(
        key_drivers(table, target, ratings, positive=positive, missing_values=missing_values, con=con),
        fmt,
        title="key drivers",
    )


@main.command("label")
@click.argument("feedback_ids", nargs=-1, required=True)
@click.option(
    "--as",
    "value",
    type=click.Choice(["negative", "neutral", "positive"]),
    required=True,
    help="The correct sentiment of these comments.",
)
@format_option(default="table", choices=("table", "json"))
@pass_ctx
@handle_errors
def label_cmd(ctx: Context, feedback_ids: tuple[str, ...], value: str, fmt: str) -> None:
    """Label comments (or correct their sentiment); the trained sentiment backend learns from these.

    Labels are kept in the workspace (labels/sentiment.csv); a later label of the same text wins.

    \b
    Example:
      journeymap label fb-102 fb-311 --as negative
      journeymap voice sentiment --backend trained
    """
    from journeymap import engine
    from journeymap.errors import InputError
    from journeymap.voice.sentiment import add_labels

    ws = ctx.ws
    fb = ws.feedback()
    df = engine.execute(fb.filter(fb.feedback_id.isin(list(feedback_ids))).select("feedback_id", "text"), ws.con)
    found = dict(zip(df.feedback_id, df.text, strict=True))
    missing = [i for i in feedback_ids if not found.get(i)]
    if missing:
        raise InputError(
            f"Feedback id {missing[0]!r} is not in the feedback table or has no text (argument FEEDBACK_IDS); "
            "check the id with 'journeymap voice quotes'."
        )
    n = add_labels(ws, [found[i] for i in feedback_ids], [value] * len(feedback_ids), feedback_ids=list(feedback_ids))
    emit({"labelled": n, "label": value, "feedback_ids": list(feedback_ids)}, fmt if fmt == "json" else "table")
