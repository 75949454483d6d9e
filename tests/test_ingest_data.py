"""Ingest of the real datasets in ../shared/data: every row accounted for, figures checked with pandas."""

from __future__ import annotations

import pandas as pd
import pytest

PM_LOGS = [
    "pm_bpic2012_loan/bpic2012_events.csv.gz",
    "pm_bpic2013_incidents/bpic2013_incidents_events.csv.gz",
    "pm_helpdesk_tickets/helpdesk_events.csv.gz",
    "pm_receipt_permit/receipt_events.csv.gz",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", PM_LOGS)
def test_process_mining_logs(ws, shared_data, name):
    path = shared_data / name
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    r = ws.ingest_events(path)
    s = r.sources[0]
    assert s.mapping["customer_id"] == "case:concept:name" and s.mapping["touchpoint"] == "concept:name"
    assert s.rows_read == len(df)
    assert s.quarantined == 0
    # repeated rows are real events of the log (pm4py keeps them too): every row loads
    assert s.duplicate == 0 and s.loaded == len(df)
    again = ws.ingest_events(path).sources[0]
    assert (again.loaded, again.duplicate) == (0, len(df))
    db = ws.con.con
    assert (
        db.execute("SELECT count(DISTINCT customer_id) FROM events").fetchone()[0] == df["case:concept:name"].nunique()
    )
    got = db.execute("SELECT min(ts), max(ts) FROM events").fetchone()
    times = pd.to_datetime(df["time:timestamp"], utc=True, format="ISO8601").dt.tz_localize(None)
    assert (pd.Timestamp(got[0]), pd.Timestamp(got[1])) == (times.min(), times.max())
    counts = db.execute("SELECT touchpoint, count(*) FROM events GROUP BY 1").fetchall()
    expected = df["concept:name"].value_counts().to_dict()
    assert dict(counts) == expected


def test_rees46_clickstream(ws, shared_data):
    path = shared_data / "rees46_ecommerce_events_sample/2019-Oct-sample.csv"
    r = ws.ingest_events(path)
    assert (r.total.rows_read, r.total.loaded, r.total.quarantined, r.total.duplicate) == (1000, 1000, 0, 0)
    db = ws.con.con
    assert db.execute("SELECT count(DISTINCT customer_id), count(DISTINCT session_id) FROM events").fetchone() == (
        330,
        372,
    )
    assert dict(db.execute("SELECT touchpoint, count(*) FROM events GROUP BY 1").fetchall()) == {
        "view": 987,
        "cart": 3,
        "purchase": 10,
    }
    assert db.execute("SELECT min(ts), max(ts) FROM events").fetchone() == (
        pd.Timestamp("2019-10-01 00:00:00").to_pydatetime(),
        pd.Timestamp("2019-10-01 00:17:26").to_pydatetime(),
    )


def test_airline_tweets_as_feedback(ws, shared_data):
    path = shared_data / "twitter_airline_sentiment/Tweets.csv"
    df = pd.read_csv(path, dtype=str)
    r = ws.ingest_feedback(path, mapping={"ts": "tweet_created", "feedback_id": "tweet_id"}, kind="social")
    s = r.sources[0]
    assert s.rows_read == len(df) == 14640
    assert s.quarantined == 0
    assert s.loaded == df.tweet_id.nunique()
    assert s.duplicate == len(df) - df.tweet_id.nunique()
    db = ws.con.con
    first = db.execute("SELECT ts, kind, text FROM feedback WHERE feedback_id = '570306133677760513'").fetchone()
    assert first == (
        pd.Timestamp("2015-02-24 19:35:52").to_pydatetime(),
        "social",
        "@VirginAmerica What @dhepburn said.",
    )
    assert db.execute("SELECT count(*) FROM feedback WHERE rating IS NOT NULL OR nps IS NOT NULL").fetchone()[0] == 0
    sentiments = db.execute(
        "SELECT json_extract_string(properties, '$.airline_sentiment') s, count(*) FROM feedback GROUP BY 1"
    ).fetchall()
    expected = df.drop_duplicates("tweet_id").airline_sentiment.value_counts().to_dict()
    assert dict(sentiments) == expected
