"""Orders and the lifecycle after the goal, through the path a user takes (issue 13, items 10 and 11).

- **Orders**: lines of one order (``order_id``, mapped at ingest) are one purchase: converted
  journeys, their value, attribution's conversions and retention's repeat-purchase rate count
  orders, checked against pandas by invoice on a written file and on the UCI Online Retail sample.
- **Lifecycle**: a journey ends at its goal, so the map used to say "0.0% go on" from the goal's
  stage for every workspace; the stage funnel and the map now show, of converted journeys, the
  share whose customer reaches each later stage within the conversion window (hand-counted here).
"""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest
from click.testing import CliRunner

from journeymap import engine
from journeymap.blueprint import Blueprint
from journeymap.cli import main
from journeymap.journeys import build_journeys, journey_table
from journeymap.journeys.retention import retention
from journeymap.journeys.stages import stage_funnel
from journeymap.workspace import Workspace

ORDER_MAP = {
    "customer_id": "customer",
    "ts": "time",
    "touchpoint": "event",
    "order_id": "InvoiceNo",
    "revenue": "amount",
}
SHOP = Blueprint.model_validate(
    {
        "stages": [{"name": "aware"}, {"name": "buy"}],
        "touchpoints": [{"name": "Ad", "stage": "aware", "kind": "paid"}, {"name": "Purchase", "stage": "buy"}],
        "goals": [{"touchpoint": "Purchase"}],
        "journey": {"inactivity_gap": "30d", "conversion_window": "30d"},
    }
)


def _order_lines(path: Path) -> pd.DataFrame:
    """Order lines as a shop exports them: several lines per invoice, some customers with two invoices."""
    rows = [
        # a: one invoice of three lines (same second), after an ad
        ("a", "2024-03-01 09:00:00", "Ad", None, None),
        ("a", "2024-03-01 10:00:00", "Purchase", "1001", 5.0),
        ("a", "2024-03-01 10:00:00", "Purchase", "1001", 7.5),
        ("a", "2024-03-01 10:00:00", "Purchase", "1001", 2.25),
        # b: two invoices of two lines on different days (a repeat buyer), an ad before each
        ("b", "2024-03-02 08:00:00", "Ad", None, None),
        ("b", "2024-03-02 09:00:00", "Purchase", "1002", 10.0),
        ("b", "2024-03-02 09:00:00", "Purchase", "1002", 1.0),
        ("b", "2024-03-09 11:00:00", "Ad", None, None),
        ("b", "2024-03-09 12:00:00", "Purchase", "1010", 3.0),
        ("b", "2024-03-09 12:00:00", "Purchase", "1010", 4.0),
        # c: one invoice of one line, and a line without a price
        ("c", "2024-03-03 09:00:00", "Ad", None, None),
        ("c", "2024-03-03 10:00:00", "Purchase", "1003", 20.0),
        ("c", "2024-03-03 10:00:00", "Purchase", "1003", None),
        # d: two invoices in the same second, one after the other in the file (two purchases)
        ("d", "2024-03-04 09:00:00", "Ad", None, None),
        ("d", "2024-03-04 10:00:00", "Purchase", "1004", 1.5),
        ("d", "2024-03-04 10:00:00", "Purchase", "1004", 1.5),
        ("d", "2024-03-04 10:00:00", "Purchase", "1005", 8.0),
        # e: an ad only
        ("e", "2024-03-05 09:00:00", "Ad", None, None),
    ]
    df = pd.DataFrame(rows, columns=["customer", "time", "event", "InvoiceNo", "amount"])
    df.to_csv(path, index=False)
    return df


def _ingested(tmp_path: Path, bp: Blueprint, csv: Path, mapping: dict, **options) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    ws.save_blueprint(bp)
    ws.ingest_events(csv, mapping=mapping, **options)
    return ws


def _by_invoice(lines: pd.DataFrame) -> pd.DataFrame:
    """The pandas peer: one row per (customer, invoice) with its revenue."""
    return lines.assign(amount=lines.amount.fillna(0.0)).groupby(["customer", "InvoiceNo"], as_index=False).amount.sum()


def test_order_lines_are_one_purchase_each(tmp_path):
    lines = _order_lines(tmp_path / "orders.csv")
    ws = _ingested(tmp_path, SHOP, tmp_path / "orders.csv", ORDER_MAP)
    buys = lines[lines.event == "Purchase"]
    orders = _by_invoice(buys)
    per_customer = orders.groupby("customer").InvoiceNo.nunique()

    r = retention(ws.events(), goals=["Purchase"], con=ws.con)
    assert r.meta["buyers"] == len(per_customer) == 4
    assert r.meta["repeat_buyers"] == int((per_customer >= 2).sum()) == 2  # b and d; by line all four would repeat
    assert r.meta["repeat_purchase_rate"] == pytest.approx((per_customer >= 2).mean())

    jt = engine.execute(journey_table(build_journeys(ws.events(), ws.blueprint)), ws.con)
    conv = jt[jt.converted.fillna(False).astype(bool)]
    assert len(conv) == len(orders)  # one converted journey per order, not per line
    got = sorted(zip(conv.customer_id, conv.conversion_value.round(6), strict=True))
    assert got == sorted(zip(orders.customer, orders.amount.round(6), strict=True))  # the order's lines summed
    assert conv.conversion_value.sum() == pytest.approx(buys.amount.fillna(0).sum())
    # each order's lines are one journey (the ad and the lines), not one-touch journeys per line
    assert sorted(conv.n_touches) == sorted([4, 3, 3, 3, 3, 1])


def test_orders_on_each_engine(tmp_path, con):
    """The ingested order lines in the engine under test: orders, their value and the repeat rate as on DuckDB."""
    lines = _order_lines(tmp_path / "orders.csv")
    ws = _ingested(tmp_path, SHOP, tmp_path / "orders.csv", ORDER_MAP)
    events = ibis.memtable(engine.execute(ws.events(), ws.con), schema=ws.events().schema())
    orders = _by_invoice(lines[lines.event == "Purchase"])
    jt = engine.execute(journey_table(build_journeys(events, SHOP)), con)
    conv = jt[jt.converted.fillna(False).astype(bool)]
    assert sorted(zip(conv.customer_id, conv.conversion_value.round(6), strict=True)) == sorted(
        zip(orders.customer, orders.amount.round(6), strict=True)
    )
    r = retention(events, goals=["Purchase"], con=con)
    assert (r.meta["buyers"], r.meta["repeat_buyers"]) == (4, 2)


def test_without_an_order_id_every_line_is_a_purchase(tmp_path):
    """The same file without the order column: each goal line converts (the old reading, and the control)."""
    lines = _order_lines(tmp_path / "orders.csv")
    lines.drop(columns="InvoiceNo").to_csv(tmp_path / "lines.csv", index=False)  # (InvoiceNo would be guessed)
    ws = _ingested(tmp_path, SHOP, tmp_path / "lines.csv", {k: v for k, v in ORDER_MAP.items() if k != "order_id"})
    assert ws.events().order_id.isnull().all().execute()
    r = retention(ws.events(), goals=["Purchase"], con=ws.con)
    assert r.meta["repeat_buyers"] == 4
    jt = engine.execute(journey_table(build_journeys(ws.events(), ws.blueprint)), ws.con)
    assert int(jt.converted.fillna(False).astype(bool).sum()) == int((lines.event == "Purchase").sum())


def test_attribution_counts_orders_and_their_value(tmp_path):
    from journeymap.attribution import AttributionSettings, attribute

    lines = _order_lines(tmp_path / "orders.csv")
    ws = _ingested(tmp_path, SHOP, tmp_path / "orders.csv", ORDER_MAP)
    buys = lines[lines.event == "Purchase"]
    n_orders = len(_by_invoice(buys))
    j = build_journeys(ws.events(), ws.blueprint)
    for container in ("journey", "customer"):
        res = attribute(
            j, ["last"], blueprint=ws.blueprint, settings=AttributionSettings(container=container), con=ws.con
        )
        d = res.diagnostics
        assert d["conversions"] + d["unattributed_conversions"] == n_orders, container
        credited = {r[1]: r[2] for r in res.credits if r[0] == "last"}
        assert credited == {"Ad": pytest.approx(n_orders - d["unattributed_conversions"])}, container
        if container == "journey":  # every order but d's second (1005, 8.0: no ad in its journey) has its ad
            assert d["unattributed_conversions"] == 1
            assert d["conversion_value"] == pytest.approx(buys.amount.fillna(0).sum() - 8.0)


def test_retention_cli_reports_the_repeat_rate_by_order(tmp_path):
    lines = _order_lines(tmp_path / "orders.csv")
    ws = _ingested(tmp_path, SHOP, tmp_path / "orders.csv", ORDER_MAP)
    ws.close()
    out = CliRunner().invoke(main, ["-w", str(tmp_path / "ws"), "retention", "--format", "json"])
    assert out.exit_code == 0, out.output
    import json

    meta = json.loads(out.output)["meta"]
    per_customer = _by_invoice(lines[lines.event == "Purchase"]).groupby("customer").InvoiceNo.nunique()
    assert meta["repeat_purchase_rate"] == pytest.approx((per_customer >= 2).mean())


UCI = Blueprint.model_validate(
    {
        "stages": [{"name": "buy"}],
        "touchpoints": [
            {"name": "Purchase", "stage": "buy", "match": [{"event_regex": "^[0-9]"}]},
            {"name": "Cancellation", "stage": "buy", "match": [{"event_regex": "^C"}]},
        ],
        "goals": [{"touchpoint": "Purchase"}],
    }
)


def test_uci_online_retail_repeat_purchase_by_invoice(tmp_path, shared_data):
    """UCI Online Retail (28,492 lines): 20.7% of buyers buy twice by invoice (96.4% if every line were a purchase)."""
    path = shared_data / "uci_online_retail_sample" / "online_retail_first28492.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the UCI Online Retail sample is part of ../shared/data")
    ws = _ingested(
        tmp_path,
        UCI,
        path,
        {
            "customer_id": "CustomerID",
            "ts": "InvoiceDate",
            "touchpoint": "InvoiceNo",
            "order_id": "InvoiceNo",
            "revenue": "TotalPrice",
        },
        ts_format="%m/%d/%y %H:%M",
    )
    raw = pd.read_csv(path, dtype=str, encoding="latin-1")
    buys = raw[raw.CustomerID.notna() & ~raw.InvoiceNo.str.startswith("C")]
    per_customer = buys.groupby("CustomerID").InvoiceNo.nunique()

    r = retention(ws.events(), goals=["Purchase"], con=ws.con)
    assert r.meta["buyers"] == len(per_customer)
    assert r.meta["repeat_buyers"] == int((per_customer >= 2).sum())
    assert r.meta["repeat_purchase_rate"] == pytest.approx((per_customer >= 2).mean())
    assert r.meta["repeat_purchase_rate"] < 0.25  # not the 96% of lines

    jt = engine.execute(journey_table(build_journeys(ws.events(), ws.blueprint)), ws.con)
    conv = jt[jt.converted.fillna(False).astype(bool)]
    invoices = buys.assign(v=buys.TotalPrice.astype(float)).groupby(["CustomerID", "InvoiceNo"]).v.sum()
    assert len(conv) == len(invoices)
    assert conv.conversion_value.sum() == pytest.approx(invoices.sum())
    assert sorted(conv.conversion_value.round(4)) == pytest.approx(sorted(invoices.round(4)))


# -- lifecycle after the goal ----------------------------------------------------------------------
LIFE = Blueprint.model_validate(
    {
        "stages": [{"name": "aware"}, {"name": "purchase"}, {"name": "retention"}, {"name": "advocacy"}],
        "touchpoints": [
            {"name": "Ad", "stage": "aware", "channel": "paid"},
            {"name": "Purchase", "stage": "purchase", "channel": "web"},
            {"name": "Delivery", "stage": "retention", "channel": "web"},
            {"name": "Review", "stage": "advocacy", "channel": "web"},
        ],
        "goals": [{"touchpoint": "Purchase"}],
        "journey": {"inactivity_gap": "30d", "conversion_window": "10d"},
    }
)
LIFE_ROWS = [  # (customer, day, touchpoint), in file order
    ("c1", 0, "Ad"),
    ("c1", 1, "Purchase"),
    ("c1", 3, "Delivery"),
    ("c1", 30, "Review"),  # review 29 days later: out
    ("c2", 0, "Purchase"),
    ("c2", 15, "Delivery"),  # delivery after 15 days: out
    ("c3", 0, "Ad"),
    ("c3", 2, "Purchase"),
    ("c3", 2, "Delivery"),  # same second, after the purchase in the file: in
    ("c3", 5, "Purchase"),
    ("c3", 6, "Review"),  # review 4 days after the first purchase, 1 after the second
    ("c4", 0, "Ad"),  # no purchase
    ("c5", 1, "Delivery"),
    ("c5", 4, "Purchase"),  # retention before the purchase: not after it
    ("c6", 0, "Purchase"),
    ("c6", 3, "Review"),
]
# hand count: conversions c1, c2, c3 (day 2), c3 (day 5), c5, c6 = 6; reaching retention after converting within
# 10 days: c1, c3 (day 2) = 2; advocacy: c3 (day 2), c3 (day 5), c6 = 3
LIFE_CONVERTERS, LIFE_RETENTION, LIFE_ADVOCACY = 6, 2, 3


def _life_ws(tmp_path: Path) -> Workspace:
    pd.DataFrame(
        [{"customer_id": c, "ts": f"2025-01-{d + 1:02d} 10:00:00", "touchpoint": t} for c, d, t in LIFE_ROWS]
    ).to_csv(tmp_path / "life.csv", index=False)
    return _ingested(tmp_path, LIFE, tmp_path / "life.csv", {})


def test_stage_funnel_counts_converters_reaching_later_stages(tmp_path, con):
    ws = _life_ws(tmp_path)
    # the ingested events in the engine under test (ingest itself runs on DuckDB)
    events = ibis.memtable(engine.execute(ws.events(), ws.con), schema=ws.events().schema())
    rows = {r["stage"]: r for r in stage_funnel(build_journeys(events, LIFE), LIFE, con=con).records()}
    assert [rows[s]["after_goal"] for s in ("aware", "purchase", "retention", "advocacy")] == [
        None,
        None,
        LIFE_RETENTION,
        LIFE_ADVOCACY,
    ]
    assert rows["retention"]["converters"] == rows["advocacy"]["converters"] == LIFE_CONVERTERS
    assert rows["retention"]["after_goal_rate"] == pytest.approx(LIFE_RETENTION / LIFE_CONVERTERS)
    assert rows["advocacy"]["after_low"] < LIFE_ADVOCACY / LIFE_CONVERTERS < rows["advocacy"]["after_high"]
    # within the journey a purchase is never followed by retention: the reason for the figure above
    assert rows["purchase"]["to_next"] == 0


def test_map_shows_what_converters_do_next(tmp_path):
    from journeymap.maps import build_map
    from journeymap.report.markdown import render_markdown

    ws = _life_ws(tmp_path)
    doc = build_map(ws, themes=False)
    stages = {s.name: s for s in doc.stages}
    assert (stages["retention"].after_goal.k, stages["retention"].after_goal.n) == (LIFE_RETENTION, LIFE_CONVERTERS)
    assert (stages["advocacy"].after_goal.k, stages["advocacy"].after_goal.n) == (LIFE_ADVOCACY, LIFE_CONVERTERS)
    assert stages["aware"].after_goal is None and stages["purchase"].after_goal is None
    assert stages["purchase"].conversion_to_next is None  # not "0.0% go on": journeys end at the goal
    assert stages["aware"].conversion_to_next is not None
    sentences = " ".join(doc.summary.sentences)
    assert (
        f"After converting, {LIFE_RETENTION / LIFE_CONVERTERS:.1%} go on to retention and "
        f"{LIFE_ADVOCACY / LIFE_CONVERTERS:.1%} to advocacy within 10 days"
    ) in sentences
    data = doc.model_dump(mode="json")
    assert [s.get("after_goal") and s["after_goal"]["k"] for s in data["stages"]] == [
        None,
        None,
        LIFE_RETENTION,
        LIFE_ADVOCACY,
    ]
    md = render_markdown(doc)
    purchase_row = next(line for line in md.splitlines() if line.startswith("| purchase |"))
    assert "0.0%" not in purchase_row.split("|")[3]  # the "Go on to next stage" cell
    assert "Reached after converting" in md
