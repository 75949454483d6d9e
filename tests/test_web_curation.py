"""Curation together and versions, through the user's path: ``journeymap demo``, ``journeymap users add``,
then HTTP (TestClient, and ``journeymap serve`` as a process for the browser test).

Expected values are read independently: blueprint.yaml with ``yaml.safe_load`` and ``hashlib``, the map
from ``GET /api/map``'s JSON, the diff from the ``journeymap diff`` command on files.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from click.testing import CliRunner

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")
from fastapi.testclient import TestClient  # noqa: E402

from journeymap.cli import main  # noqa: E402
from tests.test_web_support import add_user, login, serve_process, users_per_role  # noqa: E402


def _version(ws: Path) -> str:
    return hashlib.sha256((ws / "blueprint.yaml").read_bytes()).hexdigest()[:16]


def _yaml(ws: Path) -> dict:
    return yaml.safe_load((ws / "blueprint.yaml").read_text(encoding="utf-8"))


def _tp(ws: Path, name: str) -> dict | None:
    return next((t for t in _yaml(ws)["touchpoints"] if t["name"] == name), None)


def _url(name: str) -> str:
    return "/api/blueprint/touchpoints/" + quote(name, safe="")


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_copy):
    from journeymap.web.app import create_app

    ws = demo_copy(tmp_path_factory.mktemp("web-curation") / "shop", customers=300)
    users = users_per_role(ws)
    r = add_user(ws, "editor2@example.com", "editor")
    assert r.exit_code == 0, r.output
    users["editor2"] = "editor2@example.com"
    app = create_app(ws)
    with TestClient(app) as warm:  # the first map version, built once for the module
        login(warm, users["viewer"])
        assert warm.get("/api/map").status_code == 200
    return ws, app, users


def _editor(app, email: str) -> tuple[TestClient, dict]:
    c = TestClient(app)
    return c, {"X-CSRF-Token": login(c, email)}


def _free(ws: Path, taken: set[str]) -> dict:
    """A touchpoint no other test of this module edits (each test takes its own)."""
    tp = next(t for t in _yaml(ws)["touchpoints"] if t["name"] not in taken and t.get("stage"))
    taken.add(tp["name"])
    return tp


TAKEN: set[str] = {"Purchase"}  # the goal stays put (the map's conversion needs it)


def test_get_blueprint_gives_every_touchpoint_and_a_version_that_follows_the_file(site):
    ws, app, users = site
    c = TestClient(app)
    login(c, users["viewer"])
    r = c.get("/api/blueprint")
    assert r.status_code == 200
    got = r.json()
    raw = _yaml(ws)
    assert got["version"] == _version(ws)
    assert got["stages"] == [s["name"] for s in raw["stages"]]
    assert got["personas"] == [p["name"] for p in raw["personas"]]
    goals = {g["touchpoint"] for g in raw["goals"]}
    assert [t["name"] for t in got["touchpoints"]] == [t["name"] for t in raw["touchpoints"]]
    for mine, theirs in zip(got["touchpoints"], raw["touchpoints"], strict=True):
        for k in ("stage", "channel", "owner", "kind", "interaction", "description", "keywords"):
            assert mine[k] == theirs[k], (mine["name"], k)
        assert mine["goal"] == (theirs["name"] in goals)
    # a hand edit of blueprint.yaml (as in git) changes the version and what the API says
    tp = _free(ws, TAKEN)
    raw = _yaml(ws)
    next(t for t in raw["touchpoints"] if t["name"] == tp["name"])["description"] = "Edited by hand in git."
    (ws / "blueprint.yaml").write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    again = c.get("/api/blueprint").json()
    assert again["version"] == _version(ws) != got["version"]
    assert next(t for t in again["touchpoints"] if t["name"] == tp["name"])["description"] == "Edited by hand in git."
    # an edit that started before the hand edit, on the field the hand edit changed, is a conflict
    ed, h = _editor(app, users["editor"])
    r = ed.patch(_url(tp["name"]), json={"base_version": got["version"], "changes": {"description": "Mine"}}, headers=h)
    assert r.status_code == 409, r.text
    notes = [x.get("note") for x in r.json()["theirs"]["changed_by"]]
    assert any(n and "outside the app" in n for n in notes), r.json()
    assert _tp(ws, tp["name"])["description"] == "Edited by hand in git."


def test_each_refused_value_is_one_sentence_naming_it_and_leaves_the_file_alone(site):
    ws, app, users = site
    ed, h = _editor(app, users["editor"])
    tp = _free(ws, TAKEN)
    other = next(t["name"] for t in _yaml(ws)["touchpoints"] if t["name"] != tp["name"])
    v = ed.get("/api/blueprint").json()["version"]
    long = "x" * 2001
    cases = [
        ({"stage": "Checkout-ish"}, 400, "Checkout-ish"),
        ({"name": "   "}, 400, "name"),
        ({"name": other}, 400, other),
        ({"personas": ["Nobody we know"]}, 400, "Nobody we know"),
        ({"personas": "Deal seeker"}, 400, "Deal seeker"),
        ({"kind": "borrowed"}, 400, "borrowed"),
        ({"interaction": "telepathic"}, 400, "telepathic"),
        ({"goal": "maybe"}, 400, "maybe"),
        ({"owner": 42}, 400, "42"),
        ({"description": long}, 400, "2001"),
        ({"keywords": ["k"] * 201}, 400, "201"),
        ({"colour": "red"}, 400, "colour"),
        ({}, 400, "changes nothing"),
    ]
    before = (ws / "blueprint.yaml").read_bytes()
    for changes, status, named in cases:
        r = ed.patch(_url(tp["name"]), json={"base_version": v, "changes": changes}, headers=h)
        assert r.status_code == status, (changes, r.text)
        detail = r.json()["detail"]
        assert named in detail and detail.endswith(".") and "Traceback" not in detail, (changes, detail)
        assert detail.count(". ") == 0, detail  # one sentence
    stale = {"base_version": "0" * 16, "changes": {"stage": "Checkout-ish"}}  # a bad value is 400 before any 409
    assert ed.patch(_url(tp["name"]), json=stale, headers=h).status_code == 400
    r = ed.patch(_url("No such touchpoint"), json={"base_version": v, "changes": {"stage": None}}, headers=h)
    assert r.status_code == 404 and "No such touchpoint" in r.json()["detail"]
    r = ed.patch(_url(tp["name"]), json={"changes": {"stage": None}}, headers=h)  # no base version
    assert r.status_code == 422 and "base_version" in r.json()["detail"]
    assert (ws / "blueprint.yaml").read_bytes() == before  # nothing half-written
    assert not list(ws.glob("blueprint.yaml.tmp"))


def test_a_broken_blueprint_yaml_is_one_sentence_and_the_app_writes_nothing(site):
    ws, app, users = site
    ed, h = _editor(app, users["editor"])
    v = ed.get("/api/blueprint").json()["version"]
    path = ws / "blueprint.yaml"
    good = path.read_bytes()
    broken = good.replace(b"touchpoints:\n", b"touchpoints:\n  - name: [unclosed\n", 1)
    path.write_bytes(broken)
    try:
        for r in (
            ed.get("/api/blueprint"),
            ed.patch(_url("Billboard"), json={"base_version": v, "changes": {"owner": "x"}}, headers=h),
        ):
            assert r.status_code == 409, r.text
            detail = r.json()["detail"]
            assert detail.startswith("blueprint.yaml line") and "cannot be read" in detail and detail.endswith("there.")
        assert path.read_bytes() == broken
    finally:
        path.write_bytes(good)


def test_a_good_edit_lands_in_blueprint_yaml_passes_the_check_and_moves_the_rebuilt_map(site):
    ws, app, users = site
    ed, h = _editor(app, users["editor"])
    tp = _free(ws, TAKEN)
    bp = ed.get("/api/blueprint").json()
    stage = next(s for s in bp["stages"] if s != tp["stage"])
    persona = bp["personas"][0]
    changes = {"stage": stage, "owner": "Customer care <team> & co", "personas": [persona], "channel": "web"}
    r = ed.patch(_url(tp["name"]), json={"base_version": bp["version"], "changes": changes}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == _version(ws) != bp["version"]
    # on disk, read back with the Blueprint loader, and the CLI's check passes
    from journeymap.blueprint import Blueprint

    loaded = Blueprint.load(ws / "blueprint.yaml").touchpoint(tp["name"])
    assert loaded is not None
    assert (loaded.stage, loaded.owner, loaded.personas, loaded.channel) == (stage, changes["owner"], [persona], "web")
    untouched = _tp(ws, tp["name"])
    assert untouched["description"] == tp["description"] and untouched["keywords"] == tp["keywords"]
    check = CliRunner().invoke(main, ["-w", str(ws), "blueprint", "check", "--format", "json"])
    assert check.exit_code == 0, check.output
    # versioned: the change row says who, the touchpoint, before and after; the audit log has it
    rows = ed.get("/api/blueprint/changes", params={"touchpoint": tp["name"]}).json()
    assert rows[0]["who"] == users["editor"] and rows[0]["after"]["stage"] == stage
    assert rows[0]["before"]["stage"] == tp["stage"] and rows[0]["version"] == _version(ws)
    owner, oh = _editor(app, users["owner"])
    assert any(
        a["what"] == "blueprint.edit" and a["detail"]["touchpoint"] == tp["name"]
        for a in owner.get("/api/audit").json()
    )
    # the rebuilt map puts the card in the new stage with the new owner
    assert ed.post("/api/map/rebuild", headers=h).status_code == 201
    doc = ed.get("/api/map").json()
    where = {
        c["name"]: (st["name"], c.get("owner"))
        for st in doc["stages"]
        for lane in st["lanes"]
        for c in lane["touchpoints"]
    }
    assert where[tp["name"]] == (stage, changes["owner"])


def test_a_conflicting_edit_gets_409_with_both_views_and_nothing_is_lost(site):
    ws, app, users = site
    a, ha = _editor(app, users["editor"])
    b, hb = _editor(app, users["editor2"])
    tp = _free(ws, TAKEN)
    base = b.get("/api/blueprint").json()
    stages = [s for s in base["stages"] if s != tp["stage"]]
    ra = a.patch(_url(tp["name"]), json={"base_version": base["version"], "changes": {"stage": stages[0]}}, headers=ha)
    assert ra.status_code == 200, ra.text
    mine = {"stage": stages[1], "owner": "Team B"}
    rb = b.patch(_url(tp["name"]), json={"base_version": base["version"], "changes": mine}, headers=hb)
    assert rb.status_code == 409, rb.text
    c = rb.json()
    assert c["detail"].endswith(".") and tp["name"] in c["detail"]
    assert c["yours"] == mine
    assert c["theirs"]["values"] == {"stage": stages[0], "owner": tp["owner"]} and c["fields"] == ["stage"]
    assert [x["who"] for x in c["theirs"]["changed_by"]] == [users["editor"]]
    assert (
        c["base"]["values"] == {"stage": tp["stage"], "owner": tp["owner"]} and c["base"]["version"] == base["version"]
    )
    assert c["version"] == _version(ws)
    assert _tp(ws, tp["name"])["stage"] == stages[0]  # theirs stands; yours is not half-applied
    assert _tp(ws, tp["name"])["owner"] == tp["owner"]
    kept = b.get("/api/blueprint/conflicts").json()
    assert [(k["id"], k["yours"]) for k in kept] == [(c["conflict"], mine)]
    assert c["conflict"] not in [k["id"] for k in a.get("/api/blueprint/conflicts").json()]  # one's own only
    # apply mine again from the current version: accepted, and the kept conflict closes
    again = {"base_version": c["version"], "changes": c["yours"], "resolves": c["conflict"]}
    r = b.patch(_url(tp["name"]), json=again, headers=hb)
    assert r.status_code == 200, r.text
    assert (_tp(ws, tp["name"])["stage"], _tp(ws, tp["name"])["owner"]) == (stages[1], "Team B")
    assert b.get("/api/blueprint/conflicts").json() == []
    # a stale edit of another field merges (no conflict); keep-theirs drops a kept conflict
    stale = r.json()["version"]
    r = a.patch(_url(tp["name"]), json={"base_version": stale, "changes": {"channel": "chat"}}, headers=ha)
    assert r.status_code == 200
    r = b.patch(_url(tp["name"]), json={"base_version": base["version"], "changes": {"description": "d"}}, headers=hb)
    assert r.status_code == 200, r.text  # description unchanged since base: merges
    r = b.patch(_url(tp["name"]), json={"base_version": stale, "changes": {"channel": "phone"}}, headers=hb)
    assert r.status_code == 409
    cid = r.json()["conflict"]
    assert a.delete(f"/api/blueprint/conflicts/{cid}", headers=ha).status_code == 404  # not A's
    assert b.delete(f"/api/blueprint/conflicts/{cid}", headers=hb).status_code == 200
    assert b.get("/api/blueprint/conflicts").json() == [] and _tp(ws, tp["name"])["channel"] == "chat"


def test_a_rename_moves_the_comments_and_the_blueprints_references(site):
    ws, app, users = site
    ed, h = _editor(app, users["editor"])
    doc = ed.get("/api/map").json()
    pains = {p["touchpoint"] for p in doc["pain_points"]}
    raw = _yaml(ws)
    goal = raw["goals"][0]["touchpoint"]
    # a pain point with a comment on its card and one on its pain entry
    name = next(t["name"] for t in raw["touchpoints"] if t["name"] in pains and t["name"] not in TAKEN)
    TAKEN.add(name)
    com, hc = _editor(app, users["commenter"])
    ids = [f"touchpoint:{quote(name, safe='')}", f"pain:{quote(name, safe='')}"]
    made = [com.post("/api/comments", json={"element": e, "text": f"on {e}"}, headers=hc).json()["id"] for e in ids]
    new = f"{name} (renamed)"
    v = ed.get("/api/blueprint").json()["version"]
    r = ed.patch(_url(name), json={"base_version": v, "changes": {"name": new}}, headers=h)
    assert r.status_code == 200, r.text
    new_ids = [f"touchpoint:{quote(new, safe='')}", f"pain:{quote(new, safe='')}"]
    assert r.json()["moved_comments"] == dict(zip(ids, new_ids, strict=True))
    assert "journeymap ingest" in r.json()["note"]
    for old_id, new_id, cid in zip(ids, new_ids, made, strict=True):
        assert [c["id"] for c in com.get("/api/comments", params={"element": new_id}).json()] == [cid]
        assert com.get("/api/comments", params={"element": old_id}).json() == []
    entry = _tp(ws, new)
    assert _tp(ws, name) is None and entry is not None
    assert {"event": name, "event_regex": None, "where": {}} in entry["match"]  # the data keeps landing on it
    # renaming the goal moves the goal and the stage that names it
    v = ed.get("/api/blueprint").json()["version"]
    r = ed.patch(_url(goal), json={"base_version": v, "changes": {"name": "Order placed"}}, headers=h)
    assert r.status_code == 200, r.text
    raw = _yaml(ws)
    assert [g["touchpoint"] for g in raw["goals"]] == ["Order placed"]
    assert goal not in [s.get("goal") for s in raw["stages"]]
    check = CliRunner().invoke(main, ["-w", str(ws), "blueprint", "check", "--format", "json"])
    assert check.exit_code == 0, check.output
    r = ed.patch(_url("Order placed"), json={"base_version": r.json()["version"], "changes": {"name": goal}}, headers=h)
    assert r.status_code == 200 and [g["touchpoint"] for g in _yaml(ws)["goals"]] == [goal]


def test_two_editors_at_once_give_one_200_and_one_409_never_a_broken_file(site):
    from journeymap.blueprint import Blueprint
    from journeymap.web.app import create_app

    ws, app, users = site
    # rounds 1-2: two editors on one server (its process lock); round 3: on two app instances over the same
    # workspace, as two server processes would be (only the file lock in .journeymap-locks serialises them)
    other = create_app(ws)
    for rnd in range(3):
        clients = [_editor(app, users["editor"]), _editor(other if rnd == 2 else app, users["editor2"])]
        tp = _free(ws, TAKEN)
        bp = clients[0][0].get("/api/blueprint").json()
        targets = [s for s in bp["stages"] if s != tp["stage"]][:2]
        go = threading.Barrier(2)
        out: list = [None, None]

        def send(i: int, tp=tp, bp=bp, targets=targets, go=go, out=out, clients=clients) -> None:
            c, h = clients[i]
            go.wait()
            body = {"base_version": bp["version"], "changes": {"stage": targets[i]}}
            out[i] = c.patch(_url(tp["name"]), json=body, headers=h)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        codes = sorted(r.status_code for r in out)
        assert codes == [200, 409], [r.text for r in out]
        won = next(i for i in range(2) if out[i].status_code == 200)
        assert Blueprint.load(ws / "blueprint.yaml").stage_of(tp["name"]) == targets[won]
        assert out[1 - won].json()["theirs"]["values"] == {"stage": targets[won]}


def test_version_diff_is_the_journeymap_diff_of_the_two_documents(site, tmp_path):
    from sqlalchemy import select

    from journeymap.web.db import MapVersion

    ws, app, users = site
    ed, h = _editor(app, users["editor"])
    assert ed.post("/api/map/rebuild", headers=h).status_code == 201  # after this module's edits: a new map
    versions = ed.get("/api/versions").json()
    assert len(versions) >= 2
    new, old = versions[0]["id"], versions[-1]["id"]
    r = ed.get(f"/api/versions/{old}/diff/{new}")
    assert r.status_code == 200, r.text
    with app.state.db.sessions() as s:
        docs = {v: s.scalar(select(MapVersion.document).where(MapVersion.id == v)) for v in (old, new)}
    paths = []
    for v in (old, new):
        p = tmp_path / f"v{v}.json"
        p.write_text(docs[v], encoding="utf-8")
        paths.append(str(p))
    cli = CliRunner().invoke(main, ["diff", *paths, "--format", "json"])
    assert cli.exit_code == 0, cli.output
    assert r.json() == json.loads(cli.output)
    assert r.json()["deltas"]  # the blueprint edits moved figures
    missing = ed.get(f"/api/versions/{old}/diff/999999")
    assert missing.status_code == 404 and missing.json()["detail"] == (
        "There is no map version 999999; GET /api/versions lists them."
    )
    assert ed.get(f"/api/versions/{old}/diff/latest").status_code == 422


# -- two editors in Chromium, against `journeymap serve` as a process ------------------------------

from journeymap.report.browser import CHROMIUM_FLAGS, chromium_path, missing  # noqa: E402
from tests.test_report_a11y import AXE, WCAG_TAGS  # noqa: E402
from tests.test_web_support import PASSWORD  # noqa: E402


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path, demo_copy):
    """``journeymap serve`` on a free port over a fresh demo with two editors; yields (url, workspace)."""
    import time

    import httpx

    ws = demo_copy(tmp_path / "shop", customers=300)
    for email in ("ana@example.com", "bo@example.com"):
        r = add_user(ws, email, "editor")
        assert r.exit_code == 0, r.output
    port = _free_port()
    proc = serve_process(ws, port)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    try:
        while True:
            try:
                httpx.get(f"{url}/api/openapi.json", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-2000:]
                time.sleep(0.3)
        yield url, ws
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _axe(page, regions: list[str]) -> list[dict]:
    """axe-core (from node_modules) on the curation regions, WCAG 2.x A/AA rules; the violations."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async ([regions, tags]) => {
             const r = await axe.run({include: regions.map(s => [s])},
               {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
             return r.violations.map(v => ({id: v.id, help: v.help, targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
           }""",
        [regions, WCAG_TAGS],
    )


@pytest.mark.browser
@pytest.mark.skipif(missing() is not None, reason=f"no headless browser: {missing()}")
def test_two_editors_in_chromium_the_second_gets_the_conflict_view_and_applies_again(served):
    from playwright.sync_api import sync_playwright

    url, ws = served
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        try:
            pages, problems = [], []
            # B's context may inject axe-core (an inline script the page's CSP forbids); A's keeps the CSP
            for email, bypass in (("ana@example.com", False), ("bo@example.com", True)):
                ctx = b.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=bypass)
                r = ctx.request.post(f"{url}/api/login", data={"email": email, "password": PASSWORD})
                assert r.status == 200, r.text()
                page = ctx.new_page()
                page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.goto(f"{url}/")
                page.wait_for_selector("body[data-ready='1'][data-curate-ready='1']", timeout=60_000)
                pages.append(page)
            a, bb = pages
            bp = a.request.get(f"{url}/api/blueprint").json()
            names = a.eval_on_selector_all("button.tp", "bs => bs.map(b => b.getAttribute('data-name'))")
            tp = next(t for t in bp["touchpoints"] if t["name"] in names and t["stage"] and t["name"] != "Purchase")
            others = [s for s in bp["stages"] if s != tp["stage"]]
            theirs, mine = others[0], others[1]
            for page in pages:  # both open the same touchpoint's edit form
                page.evaluate(
                    "n => [...document.querySelectorAll('button.tp')].find(b => b.getAttribute('data-name') === n).click()",
                    tp["name"],
                )
                page.click("#details .jm-edit")
                page.wait_for_selector("#details .jm-edit-form")
                assert page.evaluate("document.activeElement.name") == "name"  # focus moves into the form
                assert page.locator("#details .jm-edit-form label", has_text="Stage").count() == 1
            a.select_option("#details .jm-edit-form select[name=stage]", theirs)
            a.click("#details .jm-save")
            a.wait_for_selector("#details .jm-edit-status:has-text('Saved')")
            assert _tp(ws, tp["name"])["stage"] == theirs
            # B's open page hears of A's edit through the events stream (no reload)
            bb.wait_for_function(
                "n => (document.getElementById('jm-notice') || {}).textContent.includes(n)",
                arg=tp["name"],
                timeout=5000,
            )
            bb.select_option("#details .jm-edit-form select[name=stage]", mine)
            bb.click("#details .jm-save")
            bb.wait_for_selector("#details .jm-conflict")
            row = bb.locator("#details .jm-conflict-table tr[data-field=stage]")
            assert row.locator(".jm-yours").inner_text() == mine
            assert row.locator(".jm-theirs").inner_text() == theirs
            assert row.locator(".jm-base").inner_text() == tp["stage"]
            assert row.locator(".jm-clash").inner_text() == "yes"
            assert "ana@example.com" in bb.locator("#details .jm-changed-by").inner_text()
            assert _tp(ws, tp["name"])["stage"] == theirs  # B's edit waits, kept
            violations = _axe(bb, [".jm-curate", "#jm-versions"])
            assert violations == [], violations
            bb.click("#details .jm-apply-mine")
            bb.wait_for_selector("#details .jm-edit-status:has-text('Saved')")
            assert bb.locator("#details .jm-conflict").count() == 0
            assert _tp(ws, tp["name"])["stage"] == mine
            assert bb.request.get(f"{url}/api/blueprint/conflicts").json() == []
            # versions: a rebuild makes a second version; the page compares the two as a table
            h = {"X-CSRF-Token": a.request.get(f"{url}/api/me").json()["csrf"]}
            assert a.request.post(f"{url}/api/map/rebuild", headers=h).status == 201
            a.reload()
            a.wait_for_selector("body[data-curate-ready='1']")
            a.wait_for_function("document.querySelectorAll('#jm-versions select[name=older] option').length >= 2")
            a.click("#jm-versions .jm-compare")
            a.wait_for_selector("#jm-versions .jm-diff-deltas tbody tr")
            shown = a.locator("#jm-versions .jm-diff-deltas tbody tr").count()
            versions = a.request.get(f"{url}/api/versions").json()
            diff = a.request.get(f"{url}/api/versions/{versions[1]['id']}/diff/{versions[0]['id']}").json()
            assert shown == min(len(diff["deltas"]), 100) > 0
            assert tp["name"] in a.locator("#jm-versions .jm-bp-changes-table").inner_text()
            assert problems == [], problems
        finally:
            b.close()


# -- the same on PostgreSQL (a server the test starts; skips with the reason where it cannot) ------

from tests.test_web_postgres import _point_at, postgres  # noqa: E402, F401  (the fixture)


def test_curation_on_postgresql_conflicts_races_and_renames(tmp_path, demo_copy, postgres):  # noqa: F811
    from journeymap.web.app import create_app

    ws = demo_copy(tmp_path / "shop", customers=300)
    _point_at(ws, postgres.create_database("curation"))
    users = users_per_role(ws)
    assert add_user(ws, "editor2@example.com", "editor").exit_code == 0
    app = create_app(ws)
    assert app.state.db.url.startswith("postgresql")
    try:
        a, ha = _editor(app, users["editor"])
        b, hb = _editor(app, "editor2@example.com")
        com, hc = _editor(app, users["commenter"])
        assert a.get("/api/map").status_code == 200
        bp = a.get("/api/blueprint").json()
        assert bp["version"] == _version(ws)
        one, two, three = [t for t in bp["touchpoints"] if t["stage"] and t["name"] != "Purchase"][:3]
        stages = [s for s in bp["stages"] if s != one["stage"]]
        assert (
            a.patch(
                _url(one["name"]), json={"base_version": bp["version"], "changes": {"stage": stages[0]}}, headers=ha
            ).status_code
            == 200
        )
        r = b.patch(
            _url(one["name"]), json={"base_version": bp["version"], "changes": {"stage": stages[1]}}, headers=hb
        )
        assert r.status_code == 409 and r.json()["theirs"]["values"] == {"stage": stages[0]}
        assert [k["yours"] for k in b.get("/api/blueprint/conflicts").json()] == [{"stage": stages[1]}]
        again = {"base_version": r.json()["version"], "changes": r.json()["yours"], "resolves": r.json()["conflict"]}
        assert b.patch(_url(one["name"]), json=again, headers=hb).status_code == 200
        assert _tp(ws, one["name"])["stage"] == stages[1] and b.get("/api/blueprint/conflicts").json() == []
        # a race on one field: one 200, one 409
        base = a.get("/api/blueprint").json()["version"]
        go, out = threading.Barrier(2), [None, None]

        def send(i: int) -> None:
            c, h = ((a, ha), (b, hb))[i]
            go.wait()
            out[i] = c.patch(
                _url(two["name"]), json={"base_version": base, "changes": {"owner": f"Team {i}"}}, headers=h
            )

        threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(r.status_code for r in out) == [200, 409]
        # a rename moves the comment
        eid = f"touchpoint:{quote(three['name'], safe='')}"
        cid = com.post("/api/comments", json={"element": eid, "text": "here"}, headers=hc).json()["id"]
        v = a.get("/api/blueprint").json()["version"]
        r = a.patch(_url(three["name"]), json={"base_version": v, "changes": {"name": "Renamed on PG"}}, headers=ha)
        assert r.status_code == 200, r.text
        moved = com.get("/api/comments", params={"element": "touchpoint:Renamed%20on%20PG"}).json()
        assert [c["id"] for c in moved] == [cid]
        rows = a.get("/api/blueprint/changes").json()
        assert [(x["touchpoint"], x["new_name"]) for x in rows][0] == (three["name"], "Renamed on PG")
    finally:
        app.state.db.dispose()
