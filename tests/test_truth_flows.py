"""Journey flows through the path a user takes: a file on disk, ingest, then the command.

Each test writes a CSV, ingests it (``Workspace.ingest_events`` or ``journeymap ingest``)
and runs the CLI, and compares its output with a hand computation or with pm4py:

- transitions name touch-to-touch edges by their touchpoints (never by the events
  table's own ``source``, the input file);
- one order of touches everywhere: time, then the file's row order; same-second
  touches keep the file's order in paths, transitions, funnels, attribution's
  customer container and retention (never the order of a hash);
- boundaries: an unconverted journey (and a funnel entry) is in progress while
  ``last touch (entry) + window > data end``, strictly: exactly one window before the
  end is dropped in both;
- peer equality: every shared process-mining log (``../shared/data/pm_*``), ingested as a
  user would (one journey per case), gives pm4py's ``discover_dfg`` and ``get_variants``
  exactly on DuckDB and on Spark.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import write_csv

from journeymap.blueprint import Blueprint
from journeymap.cli import main
from journeymap.workspace import Workspace

T0 = datetime(2024, 3, 1, 9, 0, 0)
ONE_JOURNEY_PER_CASE = {"goals": [], "journey": {"inactivity_gap": None, "conversion_window": None}}


# -- helpers ---------------------------------------------------------------------------------------


def workspace(tmp_path: Path, blueprint: dict, name: str = "ws") -> Workspace:
    ws = Workspace.init(tmp_path / name)
    ws.save_blueprint(Blueprint.model_validate(blueprint))
    return ws


def cli(ws: Workspace, *args: str) -> list[dict]:
    """Run ``journeymap -w WS ARGS --format csv`` and return its rows."""
    out = CliRunner().invoke(main, ["-w", str(ws.path), *args, "--format", "csv"])
    assert out.exit_code == 0, out.output
    return list(csv.DictReader(io.StringIO(out.stdout)))


def ingest(ws: Workspace, path: Path, *maps: str) -> None:
    args = [a for m in maps for a in ("--map", m)]
    out = CliRunner().invoke(main, ["-w", str(ws.path), "ingest", "events", str(path), *args])
    assert out.exit_code == 0, out.output


def edges(rows: list[dict]) -> dict[tuple[str, str], int]:
    return {(r["source"], r["target"]): int(r["count"]) for r in rows}


def hand_edges(rows: list[dict], key: str = "touchpoint", end: str = "DROPPED") -> Counter:
    """The directly-follows graph of rows already in time-then-file order, one journey per customer."""
    by_customer: dict[str, list[str]] = {}
    for r in rows:
        by_customer.setdefault(r["customer_id"], []).append(r[key])
    out: Counter = Counter()
    for seq in by_customer.values():
        out[("START", seq[0])] += 1
        out.update(zip(seq, seq[1:], strict=False))
        out[(seq[-1], end)] += 1
    return out


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


# -- 1. transitions are labelled by touchpoints ---------------------------------------------------------
def test_transitions_name_edges_by_touchpoints_not_by_the_input_file(tmp_path):
    # columns named like the graph's own (source, target) and the events table's (seq) sit in the file too
    rows = [
        {"customer_id": c, "ts": ts(s), "touchpoint": tp, "channel": ch, "source": "crm", "target": "x", "seq": "9"}
        for c, s, tp, ch in [
            ("a", 0, "Home", "web"),
            ("a", 60, "Product page", "web"),
            ("a", 120, "Cart", "app"),
            ("b", 0, "Home", "web"),
            ("b", 30, "Cart", "app"),
            ("b", 90, "Product page", "web"),
            ("c", 10, "Product page", "web"),
            ("c", 20, "Product page", "web"),
        ]
    ]
    path = write_csv(tmp_path / "events.csv", rows)
    ws = workspace(tmp_path, ONE_JOURNEY_PER_CASE)
    ingest(ws, path, "customer_id=customer_id", "ts=ts", "touchpoint=touchpoint", "channel=channel")

    got = edges(cli(ws, "transitions"))
    assert got == hand_edges(rows)
    assert not {s for s, _ in got} & {"events.csv", str(path), "crm"}
    assert edges(cli(ws, "transitions", "--node", "channel")) == hand_edges(rows, "channel")
    # a breakdown by the event column `source` (the file) is a breakdown, not the edges' source
    by_file = cli(ws, "transitions", "--by", "source")
    assert {r["dimension"] for r in by_file} == {str(path)}
    assert edges(by_file) == hand_edges(rows)


# -- 3 and 13. one order of touches: time, then file order -----------------------------------------------
def tied_rows(n: int = 12) -> list[dict]:
    """``n`` customers, each with two touches in the same second: ``A`` then ``X<i>`` in the file for even
    ``i``, ``X<i>`` then ``A`` for odd ``i`` (a hash orders about half of them the other way)."""
    rows = []
    for i in range(n):
        pair = ["A", f"X{i:02d}"] if i % 2 == 0 else [f"X{i:02d}", "A"]
        rows += [{"customer_id": f"c{i:02d}", "ts": ts(100), "touchpoint": tp} for tp in pair]
    return rows


def test_same_second_touches_keep_the_file_order_in_paths_and_transitions(tmp_path):
    rows = tied_rows()
    ws = workspace(tmp_path, ONE_JOURNEY_PER_CASE)
    ingest(ws, write_csv(tmp_path / "ties.csv", rows), "customer_id=customer_id", "ts=ts", "touchpoint=touchpoint")

    paths = {r["path"]: int(r["journeys"]) for r in cli(ws, "paths", "--top", "0")}
    by_customer: dict[str, list[str]] = {}
    for r in rows:
        by_customer.setdefault(r["customer_id"], []).append(r["touchpoint"])
    assert paths == Counter(" > ".join(v) for v in by_customer.values())
    assert edges(cli(ws, "transitions")) == hand_edges(rows)


def test_funnel_orders_same_second_steps_by_the_file(tmp_path):
    # c<i> does A then B in one second (in that file order for even i, B then A for odd i)
    rows = []
    for i in range(16):
        pair = ["A", "B"] if i % 2 == 0 else ["B", "A"]
        rows += [{"customer_id": f"c{i:02d}", "ts": ts(100), "touchpoint": tp} for tp in pair]
    ws = workspace(tmp_path, {"goals": []})
    ingest(ws, write_csv(tmp_path / "ties.csv", rows), "customer_id=customer_id", "ts=ts", "touchpoint=touchpoint")

    reached = [r["customer_id"] for r in cli(ws, "funnel", "A", "B", "--customers-at", "B")]
    assert reached == [f"c{i:02d}" for i in range(0, 16, 2)]
    # journeys agree: the B -> A edges are the odd customers'
    got = edges(cli(ws, "transitions"))
    assert got[("A", "B")] == 8 and got[("B", "A")] == 8


def test_customer_container_credits_no_touch_that_follows_the_conversion(tmp_path):
    # b's Mail is in the same second as the purchase, after it in the file: it follows the conversion
    rows = [
        {"customer_id": "a", "ts": ts(0), "touchpoint": "Ad", "revenue": ""},
        {"customer_id": "a", "ts": ts(60), "touchpoint": "Mail", "revenue": ""},
        {"customer_id": "a", "ts": ts(60), "touchpoint": "Buy", "revenue": "10"},
        {"customer_id": "b", "ts": ts(0), "touchpoint": "Ad", "revenue": ""},
        {"customer_id": "b", "ts": ts(60), "touchpoint": "Buy", "revenue": "10"},
        {"customer_id": "b", "ts": ts(60), "touchpoint": "Mail", "revenue": ""},
    ]
    ws = workspace(tmp_path, {"goals": [{"touchpoint": "Buy"}]})
    ingest(
        ws,
        write_csv(tmp_path / "shop.csv", rows),
        "customer_id=customer_id",
        "ts=ts",
        "touchpoint=touchpoint",
        "revenue=revenue",
    )
    for container in ("customer", "journey"):
        credits = cli(ws, "attribution", "--models", "last,first", "--level", "touchpoint", "--container", container)
        got = {(r["model"], r["channel"]): float(r["conversions"]) for r in credits if float(r["conversions"])}
        # last touch before each purchase: a's Mail, b's Ad; first touch: Ad for both
        assert got == {("last", "Mail"): 1.0, ("last", "Ad"): 1.0, ("first", "Ad"): 2.0}, container


def test_retention_counts_a_same_second_later_row_as_a_return(tmp_path):
    rows = [
        {"customer_id": "u1", "ts": ts(0), "touchpoint": "Signup"},
        {"customer_id": "u1", "ts": ts(0), "touchpoint": "Buy"},  # same second, after: returned
        {"customer_id": "u2", "ts": ts(0), "touchpoint": "Buy"},  # same second, before: not a return
        {"customer_id": "u2", "ts": ts(0), "touchpoint": "Signup"},
        {"customer_id": "u3", "ts": ts(0), "touchpoint": "Signup"},
        {"customer_id": "u3", "ts": ts(3600), "touchpoint": "Buy"},  # an hour later: returned
        {"customer_id": "u4", "ts": ts(0), "touchpoint": "Buy"},  # two purchases in one second: a repeat
        {"customer_id": "u4", "ts": ts(0), "touchpoint": "Buy"},
    ]
    ws = workspace(tmp_path, {"goals": [{"touchpoint": "Buy"}]})
    ingest(ws, write_csv(tmp_path / "app.csv", rows), "customer_id=customer_id", "ts=ts", "touchpoint=touchpoint")

    got = cli(ws, "retention", "--start-event", "Signup", "--return-event", "Buy", "--period", "day", "--periods", "1")
    assert [(r["cohort_size"], r["period"], r["customers"]) for r in got] == [("3", "0", "2"), ("3", "1", "0")]
    # start and return: the goal, Buy (every customer buys); only u4 buys again, in the same second
    repeat = cli(ws, "retention", "--period", "day", "--periods", "0")
    assert [(r["cohort_size"], r["period"], r["customers"]) for r in repeat] == [("4", "0", "1")]


# -- 14. boundaries ---------------------------------------------------------------------------------------
def test_exactly_one_window_before_the_end_is_dropped_in_journeys_and_funnels(tmp_path):
    window = timedelta(days=7)
    end = T0 + timedelta(days=10)
    firsts = {
        "edge": end - window,
        "inside": end - window + timedelta(seconds=1),
        "before": end - window - timedelta(seconds=1),
        "last": end,
    }
    rows = [{"customer_id": c, "ts": t.strftime("%Y-%m-%d %H:%M:%S"), "touchpoint": "Home"} for c, t in firsts.items()]
    rows += [
        {"customer_id": "buyer", "ts": ts(0), "touchpoint": "Home"},
        {"customer_id": "buyer", "ts": ts(60), "touchpoint": "Buy"},
    ]
    ws = workspace(
        tmp_path, {"goals": [{"touchpoint": "Buy"}], "journey": {"inactivity_gap": "30d", "conversion_window": "7d"}}
    )
    ingest(ws, write_csv(tmp_path / "web.csv", rows), "customer_id=customer_id", "ts=ts", "touchpoint=touchpoint")

    # the rule by hand: in progress while last touch (funnel: entry) + window > data end, strictly
    open_ = sorted(c for c, t in firsts.items() if t + window > end)
    closed = sorted(c for c, t in firsts.items() if t + window <= end)
    assert open_ == ["inside", "last"] and closed == ["before", "edge"]

    got = edges(cli(ws, "transitions"))
    assert (got[("Home", "IN_PROGRESS")], got[("Home", "DROPPED")], got[("Buy", "CONVERTED")]) == (2, 2, 1)
    paths = {r["path"]: (int(r["in_progress"]), int(r["dropped"])) for r in cli(ws, "paths")}
    assert paths["Home"] == (2, 2)

    step1 = cli(ws, "funnel", "Home", "Buy", "--window", "7d")[0]
    assert (int(step1["in_progress"]), int(step1["dropped"])) == (2, 2)
    ids = {
        flag: sorted(
            r["customer_id"] for r in cli(ws, "funnel", "Home", "Buy", "--window", "7d", "--customers-at", "Home", flag)
        )
        for flag in ("--in-progress", "--dropped")
    }
    assert ids == {"--in-progress": open_, "--dropped": closed}


# -- peer equality with pm4py through ingest ---------------------------------------------------------------
CASE, ACTIVITY, TIME = "case:concept:name", "concept:name", "time:timestamp"
PM_MAPS = (f"customer_id={CASE}", f"ts={TIME}", f"touchpoint={ACTIVITY}")
PM_LOGS = {
    "receipt": "pm_receipt_permit/receipt_events.csv.gz",
    "helpdesk": "pm_helpdesk_tickets/helpdesk_events.csv.gz",
    "bpic2013": "pm_bpic2013_incidents/bpic2013_incidents_events.csv.gz",
    "bpic2012": "pm_bpic2012_loan/bpic2012_events.csv.gz",
}


def pm4py_figures(df: pd.DataFrame) -> tuple[dict, dict]:
    """pm4py's directly-follows graph (with START and end edges) and variants of ``df`` (read by pandas).

    pm4py sorts each case stably by time, so events in the same instant keep the file's order.
    """
    pm4py = pytest.importorskip("pm4py")
    log = df[[CASE, ACTIVITY, TIME]].copy()
    log[TIME] = pd.to_datetime(log[TIME], utc=True, format="ISO8601")
    with contextlib.redirect_stdout(io.StringIO()):
        log = pm4py.format_dataframe(log, case_id=CASE, activity_key=ACTIVITY, timestamp_key=TIME)
        dfg, starts, ends = pm4py.discover_dfg(log)
        var = pm4py.get_variants(log)
    graph = {k: int(v) for k, v in dfg.items()}
    graph.update({("START", a): int(n) for a, n in starts.items()})
    graph.update({(a, "DROPPED"): int(n) for a, n in ends.items()})
    return graph, {" > ".join(k): int(v) for k, v in var.items()}


def read_log(path: Path, cases: int | None = None) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if cases is not None:
        df = df[df[CASE].isin(pd.unique(df[CASE])[:cases])]
    return df


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "log", [pytest.param(k, marks=[pytest.mark.slow] if k.startswith("bpic") else []) for k in PM_LOGS]
)
def test_transitions_and_paths_equal_pm4py_through_ingest(shared_data, tmp_path, log):
    path = shared_data / PM_LOGS[log]
    df = read_log(path)
    graph, variants = pm4py_figures(df)
    ws = workspace(tmp_path, ONE_JOURNEY_PER_CASE)
    ingest(ws, path, *PM_MAPS)  # the file as it is, every column, repeated rows and all
    assert ws.events().count().execute() == len(df)

    got_graph = edges(cli(ws, "transitions"))
    got_variants = {r["path"]: int(r["journeys"]) for r in cli(ws, "paths", "--top", "0")}
    pairs = sum(1 for k in graph if "START" not in k and "DROPPED" not in k)
    print(
        f"\n{log}: {len(df)} events, {df[CASE].nunique()} cases, DFG pairs {pairs}, variants {len(variants)}, "
        f"equal {got_graph == graph and got_variants == variants}"
    )
    assert got_graph == graph
    assert got_variants == variants


SPARK_CASES = 400
"""Cases per log on Spark (the first ones in the file): Spark's cost here is its jobs, not the rows."""


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.shared_data
def test_transitions_and_paths_equal_pm4py_on_spark(shared_data, spark_con, tmp_path):
    """The four logs (their first cases) ingested through the CLI into a DuckDB workspace (for the case
    check) and into a ``spark://local[2]`` workspace, and the CLI run on the Spark one with a breakdown
    by source file (about 2-3 minutes on the shared 2-core machine)."""
    duck = workspace(tmp_path, ONE_JOURNEY_PER_CASE, "duck")
    spark = Workspace.init(tmp_path / "spark", blueprint=duck.blueprint, url="spark://local[2]")
    spark.close()  # the CLI below opens it, as a user's next command would
    frames = {}
    try:
        for log, rel in PM_LOGS.items():
            df = read_log(shared_data / rel, SPARK_CASES)
            target = tmp_path / f"{log}.csv"
            df.to_csv(target, index=False)
            ingest(duck, target, *PM_MAPS)
            ingest(spark, target, *PM_MAPS)
            frames[str(target)] = (log, df)
    finally:
        duck.close()
    cases = [set(df[CASE]) for _, df in frames.values()]
    assert sum(map(len, cases)) == len(set().union(*cases))  # no case id in two logs: one journey per case
    assert spark.settings.url == "spark://local[2]"
    transitions = cli(spark, "transitions", "--by", "source")
    paths = cli(spark, "paths", "--by", "source", "--top", "0")
    assert {r["dimension"] for r in transitions} == set(frames)
    for source, (log, df) in frames.items():
        graph, variants = pm4py_figures(df)
        got_graph = edges([r for r in transitions if r["dimension"] == source])
        got_variants = {r["path"]: int(r["journeys"]) for r in paths if r["dimension"] == source}
        print(
            f"\n{log} (first {SPARK_CASES} cases, Spark): {len(df)} events, variants {len(variants)}, "
            f"equal {got_graph == graph and got_variants == variants}"
        )
        assert got_graph == graph, log
        assert got_variants == variants, log
