"""Funnels: every mode of SEMANTICS.md "Funnels" on small hand-computed cases.

The first cases run on DuckDB and Spark (``con``); the rest on DuckDB only, to
keep the Spark share of the suite small.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pytest

from journeymap.errors import InputError
from journeymap.journeys.funnel_steps import Exclusion, Step
from journeymap.journeys.funnels import FunnelResult, funnel, funnel_customers, funnel_entries
from journeymap.results import Result

D = datetime(2024, 3, 1)
END = D + timedelta(days=30)


def day(n: float) -> datetime:
    return D + timedelta(days=n)


def events(rows):
    """rows: (customer, day, touchpoint[, channel[, properties]])"""
    data = {
        "customer_id": [r[0] for r in rows],
        "ts": [day(r[1]) for r in rows],
        "touchpoint": [r[2] for r in rows],
        "channel": [r[3] if len(r) > 3 else "web" for r in rows],
        "properties": [r[4] if len(r) > 4 else "{}" for r in rows],
        "event_id": [f"{r[0]}{i:03d}" for i, r in enumerate(rows)],
    }
    return ibis.memtable(data)


def col(result: FunnelResult, name: str, dim: str | None = None):
    recs = result.records()
    if dim is not None:
        recs = [r for r in recs if r["dimension"] == dim]
    return [r[name] for r in recs]


STEPS = ["Home", "Cart", "Buy"]
ORDERED = events(
    [
        ("a", 0, "Home"),
        ("a", 1, "Cart"),
        ("a", 2, "Buy"),  # converts
        ("b", 0, "Home"),
        ("b", 1, "Cart"),  # drops after Cart
        ("c", 0, "Home"),
        ("c", 1, "Buy"),
        ("c", 2, "Cart"),  # Buy before Cart: drops after Cart
        ("d", 25, "Home"),  # window still open at day 30
        ("e", 0, "Home"),
        ("e", 1, "Cart"),
        ("e", 20, "Buy"),  # Buy outside the 14-day window
        ("f", 0, "Cart"),
        ("f", 1, "Home"),  # Cart before Home does not count
    ]
)


def test_ordered_window_and_in_progress(con):
    r = funnel(ORDERED, STEPS, end=END, con=con)
    assert col(r, "reached") == [6, 4, 1]
    assert col(r, "rate_overall") == pytest.approx([1, 4 / 6, 1 / 6])
    assert col(r, "rate_from_previous")[1:] == pytest.approx([4 / 6, 1 / 4])
    assert col(r, "dropped") == [1, 3, 0]  # f after Home; b, c, e after Cart
    assert col(r, "in_progress") == [1, 0, 0]  # d: entered day 25, window open until day 39
    assert col(r, "median_time_s")[1] == pytest.approx(86400)  # 1, 1, 2, 1 days
    assert col(r, "p90_time_s")[1] == pytest.approx(86400 + 0.7 * 86400)
    assert r.meta["converted"] == 1 and r.meta["in_progress"] == 1 and r.meta["dropped"] == 4
    assert r.meta["window"] == 14 * 86400


def test_no_window_lets_late_steps_count():
    r = funnel(ORDERED, STEPS, window=None, end=END)
    assert col(r, "reached") == [6, 4, 2]  # e's Buy on day 20 now counts
    assert col(r, "in_progress") == [0, 0, 0]  # without a window nothing is in progress


def test_wilson_interval_on_rates():
    r = funnel(ORDERED, STEPS, end=END)
    row = r.records()[2]
    # Wilson 95% for 1/6, computed by hand
    z = 1.959963984540054
    n, p = 6, 1 / 6
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    assert row["overall_low"] == pytest.approx(centre - half)
    assert row["overall_high"] == pytest.approx(centre + half)


def test_customers_behind_steps_and_drop_offs():
    assert funnel_customers(ORDERED, STEPS, step=2, outcome="dropped", end=END) == ["b", "c", "e"]
    assert funnel_customers(ORDERED, STEPS, step="Home", outcome="in_progress", end=END) == ["d"]
    assert funnel_customers(ORDERED, STEPS, step=3, end=END) == ["a"]
    assert funnel_customers(ORDERED, STEPS, step=1, outcome="converted", end=END) == ["a"]


def test_strict_order_needs_the_very_next_event():
    ev = events(
        [
            ("a", 0, "Home"),
            ("a", 1, "Cart"),
            ("a", 2, "Buy"),
            ("b", 0, "Home"),
            ("b", 1, "Ad"),
            ("b", 2, "Cart"),
            ("b", 3, "Buy"),
            ("c", 0, "Home"),
            ("c", 1, "Home"),
            ("c", 2, "Cart"),  # entry is the first Home
        ]
    )
    assert col(funnel(ev, STEPS, order="strict", window=None), "reached") == [3, 1, 1]
    assert col(funnel(ev, STEPS, order="ordered", window=None), "reached") == [3, 3, 2]


def test_any_order():
    ev = events(
        [
            ("a", 0, "Buy"),
            ("a", 1, "Home"),
            ("a", 2, "Cart"),
            ("b", 0, "Cart"),
            ("b", 1, "Home"),
            ("c", 0, "Home"),
            ("c", 20, "Buy"),  # Buy is outside the window
        ]
    )
    r = funnel(ev, STEPS, order="any", end=END)
    assert col(r, "reached") == [3, 2, 1]
    assert col(r, "median_time_from_entry_s")[2] == pytest.approx(2 * 86400)


def test_same_step_twice_must_happen_twice():
    ev = events([("a", 0, "Home"), ("a", 1, "Buy"), ("b", 0, "Home"), ("b", 1, "Home"), ("b", 2, "Buy")])
    assert col(funnel(ev, ["Home", "Home", "Buy"], window=None), "reached") == [2, 1, 1]
    # in any order, step n counts customers who did n of the steps: a did Home and Buy, not two Homes
    assert col(funnel(ev, ["Home", "Home", "Buy"], order="any", window=None), "reached") == [2, 2, 1]


EXCL = events(
    [
        ("a", 0, "Home"),
        ("a", 1, "Support"),
        ("a", 2, "Cart"),
        ("a", 3, "Buy"),
        ("b", 0, "Home"),
        ("b", 1, "Cart"),
        ("b", 2, "Buy"),
        ("b", 3, "Support"),
        ("c", 0, "Home"),
        ("c", 1, "Cart"),
        ("c", 2, "Support"),
        ("d", 0, "Support"),
        ("d", 1, "Home"),
        ("d", 2, "Cart"),
    ]
)


def test_exclusion_remove_takes_customers_out():
    r = funnel(EXCL, STEPS, exclude=["Support"], end=END)
    assert col(r, "reached") == [2, 2, 1]  # a and c removed; b (after converting) and d (before) stay
    r = funnel(EXCL, STEPS, exclude=[Exclusion(Step("Support"), after=2, before=3)], end=END)
    assert col(r, "reached") == [3, 3, 2]  # only c has Support between Cart and (the window's end)


def test_exclusion_stop_counts_up_to_the_event():
    r = funnel(EXCL, STEPS, exclude=["Support:stop"], end=END)
    assert col(r, "reached") == [4, 3, 1]  # a stops at Home; c reached Cart before Support
    r = funnel(EXCL, STEPS, order="any", exclude=["Support:stop"], end=END)
    assert col(r, "reached") == [4, 3, 1]


def test_optional_step_counts_only_between_its_neighbours():
    ev = events(
        [
            ("a", 0, "Home"),
            ("a", 1, "Promo"),
            ("a", 2, "Buy"),
            ("b", 0, "Home"),
            ("b", 1, "Buy"),
            ("b", 2, "Promo"),
            ("c", 0, "Home"),
            ("c", 1, "Buy"),
            ("d", 0, "Home"),
            ("d", 1, "Promo"),
        ]
    )
    r = funnel(ev, ["Home", "Promo", "Buy"], optional=["Promo"], end=END)
    assert col(r, "reached") == [4, 2, 3]
    assert col(r, "optional") == [False, True, False]
    assert col(r, "rate_from_previous")[1:] == pytest.approx([2 / 4, 3 / 4])  # both against Home


def test_open_funnel_enters_at_any_step():
    ev = events(
        [
            ("a", 0, "Cart"),
            ("a", 1, "Buy"),
            ("b", 0, "Home"),
            ("b", 1, "Cart"),
            ("c", 0, "Buy"),
        ]
    )
    r = funnel(ev, STEPS, open=True, end=END)
    assert col(r, "reached") == [1, 2, 2]
    assert col(r, "entered_here") == [1, 1, 1]
    assert col(r, "rate_overall") == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert col(funnel(ev, STEPS, end=END), "reached") == [1, 1, 0]  # closed: only b enters (Buy listed, 0)


TOTALS = events(
    [
        ("a", 0, "Home"),
        ("a", 0.5, "Buy"),
        ("a", 1, "Home"),
        ("a", 1.2, "Home"),
        ("a", 1.5, "Buy"),
        ("a", 5, "Home"),
        ("b", 0, "Home"),
        ("b", 0.5, "Home"),
        ("b", 2, "Home"),
    ]
)


def test_totals_re_enter_after_converting_or_timing_out(con):
    r = funnel(TOTALS, ["Home", "Buy"], window="1d", totals=True, max_entries=3, end=END, con=con)
    # a: Home0->Buy0.5, Home1->Buy1.5, Home5 (dropped); b: Home0 (times out at day 1), Home2
    assert col(r, "reached") == [5, 2]
    assert col(r, "customers") == [2, 1]
    assert r.meta["entries_capped"] == 0
    u = funnel(TOTALS, ["Home", "Buy"], window="1d", end=END, con=con)
    assert col(u, "reached") == [2, 1]


def test_totals_cap_is_reported():
    r = funnel(TOTALS, ["Home", "Buy"], window="1d", totals=True, max_entries=2, end=END)
    assert col(r, "reached") == [4, 2]
    assert r.meta["entries_capped"] == 1  # a had a third entry


def test_entries_table_lists_each_entry():
    e = funnel_entries(TOTALS, ["Home", "Buy"], window="1d", totals=True, max_entries=3, end=END).execute()
    e = e.sort_values(["customer_id", "entry_no"])
    assert e.entry_no.tolist() == [1, 2, 3, 1, 2]
    assert e.status.tolist() == ["converted", "converted", "dropped", "dropped", "dropped"]


def test_per_step_time_limit():
    ev = events(
        [
            ("a", 0, "Home"),
            ("a", 2 / 24, "Cart"),
            ("a", 3 / 24, "Buy"),
            ("b", 0, "Home"),
            ("b", 0.5 / 24, "Cart"),
            ("b", 10 / 24, "Buy"),
        ]
    )
    assert col(funnel(ev, STEPS, step_limits={2: "1h"}, end=END), "reached") == [2, 1, 1]
    assert col(funnel(ev, STEPS, end=END), "reached") == [2, 2, 2]


BREAK = events(
    [
        ("a", 0, "Home", "web"),
        ("a", 1, "Cart", "app"),
        ("a", 2, "Buy", "app"),
        ("b", 0, "Home", "app"),
        ("b", 1, "Cart", "web"),
    ]
)


@pytest.mark.parametrize(
    ("by_step", "expected"),
    [
        ("first", {"web": [1, 1, 1], "app": [1, 1, 0]}),
        ("last", {"app": [1, 1, 1], "web": [1, 1, 0]}),
        (3, {"app": [1, 1, 1], "(not reached)": [1, 1, 0]}),
    ],
)
def test_breakdown_value_from_first_last_or_chosen_step(by_step, expected):
    r = funnel(BREAK, STEPS, by="channel", by_step=by_step, end=END)
    assert r.columns[0] == "dimension"
    for dim, reached in expected.items():
        assert col(r, "reached", dim) == reached


def test_steps_filter_on_columns_and_properties():
    ev = events(
        [
            ("a", 0, "Home", "web"),
            ("a", 1, "Checkout", "app", '{"plan": "gold"}'),
            ("b", 0, "Home", "web"),
            ("b", 1, "Checkout", "web", '{"plan": "gold"}'),
            ("c", 0, "Home", "app"),
            ("c", 1, "Checkout", "app", '{"plan": "silver"}'),
        ]
    )
    app = funnel(ev, ["Home", {"touchpoint": "Checkout", "where": {"channel": "app"}}], end=END)
    assert col(app, "reached") == [3, 2]
    gold = funnel(ev, ["Home", "Checkout[plan=gold]"], end=END)
    assert col(gold, "reached") == [3, 2]
    assert col(gold, "name") == ["Home", "Checkout[plan=gold]"]
    both = funnel(ev, ["[channel=app]", "Checkout[plan=silver,channel=app]"], end=END)
    assert col(both, "reached") == [2, 1]


def test_histogram_counts_time_from_entry():
    r = funnel(ORDERED, STEPS, end=END)
    hist = r.to_frame("histogram")
    step2 = hist[hist.step == 2]
    assert step2.reached.sum() == 4
    row = step2[step2.bin_start_s == 86400].iloc[0]  # 1-3 days: a, b, e (1 day) and c (2 days)
    assert row.reached == 4 and row.bin_end_s == 259200


def test_result_round_trip_and_tables():
    r = funnel(ORDERED, STEPS, end=END)
    assert Result.from_json(r.to_json()) == r
    assert set(r.tables()) == {"funnel", "histogram"}
    assert r.to_csv().splitlines()[0].startswith("step,name,optional,reached,customers,rate_overall")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "sideways"}, "order 'sideways' is not one of"),
        ({"optional": [1]}, "first and last funnel steps cannot be optional"),
        ({"optional": ["Nope"]}, "names step 'Nope'"),
        ({"window": "fortnight"}, "window 'fortnight' is not a duration"),
        ({"exclude": [Exclusion(Step("Support"), after=3, before=2)]}, "between steps 3 and 2"),
        ({"by_step": 7}, "by_step 7 is not a step"),
    ],
)
def test_bad_options_are_clear_errors(kwargs, message):
    with pytest.raises(InputError, match=message):
        funnel(ORDERED, STEPS, **kwargs)


def test_stage_step_needs_a_stage_column():
    with pytest.raises(InputError, match="needs a stage column|names a stage"):
        funnel(ORDERED, ["stage:awareness"])


def test_steps_as_stages_and_lists_of_touchpoints():
    from journeymap.blueprint import Blueprint
    from journeymap.journeys import JourneyRules, build_journeys

    bp = Blueprint.model_validate(
        {
            "stages": [{"name": "aware"}, {"name": "buy"}],
            "touchpoints": [
                {"name": "Ad", "stage": "aware"},
                {"name": "Mail", "stage": "aware"},
                {"name": "Cart", "stage": "buy"},
                {"name": "Buy", "stage": "buy"},
                {"name": "Help"},
            ],
        }
    )
    ev = events(
        [
            ("a", 0, "Mail"),
            ("a", 1, "Cart"),  # aware -> buy
            ("b", 0, "Help"),
            ("b", 1, "Ad"),
            ("b", 2, "Help"),  # aware, never buy
            ("c", 0, "Buy"),
            ("c", 1, "Ad"),  # buy before aware: does not count
            ("d", 0, "Help"),  # never enters
        ]
    )
    j = build_journeys(ev, bp, rules=JourneyRules(inactivity_gap=None, conversion_window=None))
    r = funnel(j, ["stage:aware", "stage:buy"], end=END)
    assert col(r, "reached") == [3, 1]
    assert col(r, "name") == ["stage:aware", "stage:buy"]
    # the same funnel written as lists of touchpoints
    listed = funnel(ev, [Step(touchpoint=["Ad", "Mail"]), Step(touchpoint=["Cart", "Buy"])], end=END)
    assert col(listed, "reached") == [3, 1]
    assert funnel_customers(j, ["stage:aware", "stage:buy"], step=1, outcome="dropped", end=END) == ["b", "c"]
