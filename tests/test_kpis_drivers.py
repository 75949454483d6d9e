"""Key drivers: LMG (Shapley R^2) and Johnson's weights, checked by hand and on the passenger survey."""

from __future__ import annotations

import ibis
import numpy as np
import pytest

from journeymap.errors import InputError
from journeymap.voice.drivers import key_drivers, r2_of_subset, relative_weights, shapley_r2

RATINGS = [
    "Inflight wifi service",
    "Departure/Arrival time convenient",
    "Ease of Online booking",
    "Gate location",
    "Food and drink",
    "Online boarding",
    "Seat comfort",
    "Inflight entertainment",
    "On-board service",
    "Leg room service",
    "Baggage handling",
    "Checkin service",
    "Inflight service",
    "Cleanliness",
]


def test_shapley_two_predictors_by_hand():
    # two correlated predictors: LMG = average of the R^2 gains in both orders
    R = np.array([[1.0, 0.5], [0.5, 1.0]])
    r = np.array([0.6, 0.4])
    full = r2_of_subset(R, r, [0, 1])
    assert full == pytest.approx((0.36 + 0.16 - 2 * 0.5 * 0.6 * 0.4) / (1 - 0.25))
    sh = shapley_r2(R, r)
    assert sh[0] == pytest.approx(0.5 * 0.36 + 0.5 * (full - 0.16))
    assert sh.sum() == pytest.approx(full)
    assert relative_weights(R, r).sum() == pytest.approx(full)


def test_key_drivers_matches_numpy_regression():
    rng = np.random.default_rng(3)
    a, b, c = rng.normal(size=(3, 400))
    b = b + 0.5 * a
    y = 2 * a + b + 0.2 * c + rng.normal(size=400)
    r = key_drivers(
        ibis.memtable({"a": a, "b": b, "c": c, "y": y, "d": np.where(a > 0, "yes", "no")}), "y", ["a", "b", "c"]
    )
    X = np.column_stack([np.ones(400), a, b, c])
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    assert r.meta["r2"] == pytest.approx(1 - resid.var() / y.var(), abs=1e-9)
    assert sum(x["shapley"] for x in r.records()) == pytest.approx(r.meta["r2"])
    assert [x["driver"] for x in r.records()][0] == "a"
    assert r.records()[0]["correlation"] == pytest.approx(np.corrcoef(a, y)[0, 1])
    with pytest.raises(InputError, match="at least 2 ratings"):
        key_drivers(ibis.memtable({"a": a, "y": y}), "y", ["a"])
    with pytest.raises(InputError, match="'zz'"):
        key_drivers(ibis.memtable({"a": a, "y": y}), "y", ["a", "zz"])


@pytest.mark.slow
def test_passenger_survey_top_drivers_agree_with_permutation_importance(shared_data):
    import pandas as pd
    from sklearn.inspection import permutation_importance
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv(shared_data / "airline_passenger_satisfaction" / "test.csv")
    r = key_drivers(ibis.memtable(df), "satisfaction", RATINGS, positive="satisfied", missing_values=[0])
    ours = [x["driver"] for x in r.records()]
    assert ours[0] == "Online boarding"
    assert r.meta["n"] == len(df[RATINGS].replace(0, np.nan).dropna())
    # a second method: permutation importance of a logistic regression on the same complete rows
    d = df[RATINGS + ["satisfaction"]].replace({c: {0: np.nan} for c in RATINGS}).dropna()
    X = StandardScaler().fit_transform(d[RATINGS])
    y = (d.satisfaction == "satisfied").astype(int)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    pi = permutation_importance(model, X, y, n_repeats=3, random_state=0, scoring="roc_auc")
    theirs = [RATINGS[i] for i in np.argsort(-pi.importances_mean)]
    assert ours[:2] == theirs[:2]  # Online boarding, Inflight wifi service
    assert len(set(ours[:5]) & set(theirs[:5])) >= 4
