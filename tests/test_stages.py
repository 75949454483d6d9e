"""The stage funnel on a hand-computed case, and its reconciliation with two-step funnels over stages."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pytest

from journeymap.blueprint import Blueprint
from journeymap.errors import InputError
from journeymap.journeys import build_journeys
from journeymap.journeys.funnels import funnel
from journeymap.journeys.stages import stage_funnel

D = datetime(2024, 3, 1)
BP = Blueprint.model_validate(
    {
        "stages": [{"name": "aware"}, {"name": "consider"}, {"name": "buy"}],
        "touchpoints": [
            {"name": "Ad", "stage": "aware"},
            {"name": "Site", "stage": "consider"},
            {"name": "Shop", "stage": "buy"},
            {"name": "Mail"},
        ],
        "goals": [{"touchpoint": "Shop"}],
        "journey": {"inactivity_gap": "30d", "conversion_window": "7d"},
    }
)
ROWS = [
    ("a", 0, "Ad"),
    ("a", 1, "Site"),
    ("a", 2, "Shop"),  # converted through every stage
    ("b", 0, "Ad"),
    ("b", 1, "Site"),  # dropped in consider
    ("c", 0, "Site"),
    ("c", 1, "Ad"),
    ("c", 2, "Mail"),  # consider before aware; ends on an unstaged touch
    ("d", 38, "Ad"),  # in progress
    ("e", 0, "Ad"),
    ("e", 1, "Shop"),  # converted, skipping consider
    ("f", 40, "Ad"),  # in progress (the data's end)
]


def journeys():
    ev = ibis.memtable(
        {
            "customer_id": [r[0] for r in ROWS],
            "ts": [D + timedelta(days=r[1]) for r in ROWS],
            "touchpoint": [r[2] for r in ROWS],
            "event_id": [str(i) for i in range(len(ROWS))],
        }
    )
    return build_journeys(ev, BP)


def test_stage_funnel_hand_computed(con):
    r = stage_funnel(journeys(), BP, con=con)
    got = {row["stage"]: row for row in r.records()}
    assert [row["stage"] for row in r.records()] == ["aware", "consider", "buy"]
    assert [got[s]["journeys"] for s in ("aware", "consider", "buy")] == [6, 3, 2]
    assert [got[s]["reached_or_beyond"] for s in ("aware", "consider", "buy")] == [6, 4, 2]
    assert [got[s]["to_next"] for s in ("aware", "consider", "buy")] == [2, 1, None]
    assert got["aware"]["rate_to_next"] == pytest.approx(2 / 6)
    assert (got["aware"]["converted"], got["aware"]["in_progress"], got["aware"]["dropped"]) == (2, 2, 2)
    assert (got["consider"]["converted"], got["consider"]["in_progress"], got["consider"]["dropped"]) == (1, 0, 2)
    assert got["buy"]["conversion_rate"] == 1.0
    assert got["consider"]["share_of_journeys"] == pytest.approx(0.5)
    assert [got[s]["ended_dropped"] for s in ("aware", "consider", "buy")] == [0, 1, 0]  # c ends on Mail
    assert [got[s]["ended_in_progress"] for s in ("aware", "consider", "buy")] == [2, 0, 0]


def test_to_next_equals_a_two_step_funnel_over_journeys():
    j = journeys()
    r = stage_funnel(j, BP)
    stages = BP.stage_names()
    for row, (a, b) in zip(r.records(), zip(stages, stages[1:], strict=False), strict=False):
        f = funnel(j, [f"stage:{a}", f"stage:{b}"], unit="journey", window=None)
        reached = [rec["reached"] for rec in f.records()]
        assert reached[0] == row["journeys"]
        assert (reached[1] if len(reached) > 1 else 0) == row["to_next"]


def test_breakdown_by_a_journeys_column():
    j = journeys()
    j = j.mutate(dimension=ibis.ifelse(j.customer_id.isin(["a", "b"]), "x", "y"))
    r = stage_funnel(j, BP, by="dimension")
    x = [row for row in r.records() if row["dimension"] == "x"]
    assert [row["journeys"] for row in x] == [2, 2, 1]
    assert [row["to_next"] for row in x] == [2, 1, None]


def test_no_stages_is_a_clear_error():
    with pytest.raises(InputError, match="no stages"):
        stage_funnel(journeys(), stages=[])
