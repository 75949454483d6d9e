/* journeymap web page: curation together and versions (web mode only; the file report never loads this).
   - An editor (body data-role editor or owner) gets "Edit touchpoint" in a touchpoint's details panel:
     GET {api}/blueprint gives the fields and the blueprint's version; Save sends
     PATCH {api}/blueprint/touchpoints/{name} {"base_version", "changes"} with X-CSRF-Token, only the
     fields that changed. A 409 shows the conflict view (yours beside theirs) with "Keep theirs"
     (DELETE {api}/blueprint/conflicts/{id}) and "Apply mine again" (PATCH again from the new version).
   - Everyone gets a "Versions" section: two stored map versions ({api}/versions) and their diff
     ({api}/versions/{a}/diff/{b}, the `journeymap diff` result) as tables, and the blueprint's changes.
   Every text from the server goes in through textContent, never as HTML. */
(function () {
  "use strict";
  var B = document.body;
  if (!B || B.getAttribute("data-mode") !== "web") { return; }
  var API = B.getAttribute("data-api") || "/api";
  var ROLE = B.getAttribute("data-role") || "viewer";
  var EDITOR = ROLE === "editor" || ROLE === "owner";
  var RATES = { reach: 1, conversion: 1, conversion_to_next: 1, drop_off: 1, after_goal: 1 };
  var LABELS = { name: "Name", stage: "Stage", channel: "Channel", owner: "Owner team", kind: "Kind",
    interaction: "Interaction", description: "Description", keywords: "Keywords", personas: "Personas", goal: "Conversion goal" };
  var FORM_FIELDS = ["name", "stage", "channel", "owner", "description", "personas", "goal"];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }  /* text only, never HTML */
    return e;
  }
  var csrfPromise = null;
  function csrf() {  /* the page's data-csrf, else GET {api}/me (the page HTML may be shared by a role) */
    var t = B.dataset ? B.dataset.csrf : B.getAttribute("data-csrf");
    if (t) { return Promise.resolve(t); }
    if (!csrfPromise) {
      csrfPromise = fetch(API + "/me", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : {}; })
        .then(function (d) { return (d && d.csrf) || ""; })
        .catch(function () { csrfPromise = null; return ""; });
    }
    return csrfPromise;
  }
  function call(method, path, payload) {  /* -> Promise of {status, body} */
    var send = function (token) {
      var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
      if (method !== "GET") { opts.headers["X-CSRF-Token"] = token; }
      if (payload !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(payload); }
      return fetch(API + path, opts).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; });
      });
    };
    return method === "GET" ? send("") : csrf().then(send);
  }
  function show(v) {  /* a field's value as text */
    if (v === null || v === undefined || v === "") { return "–"; }
    if (v === true) { return "yes"; }
    if (v === false) { return "no"; }
    if (Array.isArray(v)) { return v.length ? v.join(", ") : "none"; }
    return String(v);
  }
  function detail(res) {
    var d = res.body && res.body.detail;
    return typeof d === "string" ? d : "The server refused the edit (HTTP " + res.status + "); reload the page and try again.";
  }
  function q(form, name) { return form.querySelector("[name='" + name + "']"); }
  var uid = 0;
  function field(form, label, input) {  /* a labelled control */
    var id = "jm-edit-" + (++uid);
    var row = el("div", "jm-field");
    /* layout through the CSSOM (no style attribute in markup; the stylesheet is the report's) */
    row.style.display = "grid";
    row.style.gridTemplateColumns = "minmax(6em, 9em) minmax(0, 1fr)";
    row.style.gap = "0.5em";
    row.style.alignItems = "start";
    row.style.margin = "0.35em 0";
    var l = el("label", null, label);
    l.htmlFor = id;
    input.id = id;
    row.appendChild(l);
    row.appendChild(input);
    if (input.tagName !== "SELECT") { input.style.width = "100%"; input.style.boxSizing = "border-box"; }
    form.appendChild(row);
    return input;
  }

  /* -- editing a touchpoint in its details panel --------------------------------------------------- */
  var panel = document.getElementById("details");
  function touchpointOpen() {
    if (!panel || panel.hidden) { return null; }
    var name = panel.getAttribute("data-open");
    var found = null;
    document.querySelectorAll("button.tp").forEach(function (b) { if (b.getAttribute("data-name") === name) { found = name; } });
    return found;
  }
  function editor(name) {
    var box = el("section", "jm-curate");
    box.setAttribute("aria-label", "Curate this touchpoint");
    box.setAttribute("data-touchpoint", name);
    var open = el("button", "jm-edit", "Edit touchpoint");
    open.type = "button";
    box.appendChild(open);
    var status = el("p", "jm-edit-status");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var state = { name: name, base: null, values: null, mine: null, conflict: null };
    var form = null, conflictBox = null;

    function say(text, bad) {
      status.textContent = text;
      status.className = "jm-edit-status" + (bad ? " jm-error" : "");
      if (bad) { status.setAttribute("role", "alert"); } else { status.setAttribute("role", "status"); }
    }
    function load() {
      return call("GET", "/blueprint").then(function (res) {
        if (res.status !== 200) { say(detail(res), true); return null; }
        var bp = res.body;
        var tp = null;
        (bp.touchpoints || []).forEach(function (t) { if (t.name === state.name) { tp = t; } });
        if (!tp) { say("Touchpoint " + state.name + " is no longer in the blueprint; reload the page.", true); return null; }
        state.base = bp.version;
        state.values = tp;
        return bp;
      });
    }
    function buildForm(bp) {
      var f = el("form", "jm-edit-form");
      f.setAttribute("aria-label", "Edit touchpoint " + state.name);
      var v = state.values;
      var name = field(f, "Name", el("input"));
      name.name = "name"; name.value = v.name || ""; name.required = true; name.maxLength = 200;
      var stage = field(f, "Stage", el("select"));
      stage.name = "stage";
      stage.appendChild(el("option", null, "no stage")).value = "";
      (bp.stages || []).forEach(function (s) { var o = el("option", null, s); o.value = s; stage.appendChild(o); });
      stage.value = v.stage || "";
      var channel = field(f, "Channel", el("input"));
      channel.name = "channel"; channel.value = v.channel || ""; channel.maxLength = 100;
      var owner = field(f, "Owner team", el("input"));
      owner.name = "owner"; owner.value = v.owner || ""; owner.maxLength = 200;
      var desc = field(f, "Description", el("textarea"));
      desc.name = "description"; desc.value = v.description || ""; desc.rows = 3; desc.maxLength = 2000;
      var ps = el("fieldset", "jm-personas");
      ps.appendChild(el("legend", null, "Personas"));
      if (!(bp.personas || []).length) { ps.appendChild(el("p", "muted small", "The blueprint defines no personas.")); }
      (bp.personas || []).forEach(function (p) {
        var l = el("label", "jm-check");
        l.style.display = "inline-block";
        l.style.marginRight = "1em";
        var c = el("input");
        c.type = "checkbox"; c.name = "personas"; c.value = p;
        c.checked = (v.personas || []).indexOf(p) >= 0;
        l.appendChild(c);
        l.appendChild(document.createTextNode(" " + p));
        ps.appendChild(l);
      });
      f.appendChild(ps);
      var gl = el("label", "jm-check");
      var goal = el("input");
      goal.type = "checkbox"; goal.name = "goal"; goal.checked = !!v.goal;
      gl.appendChild(goal);
      gl.appendChild(document.createTextNode(" A conversion goal (reaching it converts the journey)"));
      f.appendChild(gl);
      var tools = el("div", "jm-tools");
      var save = el("button", "jm-save", "Save");
      save.type = "submit";
      var cancel = el("button", "jm-cancel", "Cancel");
      cancel.type = "button";
      cancel.addEventListener("click", function () { f.hidden = true; open.hidden = false; open.focus(); });
      tools.appendChild(save);
      tools.appendChild(cancel);
      f.appendChild(tools);
      f.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
      return f;
    }
    function formValues() {
      var out = {};
      out.name = q(form, "name").value.trim();
      out.stage = q(form, "stage").value || null;
      out.channel = q(form, "channel").value.trim() || null;
      out.owner = q(form, "owner").value.trim() || null;
      out.description = q(form, "description").value.trim();
      out.personas = [].slice.call(form.querySelectorAll("input[name=personas]")).filter(function (c) { return c.checked; }).map(function (c) { return c.value; });
      out.goal = q(form, "goal").checked;
      return out;
    }
    function changed(now) {  /* only the fields that differ from what the form was opened with */
      var out = {}, n = 0;
      FORM_FIELDS.forEach(function (k) {
        var a = now[k], b = state.values[k];
        var same = Array.isArray(a) ? JSON.stringify(a) === JSON.stringify(b || []) : (a || null) === (b || null) || (a === "" && !b);
        if (k === "goal") { same = !!a === !!b; }
        if (!same) { out[k] = a; n++; }
      });
      return n ? out : null;
    }
    function saved(res) {
      state.base = res.body.version;
      state.values = res.body.touchpoint || state.values;
      if (state.values && state.values.name) { state.name = state.values.name; box.setAttribute("data-touchpoint", state.name); }
      if (conflictBox) { conflictBox.remove(); conflictBox = null; }
      if (form) { form.hidden = true; }
      document.dispatchEvent(new CustomEvent("jm:blueprint-saved"));
      open.hidden = false;
      var what = (res.body.changed || []).map(function (k) { return LABELS[k] || k; }).join(", ");
      say(what ? "Saved " + what + " to blueprint.yaml (version " + res.body.version + "); rebuild the map to see its figures move." +
        (res.body.note ? " " + res.body.note : "") : "Nothing changed; the blueprint already says that.");
      open.focus();
    }
    function send(changes, base, resolves) {
      state.mine = changes;
      var payload = { base_version: base, changes: changes };
      if (resolves) { payload.resolves = resolves; }
      say("Saving…");
      return call("PATCH", "/blueprint/touchpoints/" + encodeURIComponent(state.name), payload).then(function (res) {
        if (res.status === 200) { saved(res); }
        else if (res.status === 409 && res.body && res.body.yours) { showConflict(res.body); }
        else { say(detail(res), true); }
      }).catch(function () { say("The server could not be reached; your edit is still in the form, try Save again.", true); });
    }
    function submit() {
      var changes = changed(formValues());
      if (!changes) { say("Nothing to save: no field differs from the blueprint."); return; }
      send(changes, state.base, null);
    }
    function showConflict(c) {
      state.conflict = c;
      if (conflictBox) { conflictBox.remove(); }
      conflictBox = el("div", "jm-conflict");
      var h = el("h4", null, "Someone else changed this touchpoint since you opened it");
      h.tabIndex = -1;
      conflictBox.appendChild(h);
      conflictBox.appendChild(el("p", "small", c.detail));
      var t = el("table", "data jm-conflict-table");
      t.style.width = "100%";
      t.appendChild(el("caption", null, "Your values beside theirs"));
      var head = el("tr");
      ["Field", "Yours", "Theirs now", "When you opened it", "Conflict"].forEach(function (x) { var th = el("th", null, x); th.scope = "col"; head.appendChild(th); });
      t.appendChild(el("thead")).appendChild(head);
      var tb = el("tbody");
      var theirs = (c.theirs && c.theirs.values) || {};
      var base = (c.base && c.base.values) || {};
      var clash = c.fields || [];
      Object.keys(c.yours).forEach(function (k) {
        var tr = el("tr");
        tr.setAttribute("data-field", k);
        var th = el("th", null, LABELS[k] || k);
        th.scope = "row";
        tr.appendChild(th);
        tr.appendChild(el("td", "jm-yours", show(c.yours[k])));
        tr.appendChild(el("td", "jm-theirs", k in theirs ? show(theirs[k]) : "unchanged"));
        tr.appendChild(el("td", "jm-base", k in base ? show(base[k]) : "–"));
        tr.appendChild(el("td", "jm-clash", clash.indexOf(k) >= 0 ? "yes" : "no"));
        tb.appendChild(tr);
      });
      t.appendChild(tb);
      conflictBox.appendChild(t);
      var by = (c.theirs && c.theirs.changed_by) || [];
      if (by.length) {
        var ul = el("ul", "small jm-changed-by");
        by.forEach(function (x) {
          ul.appendChild(el("li", null, (x.note ? x.note : "Changed by " + (x.who || "a former member")) +
            (x.when ? " at " + x.when : "") + (x.fields && x.fields.length ? " (" + x.fields.map(function (k) { return LABELS[k] || k; }).join(", ") + ")" : "")));
        });
        conflictBox.appendChild(ul);
      }
      var tools = el("div", "jm-tools");
      var keep = el("button", "jm-keep-theirs", "Keep theirs");
      keep.type = "button";
      keep.addEventListener("click", function () {
        call("DELETE", "/blueprint/conflicts/" + encodeURIComponent(c.conflict)).then(function () {
          conflictBox.remove(); conflictBox = null;
          load().then(function (bp) {
            if (!bp) { return; }
            var fresh = buildForm(bp);
            form.replaceWith(fresh); form = fresh;
            say("Kept their version; the form shows the blueprint as it is now.");
            q(form, "name").focus();
          });
        });
      });
      var again = el("button", "jm-apply-mine", "Apply mine again");
      again.type = "button";
      again.addEventListener("click", function () { send(c.yours, c.version, c.conflict); });
      tools.appendChild(keep);
      tools.appendChild(again);
      conflictBox.appendChild(tools);
      box.insertBefore(conflictBox, status);
      say("Not saved: the touchpoint changed meanwhile. Your edit is kept: compare the values, then Keep theirs or Apply mine again.", true);
      h.focus();
    }
    open.addEventListener("click", function () {
      say("Loading the blueprint…");
      load().then(function (bp) {
        if (!bp) { return; }
        var fresh = buildForm(bp);
        if (form) { form.replaceWith(fresh); } else { box.insertBefore(fresh, status); }
        form = fresh;
        open.hidden = true;
        say("");
        q(form, "name").focus();
      });
    });
    box.appendChild(status);
    return box;
  }
  function attach() {
    var name = touchpointOpen();
    if (!EDITOR || name === null) { return; }
    var body = panel.querySelector(".details-body");
    if (!body || body.querySelector(".jm-curate")) { return; }
    var article = body.querySelector(".tp-detail") || body.firstElementChild;
    var box = editor(name);
    var meta = article ? article.querySelector("h3 + p") : null;
    if (meta && meta.parentNode) { meta.parentNode.insertBefore(box, meta.nextSibling); } else { body.appendChild(box); }
  }
  if (panel && EDITOR && typeof MutationObserver !== "undefined") {
    new MutationObserver(attach).observe(panel, { attributes: true, attributeFilter: ["hidden", "data-open"], childList: true, subtree: true });
  }

  /* -- versions: the map's stored builds and their diff ---------------------------------------------- */
  function numText(metric, x) {
    if (x === null || x === undefined || isNaN(x)) { return "–"; }
    if (RATES[metric]) { return (x * 100).toFixed(1) + "%"; }
    return Math.abs(x - Math.round(x)) < 1e-9 ? String(Math.round(x)) : x.toFixed(3);
  }
  function deltaText(metric, x) {
    if (x === null || x === undefined || isNaN(x)) { return "–"; }
    var s = x > 0 ? "+" : x < 0 ? "−" : "";
    return RATES[metric] ? s + Math.abs(x * 100).toFixed(1) + " pts" : s + numText("", Math.abs(x));
  }
  function table(caption, cols, rows, cls) {
    var t = el("table", "data " + (cls || ""));
    t.appendChild(el("caption", null, caption));
    var head = el("tr");
    cols.forEach(function (c) { var th = el("th", null, c); th.scope = "col"; head.appendChild(th); });
    t.appendChild(el("thead")).appendChild(head);
    var tb = el("tbody");
    rows.forEach(function (r) {
      var tr = el("tr");
      r.forEach(function (v) { tr.appendChild(el("td", null, v)); });
      tb.appendChild(tr);
    });
    if (!rows.length) { var tr = el("tr"); var td = el("td", "muted", "none"); td.colSpan = cols.length; tr.appendChild(td); tb.appendChild(tr); }
    t.appendChild(tb);
    return t;
  }
  var MAX_ROWS = 100;
  function versionsSection() {
    var main = document.querySelector("main");
    if (!main || document.getElementById("jm-versions")) { return; }
    var sec = el("section", "section noprint");
    sec.id = "jm-versions";
    var h = el("h2", null, "Versions");
    h.id = "jm-versions-title";
    sec.setAttribute("aria-labelledby", h.id);
    sec.appendChild(h);
    sec.appendChild(el("p", "hint", "Each map build is a version. Pick two to see what changed between them (the figures journeymap diff compares), and below, the blueprint's edits made on this page."));
    var form = el("form", "jm-versions-form");
    form.setAttribute("aria-label", "Compare two map versions");
    var older = field(form, "Older version", el("select"));
    older.name = "older";
    var newer = field(form, "Newer version", el("select"));
    newer.name = "newer";
    var go = el("button", "jm-compare", "Compare");
    go.type = "submit";
    form.appendChild(go);
    sec.appendChild(form);
    var status = el("p", "jm-versions-status small");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    sec.appendChild(status);
    var out = el("div", "jm-diff");
    sec.appendChild(out);
    var changes = el("div", "jm-bp-changes");
    sec.appendChild(changes);
    main.appendChild(sec);
    var nav = document.querySelector("nav.toc");
    if (nav) { var a = el("a", null, "Versions"); a.href = "#jm-versions"; nav.appendChild(a); }

    function fill(list) {
      [older, newer].forEach(function (s) {
        var keep = s.value;
        s.replaceChildren();
        list.forEach(function (v) {
          var o = el("option", null, "Version " + v.id + " · " + v.created + (v.by ? " · " + v.by : ""));
          o.value = String(v.id);
          s.appendChild(o);
        });
        if (keep) { s.value = keep; }
      });
      if (list.length >= 2 && !form.getAttribute("data-chosen")) { newer.value = String(list[0].id); older.value = String(list[1].id); }
      go.disabled = list.length < 2;
      status.textContent = list.length < 2 ? "One version so far; a rebuild of the map makes the next one." : "";
    }
    function refresh() {
      return call("GET", "/versions").then(function (res) { if (res.status === 200 && Array.isArray(res.body)) { fill(res.body); } });
    }
    function draw(a, b, d) {
      var parts = [];
      parts.push(el("h3", null, "From version " + a + " to version " + b));
      parts.push(el("p", null, "Added touchpoints: " + ((d.added_touchpoints || []).join(", ") || "none")));
      parts.push(el("p", null, "Removed touchpoints: " + ((d.removed_touchpoints || []).join(", ") || "none")));
      var deltas = d.deltas || [];
      var rows = deltas.slice(0, MAX_ROWS).map(function (x) {
        return [x.scope, x.name, String(x.metric).replace(/_/g, " "), numText(x.metric, x.old), numText(x.metric, x.new),
          deltaText(x.metric, x.delta), x.p === null || x.p === undefined ? "–" : x.p.toFixed(3),
          x.significant === null || x.significant === undefined ? "–" : x.significant ? "yes" : "no"];
      });
      var cap = "Figures that changed" + (deltas.length > MAX_ROWS ? " (the first " + MAX_ROWS + " of " + deltas.length + ", significant first)" : " (significant first)");
      parts.push(table(cap, ["Scope", "Name", "Metric", "Before", "Now", "Change", "p", "Significant"], rows, "jm-diff-deltas"));
      parts.push(table("Pain point ranks", ["Touchpoint", "Old rank", "New rank", "Moved up"], (d.pain_points || []).map(function (r) {
        return [r.touchpoint, show(r.old_rank), show(r.new_rank), show(r.change)];
      }), "jm-diff-pains"));
      out.replaceChildren.apply(out, parts);
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      form.setAttribute("data-chosen", "1");
      var a = older.value, b = newer.value;
      if (!a || !b) { return; }
      status.textContent = "Comparing version " + a + " with version " + b + "…";
      call("GET", "/versions/" + encodeURIComponent(a) + "/diff/" + encodeURIComponent(b)).then(function (res) {
        if (res.status !== 200) { status.textContent = detail(res); return; }
        draw(a, b, res.body);
        status.textContent = "Version " + a + " compared with version " + b + ".";
      });
      refresh();
    });
    function blueprintChanges() {
      call("GET", "/blueprint/changes?limit=50").then(function (res) {
        if (res.status !== 200 || !Array.isArray(res.body)) { return; }
        var rows = [];
        res.body.forEach(function (c) {
          Object.keys(c.after || {}).forEach(function (k) {
            rows.push([c.when, c.who || "a former member", c.touchpoint, LABELS[k] || k, show((c.before || {})[k]), show(c.after[k])]);
          });
        });
        changes.replaceChildren(table("Blueprint edits made on this page (newest first)", ["When", "Who", "Touchpoint", "Field", "Before", "After"], rows, "jm-bp-changes-table"));
      });
    }
    refresh();
    blueprintChanges();
    var last = Date.now();
    function fresh() {  /* a rebuild or an edit elsewhere: the lists are read again when the section comes into view */
      if (Date.now() - last < 3000) { return; }
      last = Date.now();
      refresh();
      blueprintChanges();
    }
    sec.addEventListener("focusin", fresh);
    if (typeof IntersectionObserver !== "undefined") {
      new IntersectionObserver(function (entries) { if (entries.some(function (e) { return e.isIntersecting; })) { fresh(); } }).observe(sec);
    }
    document.addEventListener("jm:blueprint-saved", function () { last = 0; fresh(); });
  }
  versionsSection();
  B.setAttribute("data-curate-ready", "1");
})();
