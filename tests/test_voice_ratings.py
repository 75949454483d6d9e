"""The default sentiment learns from the workspace's own ratings (issue 15, items 1 and 3).

Every test goes the user's way: a feedback CSV written to disk, ``Workspace.ingest_feedback``,
then ``journeymap voice sentiment --format json`` (or ``journeymap label``), and the stored
``feedback_scores`` read back.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import f1_score

from journeymap import engine
from journeymap.cli import main
from journeymap.voice.sentiment import LexiconSentiment, heldout
from journeymap.workspace import Workspace

EN = {
    "positive": [
        "Great {thing}, arrived early and works perfectly.",
        "Love the {thing}, excellent quality.",
        "Fantastic service, the {thing} is exactly as described.",
        "Very happy with my {thing}, highly recommend.",
        "Superb {thing}, fast delivery and friendly support.",
        "Brilliant value, the {thing} exceeded expectations.",
    ],
    "neutral": [
        "The {thing} is okay, nothing special.",
        "Average {thing}, does the job I suppose.",
        "It is fine. The {thing} came in a box.",
        "The {thing} is as expected, standard.",
        "Does anyone know if the {thing} comes in blue?",
        "Please send the invoice for the {thing}.",
    ],
    "negative": [
        "The {thing} broke after two days, terrible.",
        "Awful {thing}, still waiting for my refund.",
        "Worst purchase ever, the {thing} arrived damaged.",
        "Very disappointed, the {thing} never arrived.",
        "Useless {thing}, support never answered my emails.",
        "Poor quality {thing}, returned it immediately.",
    ],
}
PT = {
    "positive": [
        "Ótimo {thing}, chegou antes do prazo.",
        "Adorei o {thing}, excelente qualidade.",
        "Muito bom, recomendo o {thing}.",
        "Perfeito, o {thing} é lindo e bem embalado.",
        "Entrega rápida, {thing} maravilhoso.",
        "Gostei muito do {thing}, voltarei a comprar.",
    ],
    "neutral": [
        "O {thing} é razoável, nada demais.",
        "Normal, o {thing} cumpre o que promete.",
        "O {thing} é mediano, esperava um pouco mais.",
        "Chegou o {thing}, ainda não usei.",
        "O {thing} vem com nota fiscal?",
        "Produto {thing} regular.",
    ],
    "negative": [
        "Não recebi o {thing} até agora, péssimo.",
        "O {thing} veio quebrado, horrível.",
        "Péssima qualidade, o {thing} não funciona.",
        "Ainda aguardo o {thing}, nenhuma resposta.",
        "Produto {thing} com defeito, quero devolver.",
        "Não recomendo, o {thing} é uma porcaria.",
    ],
}
THINGS_EN = ["lamp", "kettle", "jacket", "phone case", "desk", "blender", "backpack", "mirror"]
THINGS_PT = ["relógio", "livro", "cabo", "tapete", "ventilador", "travesseiro", "caderno", "copo"]
STARS = {"positive": (4, 5), "neutral": (3,), "negative": (1, 2)}
PRAISE_AND_COMPLAINT = "The staff were lovely and helpful, but the room was dirty and noisy."


def _reviews(rng, phrases, things, n, *, rated=True):
    rows = []
    classes = list(phrases)
    for _ in range(n):
        cls = classes[rng.integers(0, 3)]
        text = phrases[cls][rng.integers(0, len(phrases[cls]))].format(thing=things[rng.integers(0, len(things))])
        if rng.random() < 0.5:  # a second sentence of the same class, for variety
            text += " " + phrases[cls][rng.integers(0, len(phrases[cls]))].format(
                thing=things[rng.integers(0, len(things))]
            )
        stars = STARS[cls][rng.integers(0, len(STARS[cls]))]
        rows.append((cls, text, stars if rated else None))
    return rows


def _write(path, rows, start=0):
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["feedback_id", "ts", "text", "rating"])
        for i, (_, text, stars) in enumerate(rows, start):
            w.writerow([f"r{i:05d}", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", text, "" if stars is None else stars])
    return path


def _sentiment(ws_path, *args):
    res = CliRunner().invoke(main, ["-w", str(ws_path), "voice", "sentiment", "--no-link", *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _stored(ws_path):
    with Workspace.open(ws_path, read_only=True) as ws:
        fb = ws.feedback().select("feedback_id", "text", "rating")
        s = ws.con.table("feedback_scores")
        s = s.filter(s.backend == "lexicon")
        return engine.execute(fb.left_join(s, fb.feedback_id == s.feedback_id).order_by(fb.feedback_id), ws.con)


@pytest.fixture(scope="module")
def rated(tmp_path_factory):
    """A workspace with 420 rated English reviews, 330 rated Portuguese ones and 60 unrated."""
    tmp = tmp_path_factory.mktemp("rated")
    rng = np.random.default_rng(7)
    rows = (
        _reviews(rng, EN, THINGS_EN, 420)
        + _reviews(rng, PT, THINGS_PT, 330)
        + _reviews(rng, EN, THINGS_EN, 40, rated=False)
        + _reviews(rng, PT, THINGS_PT, 20, rated=False)
    )
    rows.append(("mixed", PRAISE_AND_COMPLAINT, None))
    path = _write(tmp / "reviews.csv", rows)
    ws = Workspace.init(tmp / "ws")
    ws.ingest_feedback(path)
    ws.close()
    out = _sentiment(tmp / "ws")
    return tmp / "ws", rows, out, _stored(tmp / "ws")


def test_ratings_model_scores_every_comment(rated):
    ws_path, rows, out, df = rated
    model = out["meta"]["model"]
    assert model["model"] == "ratings"
    assert model["n_rated"] == 750 and model["min_ratings"] == 300
    assert set(df["scored_by"]) == {"ratings"}  # rated or not, English or Portuguese
    assert df["sentiment"].notna().all()
    unrated = df[df["rating"].isna()]
    assert len(unrated) == 61 and unrated["sentiment_label"].notna().all()
    # the held-out rows are the ones heldout() names, and only rated rows are held out
    rated_rows = df[df["rating"].notna()]
    assert (rated_rows["heldout"].astype(bool).to_numpy() == heldout(rated_rows["feedback_id"].tolist())).all()
    assert not unrated["heldout"].astype(bool).any()
    assert model["n_heldout"] == int(rated_rows["heldout"].astype(bool).sum())
    assert model["n_train"] == len(rated_rows) - model["n_heldout"]


def test_heldout_macro_f1_is_what_the_stored_labels_give(rated):
    ws_path, rows, out, df = rated
    held = df[df["heldout"].astype(bool)]
    truth = np.where(held["rating"] <= 2, "negative", np.where(held["rating"] == 3, "neutral", "positive"))
    pred = held["sentiment_label"].replace({"mixed": "neutral"})
    expected = f1_score(truth, pred, average="macro")
    assert out["meta"]["model"]["heldout_macro_f1"] == pytest.approx(expected, abs=1e-4)
    assert expected > 0.8  # the generated reviews are easy: the model must get them


def test_ratings_model_reads_portuguese(rated):
    ws_path, rows, out, df = rated
    cls = {f"r{i:05d}": c for i, (c, _, _) in enumerate(rows)}
    held = df[df["heldout"].astype(bool)]
    pt = held[held["feedback_id"].str[1:].astype(int).between(420, 749)]  # the rated Portuguese reviews
    assert len(pt) >= 40
    truth = pt["feedback_id"].map(cls)
    # the English lexicon reads next to nothing in Portuguese; the ratings model reads most of it
    lex = LexiconSentiment().classify(pt["text"].tolist())
    assert (pt["sentiment_label"] == truth).mean() > 0.8 > (np.asarray(lex) == truth.to_numpy()).mean()


def test_three_star_reviews_come_out_neutral_more_often_than_with_the_lexicon(rated):
    ws_path, rows, out, df = rated
    three = df[df["rating"] == 3]
    ratings_neutral = (three["sentiment_label"] == "neutral").mean()
    lexicon_neutral = (np.asarray(LexiconSentiment().classify(three["text"].tolist())) == "neutral").mean()
    assert ratings_neutral > lexicon_neutral
    assert ratings_neutral > 0.8


def test_table_output_names_the_model(rated):
    ws_path = rated[0]
    res = CliRunner().invoke(main, ["-w", str(ws_path), "voice", "sentiment", "--no-link"])
    assert res.exit_code == 0, res.output
    assert "ratings model (750 rated comments" in res.output


def test_few_ratings_keep_the_lexicon_and_more_switch_every_row(tmp_path):
    rng = np.random.default_rng(11)
    first = _reviews(rng, EN, THINGS_EN, 200) + [("mixed", PRAISE_AND_COMPLAINT, None)]
    ws = Workspace.init(tmp_path / "ws")
    ws.ingest_feedback(_write(tmp_path / "a.csv", first))
    ws.close()
    out = _sentiment(tmp_path / "ws")
    assert out["meta"]["model"]["model"] == "lexicon" and out["meta"]["model"]["n_rated"] == 200
    df = _stored(tmp_path / "ws")
    assert set(df["scored_by"]) == {"lexicon"} and df["heldout"].isna().all()
    lex = LexiconSentiment()
    assert df["sentiment"].to_numpy() == pytest.approx(lex.score(df["text"].tolist()))
    # praise and complaint in one comment: mixed
    assert df.loc[df["text"] == PRAISE_AND_COMPLAINT, "sentiment_label"].tolist() == ["mixed"]
    assert "mixed_pct" in out["columns"]
    mixed_pct = out["rows"][0][out["columns"].index("mixed_pct")]
    assert mixed_pct == pytest.approx(100 * (df["sentiment_label"] == "mixed").mean())

    # 150 more rated comments: 350 >= 300, so the ratings model scores all 351 rows, old ones too
    more = _reviews(rng, EN, THINGS_EN, 150)
    ws = Workspace.open(tmp_path / "ws")
    ws.ingest_feedback(_write(tmp_path / "b.csv", more, start=len(first)))
    ws.close()
    out = _sentiment(tmp_path / "ws")
    assert out["meta"]["model"]["model"] == "ratings" and out["meta"]["model"]["n_rated"] == 350
    df = _stored(tmp_path / "ws")
    assert len(df) == 351 and set(df["scored_by"]) == {"ratings"}


def test_labels_refine_the_ratings_model(rated, tmp_path):
    import shutil

    ws_path = tmp_path / "ws"
    shutil.copytree(rated[0], ws_path)
    df = _stored(ws_path)
    target = df[df["rating"].isna()].iloc[0]
    res = CliRunner().invoke(main, ["-w", str(ws_path), "label", target["feedback_id"], "--as", "negative"])
    assert res.exit_code == 0, res.output
    out = _sentiment(ws_path, "--rescore")
    assert out["meta"]["model"]["model"] == "ratings" and out["meta"]["model"]["n_labels"] == 1
    assert out["meta"]["model"]["n_train"] == rated[2]["meta"]["model"]["n_train"] + 1
    after = _stored(ws_path)
    assert set(after["scored_by"]) == {"ratings"}
    # the labelled text now leans further to negative than before
    before_s = df.loc[df.feedback_id == target.feedback_id, "sentiment"].item()
    after_s = after.loc[after.feedback_id == target.feedback_id, "sentiment"].item()
    assert after_s < before_s


def test_opting_out_keeps_the_lexicon(rated, tmp_path):
    import shutil

    from journeymap.voice.scoring import score_feedback

    ws_path = tmp_path / "ws"
    shutil.copytree(rated[0], ws_path)
    with Workspace.open(ws_path) as ws:
        res = score_feedback(ws.con, workspace=ws, rescore=True, ratings=False)
        assert res.meta["model"]["model"] == "lexicon"
    df = _stored(ws_path)
    assert set(df["scored_by"].dropna()) == {"lexicon"} and df["heldout"].isna().all()
    # the English lexicon is not applied to Portuguese: those rows stay unscored (item 2)
    assert df["scored_by"].isna().sum() >= 300


def test_char_ngrams_are_sklearns():
    """The ratings model's fast character n-grams give exactly sklearn's TfidfVectorizer(char_wb)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from journeymap.voice.sentiment import _CharNgrams

    rng = np.random.default_rng(3)
    train = [t for _, t, _ in _reviews(rng, EN, THINGS_EN, 200) + _reviews(rng, PT, THINGS_PT, 200)]
    test = [t for _, t, _ in _reviews(rng, PT, THINGS_PT, 50) + _reviews(rng, EN, THINGS_EN, 50)]
    test += ["  Tabs\tand  DOUBLE  spaces\n here ", "a I x", "", "emoji 😡😡 and ÇÃO", "Ótimo!!! 10/10 :)"]
    ours = _CharNgrams((2, 5), 2, 300_000)
    ours.fit_transform(train)
    peer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, max_features=300_000, dtype=np.float32
    ).fit(train)
    assert ours.vocabulary_ == peer.vocabulary_
    a, b = ours.transform(test), peer.transform(test)
    assert a.shape == b.shape and abs(a - b).max() < 1e-6
