"""``blueprint draft`` and ``blueprint check`` on files a user ingests: goals and journey settings read from real data.

Every test writes or reads a file, ingests it with ``Workspace.ingest_events``, runs the command
through the CLI and compares what it prints with a hand computation in pandas (issue 13, items 5-6).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from journeymap.blueprint import parse_duration
from journeymap.cli import main
from journeymap.workspace import Workspace


def _cli(ws_path: Path, *args: str):
    r = CliRunner().invoke(main, ["-w", str(ws_path), "blueprint", *args])
    assert r.exit_code == 0, r.output
    return r


def _draft_json(ws_path: Path) -> dict:
    return json.loads(_cli(ws_path, "draft", "--format", "json").stdout)


def _check_rows(ws_path: Path) -> list[dict]:
    data = json.loads(_cli(ws_path, "check", "--format", "json").stdout)
    return [dict(zip(data["columns"], r, strict=True)) for r in data["rows"]]


def _seconds(text: str) -> float | None:
    d = parse_duration(text)
    return None if d is None else d.total_seconds()


def _journeys(df: pd.DataFrame, goals: set[str], gap_s: float | None, window_s: float | None) -> pd.DataFrame:
    """Journeys by hand: a customer's touches in time then file order, cut after a goal or at a longer gap."""
    df = df.sort_values(["customer", "ts", "row"]).reset_index(drop=True)
    g = df.groupby("customer", sort=False)
    prev_ts = g.ts.shift()
    new = prev_ts.isna() | g.touchpoint.shift().isin(goals)
    if gap_s is not None:
        new |= (df.ts - prev_ts).dt.total_seconds() > gap_s
    df["j"] = new.cumsum()
    j = df.groupby("j").agg(
        customer=("customer", "first"), end=("ts", "max"), last=("touchpoint", "last"), n=("ts", "size")
    )
    j["converted"] = j["last"].isin(goals)
    before_end = (df.ts.max() - j.end).dt.total_seconds()
    if window_s is not None:  # no journey ends exactly one window before the end: either boundary rule agrees
        assert not (before_end == window_s).any()
    j["in_progress"] = ~j.converted & (before_end < window_s if window_s is not None else False)
    return j


def _split_share(df: pd.DataFrame, gap_s: float) -> tuple[int, int]:
    """(customers with two or more touches, those of them with a gap longer than ``gap_s``)."""
    df = df.sort_values(["customer", "ts", "row"])
    longest = df.groupby("customer").ts.apply(lambda s: s.diff().dt.total_seconds().max())
    several = df.groupby("customer").size() >= 2
    return int(several.sum()), int((longest[several] > gap_s).sum())


# -- goals -------------------------------------------------------------------------------------------
def test_rees46_only_purchase_is_a_goal_and_the_printed_share_is_right(shared_data, tmp_path):
    """REES46: price on every event (guessed as revenue) made view, cart and purchase goals: 100% converted."""
    src = shared_data / "rees46_ecommerce_events_sample" / "2019-Oct-sample.csv"
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest_events(src)  # the guessed mapping: revenue=price
    ws.close()
    info = _draft_json(tmp_path / "ws")
    assert info["goals_guessed"] == ["purchase"]
    assert [(g["touchpoint"], g["reason"]) for g in info["goals"]] == [("purchase", "name")]
    raw = pd.read_csv(src)
    assert info["revenue_share"] == pytest.approx((raw.price > 0).mean())  # price on (nearly) every event
    df = pd.DataFrame(
        {
            "customer": raw.user_id.astype(str),
            "touchpoint": raw.event_type,
            "row": range(len(raw)),
            "ts": pd.to_datetime(raw.event_time.str.removesuffix(" UTC")),
        }
    )
    j = _journeys(
        df, {"purchase"}, _seconds(info["journey"]["inactivity_gap"]), _seconds(info["journey"]["conversion_window"])
    )
    conv = info["conversion"]
    assert (conv["journeys"], conv["converted"], conv["in_progress"]) == (
        len(j),
        j.converted.sum(),
        j.in_progress.sum(),
    )
    assert conv["share"] == pytest.approx(j.converted.mean())
    assert 0 < conv["share"] < 0.6 and not any("%" in w and "convert" in w for w in info["warnings"])
    # the table output prints the same share
    r = _cli(tmp_path / "ws", "draft", "-o", str(tmp_path / "draft.yaml"))
    assert f"{j.converted.sum():,} of {len(j):,} journeys convert ({j.converted.mean():.1%})" in r.output


NAMED = [  # (case, activity) in file order: retail orders, hospital billing, road-traffic fines
    ("r1", "Product page"),
    ("r1", "Online order"),
    ("r2", "Product page"),
    ("r2", "View order history"),
    ("r2", "Store order"),
    ("h1", "NEW"),
    ("h1", "FIN"),
    ("h1", "RELEASE"),
    ("h1", "BILLED"),
    ("f1", "Create Fine"),
    ("f1", "Send Fine"),
    ("f1", "Payment"),
    ("x1", "Checkout"),
    ("x1", "Payment failed"),
    ("x1", "Cancel order"),
    ("x1", "Order tracking"),
]


def _write_named(path: Path) -> pd.DataFrame:
    t0 = dt.datetime(2024, 3, 1, 9)
    df = pd.DataFrame(
        {
            "case_id": [c for c, _ in NAMED],
            "activity": [a for _, a in NAMED],
            "time": [(t0 + dt.timedelta(hours=i)).isoformat() for i in range(len(NAMED))],
            "amount": [10.0 + i for i in range(len(NAMED))],
        }
    )  # a value on every event, as in fines
    df.to_csv(path, index=False)
    return df


def test_goal_names_from_real_logs_are_goals_and_their_look_alikes_are_not(tmp_path):
    src = tmp_path / "named.csv"
    raw = _write_named(src)
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest_events(
        src, mapping={"customer_id": "case_id", "touchpoint": "activity", "ts": "time", "revenue": "amount"}
    )
    ws.close()
    info = _draft_json(tmp_path / "ws")
    # the amount on every event is not a transaction: only the names make goals
    assert set(info["goals_guessed"]) == {"Online order", "Store order", "BILLED", "Payment"}
    assert {g["reason"] for g in info["goals"]} == {"name"}
    df = pd.DataFrame(
        {"customer": raw.case_id, "touchpoint": raw.activity, "row": range(len(raw)), "ts": pd.to_datetime(raw.time)}
    )
    goals = set(info["goals_guessed"])
    j = _journeys(
        df, goals, _seconds(info["journey"]["inactivity_gap"]), _seconds(info["journey"]["conversion_window"])
    )
    share = j.converted.mean()
    assert info["conversion"]["share"] == pytest.approx(share) and share > 0.6
    high = [w for w in info["warnings"] if "more than 60%" in w and w.startswith("The goals")]
    assert len(high) == 1 and f"{share:.1%} of the {len(j):,} journeys" in high[0]
    for g in info["goals"]:  # each goal alone, by hand
        alone = _journeys(df, {g["touchpoint"]}, _seconds(info["journey"]["inactivity_gap"]), None)
        assert (g["journeys"], g["converted"]) == (len(alone), alone.converted.sum())


def test_revenue_makes_a_goal_only_where_it_is_a_transaction(tmp_path):
    rows = [
        ("a", "Step A", None),
        ("a", "Step B", None),
        ("a", "Contract signed", 120.0),
        ("b", "Step A", None),
        ("b", "Step B", None),
        ("c", "Step A", None),
        ("c", "Step B", None),
        ("c", "Contract signed", 80.0),
        ("d", "Step A", None),
    ]
    t0 = dt.datetime(2024, 5, 1)
    frame = pd.DataFrame(
        {
            "customer": [r[0] for r in rows],
            "event": [r[1] for r in rows],
            "time": [(t0 + dt.timedelta(hours=i)).isoformat() for i in range(len(rows))],
            "revenue": [r[2] for r in rows],
        }
    )
    frame.to_csv(tmp_path / "deals.csv", index=False)
    priced = frame.assign(revenue=[5.0 + i for i in range(len(rows))])  # a price column on every event
    priced.to_csv(tmp_path / "priced.csv", index=False)
    mapping = {"customer_id": "customer", "touchpoint": "event", "ts": "time", "revenue": "revenue"}
    for name in ("deals", "priced"):
        ws = Workspace.init(tmp_path / name)
        ws.ingest_events(tmp_path / f"{name}.csv", mapping=mapping)
        ws.close()
    priced_info = _draft_json(tmp_path / "priced")
    assert priced_info["goals_guessed"] == []  # before: every step carried revenue, so every step was a goal
    deals = _draft_json(tmp_path / "deals")
    assert [(g["touchpoint"], g["reason"], g["value"]) for g in deals["goals"]] == [
        ("Contract signed", "revenue", "revenue")
    ]
    assert deals["revenue_share"] == pytest.approx(frame.revenue.notna().mean())  # 2 of 9 events
    n = priced.customer.nunique()  # one journey each (no goal, one short stretch)
    assert priced_info["warnings"][0] == (
        f"No goal was found, so 0% of the {n:,} journeys convert; name the "
        "touchpoint that completes a journey under goals in blueprint.yaml."
    )


def test_uci_retail_prices_on_every_line_make_no_goal(shared_data, tmp_path):
    """UCI online retail, touchpoint = product: every line carries its price, so revenue says nothing."""
    src = shared_data / "uci_online_retail_sample" / "online_retail_first28492.csv"
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest_events(
        src,
        mapping={
            "customer_id": "CustomerID",
            "ts": "InvoiceDate",
            "touchpoint": "Description",
            "revenue": "TotalPrice",
        },
        ts_format="%m/%d/%y %H:%M",
    )
    ev = ws.events().select("customer_id", "ts", "revenue").to_pandas()
    ws.close()
    info = _draft_json(tmp_path / "ws")
    assert info["goals_guessed"] == []  # before: every product was a goal
    assert info["revenue_share"] == pytest.approx((ev.revenue > 0).mean()) and info["revenue_share"] > 0.9
    assert info["conversion"]["share"] == 0
    assert any(w.startswith("No goal was found, so 0%") for w in info["warnings"])
    span = (ev.ts.max() - ev.ts.min()).total_seconds()  # 12 days
    assert 0 < _seconds(info["journey"]["conversion_window"]) <= span / 4


# -- journey settings ----------------------------------------------------------------------------------
def test_process_log_gap_does_not_split_most_cases(shared_data, tmp_path):
    """Helpdesk tickets: the default 30d gap splits most cases; the proposed gap splits at most one in ten."""
    src = shared_data / "pm_helpdesk_tickets" / "helpdesk_events.csv.gz"
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest_events(
        src, mapping={"customer_id": "case:concept:name", "touchpoint": "concept:name", "ts": "time:timestamp"}
    )
    ws.close()
    raw = pd.read_csv(src)
    df = pd.DataFrame(
        {
            "customer": raw["case:concept:name"],
            "touchpoint": raw["concept:name"],
            "row": range(len(raw)),
            "ts": pd.to_datetime(raw["time:timestamp"], utc=True),
        }
    )
    several, split30 = _split_share(df, 30 * 86400)
    assert split30 > several / 2  # the data really is split by the default
    gap_rows = [r for r in _check_rows(tmp_path / "ws") if r["check"] == "inactivity gap splits customers"]
    assert len(gap_rows) == 1 and gap_rows[0]["severity"] == "warning"
    msg = gap_rows[0]["message"]
    assert (
        msg.startswith(
            f"The inactivity gap 30d splits {split30:,} of the {several:,} customers with several "
            f"touches ({split30 / several:.0%})"
        )
        and "journey.inactivity_gap" in msg
    )
    info = _draft_json(tmp_path / "ws")
    gap = _seconds(info["journey"]["inactivity_gap"])
    assert info["journey"]["proposed"] and gap is not None
    _, split = _split_share(df, gap)
    assert split <= 0.1 * several  # the 90th percentile of the cases' longest gaps, rounded up
    assert f"(the data suggests {info['journey']['inactivity_gap']})" in msg
    assert not [r for r in _check_rows(tmp_path / "ws") if r["check"] == "inactivity gap splits customers"]


def _twenty_days(path: Path) -> pd.DataFrame:
    """60 customers over 20 days, each active on one to three days; a third of them buy."""
    rng = np.random.default_rng(13)
    t0 = dt.datetime(2024, 6, 1)
    rows = []
    for i in range(60):
        start = 0.0 if i == 0 else 20.0 if i == 59 else float(rng.uniform(0, 19))
        steps = ["Home", "Product page", "Basket"] + (["Purchase"] if i % 3 == 0 else [])
        offsets = np.sort(rng.uniform(0, 2, len(steps))) if 0 < i < 59 else np.zeros(len(steps))
        for s, o in zip(steps, offsets, strict=True):
            ts = t0 + dt.timedelta(days=min(start + float(o), 20.0))
            rows.append((f"c{i:02d}", s, ts.strftime("%Y-%m-%d %H:%M:%S")))
    df = pd.DataFrame(rows, columns=["customer", "touchpoint", "time"])
    df.to_csv(path, index=False)
    return df


def test_twenty_day_log_window_and_in_progress_warning(tmp_path):
    raw = _twenty_days(tmp_path / "web.csv")
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest_events(
        tmp_path / "web.csv", mapping={"customer_id": "customer", "touchpoint": "touchpoint", "ts": "time"}
    )
    ws.close()
    df = pd.DataFrame(
        {"customer": raw.customer, "touchpoint": raw.touchpoint, "row": range(len(raw)), "ts": pd.to_datetime(raw.time)}
    )
    span = (df.ts.max() - df.ts.min()).total_seconds()
    assert span == 20 * 86400
    # the workspace's default settings (30d, no goals): every journey ends within 30d of the end
    old = _journeys(df, set(), 30 * 86400, 30 * 86400)
    rows = [r for r in _check_rows(tmp_path / "ws") if r["check"] == "journeys in progress"]
    assert len(rows) == 1 and old.in_progress.sum() == len(old) == 60
    assert rows[0]["message"].startswith(
        f'{old.in_progress.sum():,} of the {len(old):,} journeys ({old.in_progress.mean():.0%}) end "in progress"'
    )
    assert "conversion window 30d" in rows[0]["message"] and "journey.conversion_window" in rows[0]["message"]
    info = _draft_json(tmp_path / "ws")
    assert info["goals_guessed"] == ["Purchase"]
    window = _seconds(info["journey"]["conversion_window"])
    assert window is not None and window <= span / 4 < span
    new = _journeys(df, {"Purchase"}, _seconds(info["journey"]["inactivity_gap"]), window)
    conv = info["conversion"]
    assert (conv["journeys"], conv["converted"], conv["in_progress"]) == (
        len(new),
        new.converted.sum(),
        new.in_progress.sum(),
    )
    assert new.in_progress.sum() <= len(new) / 2
    assert not [
        r
        for r in _check_rows(tmp_path / "ws")
        if r["check"] in ("journeys in progress", "inactivity gap splits customers")
    ]
    # drafting again keeps the (now curated) settings and says what the data suggests
    r = _cli(tmp_path / "ws", "draft", "-o", "-")
    j = info["journey"]
    assert (
        f"Journey settings kept: inactivity_gap {j['inactivity_gap']}, conversion_window {j['conversion_window']}"
    ) in r.stderr and "the data suggests" in r.stderr


@pytest.mark.spark
def test_proposal_and_setting_warnings_on_spark_match_duckdb(tmp_path, spark_con):
    from journeymap.blueprint import default_blueprint
    from journeymap.curation import check_blueprint, propose_journey_settings

    _twenty_days(tmp_path / "web.csv")
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest_events(
        tmp_path / "web.csv", mapping={"customer_id": "customer", "touchpoint": "touchpoint", "ts": "time"}
    )
    ev = ws.events()
    frame = ev.select("customer_id", "ts", "touchpoint", "seq", "event_id").to_pandas()  # no all-null columns
    bp = default_blueprint().model_copy(
        update={"journey": default_blueprint().journey.model_copy(update={"inactivity_gap": dt.timedelta(hours=12)})}
    )
    sp = spark_con.create_table("draft_real_events", frame, overwrite=True)
    assert propose_journey_settings(sp, spark_con) == propose_journey_settings(ev, ws.con)
    want = check_blueprint(bp, ev, con=ws.con).rows
    assert {r[1] for r in want} >= {"journeys in progress", "inactivity gap splits customers"}
    assert check_blueprint(bp, sp, con=spark_con).rows == want
    ws.close()
