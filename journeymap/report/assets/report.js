/* journeymap report: details dialog, persona filter, charts (ECharts, inlined). Reads only the
   inlined document data; makes no network request. Every text a chart shows as HTML (tooltips) goes
   through esc(): names come from users. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("jm-data").textContent);
  /* Okabe-Ito; orange, sky, yellow and grey darkened (same hue) to 3:1 against white (WCAG 1.4.11) */
  var BLUE = "#0072B2", ORANGE = "#C48800", VERMILLION = "#D55E00", SKY = "#1E9BE2", GREEN = "#009E73",
      YELLOW = "#A1960D", PURPLE = "#CC79A7", GREY = "#939393";
  var PALETTE = [BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, "#000000", YELLOW, GREY];
  var charts = [];

  /* -- text and numbers --------------------------------------------------------------------- */
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;", "`": "&#96;" };
  function esc(s) { return String(s === null || s === undefined ? "" : s).replace(/[&<>"'`]/g, function (c) { return ESC[c]; }); }
  var INT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  function num(x) { return x === null || x === undefined || isNaN(x) ? "–" : (Math.abs(x - Math.round(x)) < 1e-9 ? INT.format(x) : new Intl.NumberFormat("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(x)); }
  function pct(x) { return x === null || x === undefined || isNaN(x) ? "–" : (x * 100).toFixed(1) + "%"; }
  function signed(x) { return x === null || x === undefined ? "–" : (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(2); }
  var MIN_N_INTERVAL = 5;
  function rateText(r) {  /* a rate with its interval (from 5 cases on) and counts */
    if (!r) { return "–"; }
    var ci = r.low !== null && r.low !== undefined && r.n >= MIN_N_INTERVAL ? " (95% CI " + pct(r.low) + "–" + pct(r.high) + ")" : "";
    return pct(r.value) + ci + ", " + num(r.k) + " of " + num(r.n);
  }
  /* one tooltip body: a title line, then label/value lines; everything escaped */
  function tip(title, lines) {
    return "<strong>" + esc(title) + "</strong>" + lines.map(function (l) { return "<br>" + esc(l); }).join("");
  }

  /* -- details dialog ----------------------------------------------------------------------- */
  var panel = document.getElementById("details");
  var body = panel ? panel.querySelector(".details-body") : null;
  var opener = null;
  function closeDetails() {
    if (!panel || panel.hidden) { return; }
    panel.hidden = true;
    document.body.classList.remove("details-open");
    document.querySelectorAll(".tp.selected").forEach(function (b) { b.classList.remove("selected"); });
    if (opener && document.contains(opener)) { opener.focus({ preventScroll: true }); }
    opener = null;
  }
  function keepInView(btn) {  /* the card stays visible beside (wide) or above (narrow) the panel */
    var r = btn.getBoundingClientRect(), p = panel.getBoundingClientRect();
    var navH = (document.querySelector("nav.toc") || { offsetHeight: 0 }).offsetHeight;
    var head = btn.closest("table") ? btn.closest("table").querySelector("thead") : null;
    var top = navH + (head ? head.offsetHeight : 0) + 8;
    var bottom = p.left < 20 ? p.top - 8 : window.innerHeight - 8;   /* bottom sheet: above it */
    if (r.top < top) { window.scrollBy(0, r.top - top); }
    else if (r.bottom > bottom) { window.scrollBy(0, r.bottom - bottom); }
  }
  function openDetails(btn) {
    var article = document.getElementById(btn.getAttribute("data-tp"));
    if (!article || !panel) { return; }
    var copy = article.cloneNode(true);
    copy.removeAttribute("id");
    copy.style.display = "block";
    var h = copy.querySelector("h3");
    if (h) { h.id = "details-title"; }
    body.replaceChildren(copy);
    document.querySelectorAll(".tp.selected").forEach(function (b) { b.classList.remove("selected"); });
    btn.classList.add("selected");
    opener = btn;
    panel.hidden = false;
    panel.scrollTop = 0;
    document.body.classList.add("details-open");
    panel.setAttribute("data-open", btn.getAttribute("data-name"));
    btn.scrollIntoView({ block: "nearest", inline: "nearest" });
    keepInView(btn);
    panel.querySelector(".close").focus({ preventScroll: true });
    if (WEB) {
      if (!copy.querySelector(".jm-comments")) {  /* a persona grid's card: the touchpoint's one thread */
        var id = btn.getAttribute("data-element");
        document.querySelectorAll(".tp-details .jm-comments").forEach(function (s) {
          if (s.getAttribute("data-comments-for") === id && !copy.querySelector(".jm-comments")) { copy.appendChild(s.cloneNode(true)); }
        });
      }
      fillComments(copy);
    }
  }
  document.querySelectorAll("button.tp").forEach(function (btn) {
    btn.addEventListener("click", function () { openDetails(btn); });
  });

  /* -- web page only (body data-mode="web"): comment threads per map element, live events ---------- */
  /* The file report (data-mode="file") has no comment slot and never calls the network. On the web
     page every element with data-element opens the details panel with its thread:
     GET {api}/comments?element=ID -> [{id, author, text, created, parent, resolved, mentions: [email],
     changes: ["conversion was 18.3%, now 21.0%", ...]}]; a commenter (data-can-comment="1") posts
     POST {api}/comments {"element": ID, "text": ..., "parent": null|id}, resolves or reopens with
     PATCH {api}/comments/{id} {"resolved": true|false}, both with X-CSRF-Token. The page's HTML is the
     same for everyone of a role: the CSRF token and the user come from GET {api}/me. Live events from
     {api}/events (Server-Sent Events): "comment" ({"element"}) refreshes that element's open thread,
     "presence" ({"viewers"}) says who is viewing, "map" ({"version"}) and "blueprint" show a notice
     with a reload button. Every user string reaches the page as text (textContent), never as HTML. */
  var WEB = document.body.getAttribute("data-mode") === "web";
  var API = document.body.getAttribute("data-api") || "/api";
  var CSRF = document.body.getAttribute("data-csrf") || "";
  var ME = document.body.getAttribute("data-user") || "";
  var MAP_VERSION = document.body.getAttribute("data-map-version") || "";
  /* bidi overrides and zero-width characters never reach the page (as journeymap.safety.display_text) */
  var INVISIBLE = /[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u2060\ufeff\u061c]/g;
  function clean(s) { return String(s === null || s === undefined ? "" : s).replace(INVISIBLE, ""); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = clean(text); }  /* text only, never HTML */
    return e;
  }
  var CAN = document.body.getAttribute("data-can-comment") === "1";
  function api(method, path, payload) {
    var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (payload !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = CSRF;
      opts.body = JSON.stringify(payload);
    }
    return fetch(API + path, opts);
  }
  /* who I am and my CSRF token (not in the shared, cached HTML); writes wait for it */
  var whoami = !WEB ? null : (CSRF ? Promise.resolve(null) : api("GET", "/me")
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (d) { if (d) { CSRF = d.csrf || ""; ME = d.user || ""; } return d; })
    .catch(function () { return null; }));
  function write(method, path, payload) { return whoami.then(function () { return api(method, path, payload); }); }
  function detail(r) {  /* the server's one sentence for a refused request */
    return r.json().then(function (d) { return d && typeof d.detail === "string" ? d.detail : "HTTP " + r.status; },
                         function () { return "The request failed (HTTP " + r.status + "); try again."; });
  }
  function parentOf(c) { var p = c.parent !== undefined ? c.parent : c.parent_id; return p === null || p === undefined ? "" : String(p); }
  /* the comment's text with its @mentions of members marked; built from text nodes only */
  var MENTION = /@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)?)/g;
  function mentionText(p, text, mentions) {
    text = clean(text);
    var known = {};
    (mentions || []).forEach(function (m) { m = String(m).toLowerCase(); known[m] = 1; known[m.split("@")[0]] = 1; });
    var at = 0, m;
    MENTION.lastIndex = 0;
    while ((m = MENTION.exec(text)) !== null) {
      var before = m.index ? text.charAt(m.index - 1) : "";
      var word = m[1].replace(/\.+$/, "");
      if (/[\w@.]/.test(before) || !known[word.toLowerCase()]) { continue; }
      p.appendChild(document.createTextNode(text.slice(at, m.index)));
      p.appendChild(el("mark", "jm-mention", "@" + word));
      at = m.index + 1 + word.length;
    }
    p.appendChild(document.createTextNode(text.slice(at)));
    return p;
  }
  function replyForm(slot, parentId) {
    var form = el("form", "jm-comment-form jm-reply-form");
    form.setAttribute("data-parent", String(parentId));
    var label = el("label", null, "Reply ");
    var ta = el("textarea");
    ta.name = "text";
    ta.rows = 2;
    ta.maxLength = 5000;
    ta.required = true;
    label.appendChild(ta);
    form.appendChild(label);
    var b = el("button", null, "Post reply");
    b.type = "submit";
    form.appendChild(b);
    return form;
  }
  function drawThread(slot, comments) {
    var list = slot.querySelector(".jm-thread");
    if (!list) { return; }
    var items = [];
    var byParent = {};
    comments.forEach(function (c) { (byParent[parentOf(c)] = byParent[parentOf(c)] || []).push(c); });
    function add(c, depth) {
      var li = el("li", "jm-comment" + (c.resolved ? " resolved" : "") + (depth ? " reply" : ""));
      li.setAttribute("data-comment-id", String(c.id));
      li.appendChild(el("div", "jm-meta", (c.author || "former member") + " · " + (c.created || c.created_at || "") + (c.resolved ? " · resolved" : "")));
      li.appendChild(mentionText(el("p", "jm-text"), c.text, c.mentions));
      if ((c.changes || []).length) {
        var since = el("div", "jm-changes small");
        since.appendChild(el("span", "jm-changes-h", "Since this comment: "));
        (c.changes || []).forEach(function (line, i) { since.appendChild(el("span", "jm-change", line)); if (i < c.changes.length - 1) { since.appendChild(document.createTextNode("; ")); } });
        li.appendChild(since);
      }
      if (CAN) {
        var tools = el("div", "jm-tools");
        if (!depth) {
          var rb = el("button", "jm-reply", "Reply");
          rb.type = "button";
          rb.addEventListener("click", function () { if (!li.querySelector(".jm-reply-form")) { li.appendChild(replyForm(slot, c.id)); li.querySelector("textarea").focus(); } });
          tools.appendChild(rb);
        }
        var sb = el("button", "jm-resolve", c.resolved ? "Reopen" : "Resolve");
        sb.type = "button";
        sb.addEventListener("click", function () {
          write("PATCH", "/comments/" + encodeURIComponent(c.id), { resolved: !c.resolved }).then(function () { fillComments(slot.parentNode); });
        });
        tools.appendChild(sb);
        li.appendChild(tools);
      }
      items.push(li);
      (byParent[String(c.id)] || []).forEach(function (r) { add(r, depth + 1); });
    }
    (byParent[""] || []).forEach(function (c) { add(c, 0); });
    if (!items.length) { items.push(el("li", "muted", "No comments yet.")); }
    list.replaceChildren.apply(list, items);
  }
  function fillComments(root) {
    root.querySelectorAll(".jm-comments").forEach(function (slot) {
      var id = slot.getAttribute("data-comments-for");
      api("GET", "/comments?element=" + encodeURIComponent(id))
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (d) { drawThread(slot, Array.isArray(d) ? d : (d.comments || [])); })
        .catch(function () { drawThread(slot, []); });
    });
  }
  function openElement(target) {  /* a stage, pain point, opportunity or theme: its text and its thread */
    var id = target.getAttribute("data-element");
    var slot = null;
    document.querySelectorAll("#jm-comment-slots .jm-comments").forEach(function (s) { if (s.getAttribute("data-comments-for") === id) { slot = s; } });
    if (!panel || !slot) { return; }
    var box = el("div", "element-detail");
    var h = el("h3", null, target.textContent.replace(/\s+/g, " ").trim().slice(0, 200));
    h.id = "details-title";
    box.appendChild(h);
    box.appendChild(slot.cloneNode(true));
    body.replaceChildren(box);
    opener = target;
    panel.hidden = false;
    document.body.classList.add("details-open");
    panel.setAttribute("data-open", id);
    panel.querySelector(".close").focus({ preventScroll: true });
    fillComments(box);
  }
  function openById(id) {  /* open whatever element has this id (a touchpoint card or another element) */
    var t = null;
    document.querySelectorAll("[data-element]").forEach(function (e) { if (!t && e.getAttribute("data-element") === id && e.offsetParent !== null) { t = e; } });
    if (!t) { return; }
    if (t.tagName === "BUTTON") { openDetails(t); } else { openElement(t); }
  }
  function notice(text) {  /* non-modal: the map or the blueprint changed; the reader reloads when ready */
    var box = document.getElementById("jm-notice");
    if (!box) { return; }
    var b = el("button", "jm-reload", "Reload");
    b.type = "button";
    b.addEventListener("click", function () { window.location.reload(); });
    box.replaceChildren(el("span", null, text + " "), b);
    box.classList.add("shown");
  }
  function showMentions() {  /* the comments that @mention me, each a button to its element */
    var box = document.getElementById("jm-me");
    if (!box) { return; }
    api("GET", "/comments?mentioning=me").then(function (r) { return r.ok ? r.json() : []; }).then(function (list) {
      if (!Array.isArray(list) || !list.length) { box.hidden = true; return; }
      var parts = [el("span", null, "Mentioning you: ")];
      list.slice(-5).forEach(function (c) {
        var b = el("button", "jm-mention-link", (c.author || "former member") + " on " + decodeURIComponent(String(c.element).split(":").slice(1).join(" · ")));
        b.type = "button";
        b.addEventListener("click", function () { openById(c.element); });
        parts.push(b);
      });
      box.replaceChildren.apply(box, parts);
      box.hidden = false;
    }).catch(function () {});
  }
  if (WEB) {
    document.querySelectorAll("[data-element]:not(button)").forEach(function (t) {
      t.tabIndex = 0;
      t.classList.add("jm-element");
      t.addEventListener("click", function (e) { if (!e.target.closest("a, button, summary")) { openElement(t); } });
      t.addEventListener("keydown", function (e) { if (e.key === "Enter") { openElement(t); } });
    });
    document.addEventListener("submit", function (e) {
      var form = e.target.closest(".jm-comment-form");
      if (!form) { return; }
      e.preventDefault();
      var slot = form.closest(".jm-comments");
      var ta = form.querySelector("textarea");
      if (!ta.value.trim()) { return; }
      var parent = form.getAttribute("data-parent");
      var err = form.querySelector(".jm-error") || form.appendChild(el("p", "jm-error"));
      err.setAttribute("role", "alert");
      write("POST", "/comments", { element: slot.getAttribute("data-comments-for"), text: ta.value, parent: parent ? +parent : null })
        .then(function (r) {
          if (r.ok) { ta.value = ""; err.textContent = ""; fillComments(slot.parentNode); return; }
          return detail(r).then(function (t) { err.textContent = t; });
        })
        .catch(function () { err.textContent = "The server cannot be reached; your text is still here, try again."; });
    });
    whoami.then(showMentions);
    if (typeof EventSource !== "undefined") {
      var events = new EventSource(API + "/events");
      var on = function (name, f) {
        events.addEventListener(name, function (e) { var d; try { d = JSON.parse(e.data); } catch (err) { return; } f(d || {}); });
      };
      on("comment", function (d) {  /* a comment posted or resolved anywhere: refresh that element's open thread */
        if (panel && !panel.hidden) {
          body.querySelectorAll(".jm-comments").forEach(function (slot) {
            if (!d.element || slot.getAttribute("data-comments-for") === d.element) { fillComments(slot.parentNode); }
          });
        }
        if (d.by !== ME) { showMentions(); }
      });
      on("presence", function (d) {
        var who = document.getElementById("jm-viewers");
        if (who && Array.isArray(d.viewers)) { who.textContent = d.viewers.length ? clean(d.viewers.join(", ")) : "just you"; }
      });
      on("map", function (d) {
        if (String(d.version) !== MAP_VERSION) { notice("The map was rebuilt (version " + d.version + ") — reload to see it."); }
      });
      on("blueprint", function (d) {
        notice("The blueprint was edited" + (d.touchpoint ? " (" + d.touchpoint + ")" : "") + " — reload to see it.");
      });
      events.addEventListener("open", function () { document.body.setAttribute("data-live", "1"); });
      events.addEventListener("error", function () { document.body.setAttribute("data-live", "0"); });
    }
  }
  if (panel) {
    panel.querySelector(".close").addEventListener("click", closeDetails);
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") { closeDetails(); } });
  }
  var printBtn = document.getElementById("print-btn");
  if (printBtn) { printBtn.addEventListener("click", function () { window.print(); }); }

  /* wide tables scroll sideways inside their own box on narrow screens; a box that scrolls takes the
     keyboard focus (arrow keys scroll it) and is named after its section */
  document.querySelectorAll("table.data").forEach(function (t) {
    var box = document.createElement("div");
    box.className = "table-scroll";
    t.parentNode.insertBefore(box, t);
    box.appendChild(t);
  });
  function scrollBoxes() {
    document.querySelectorAll(".table-scroll, .grid-frame").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1) {
        var section = box.closest("section");
        var title = section && section.querySelector("h2") ? section.querySelector("h2").textContent : "Table";
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        if (!box.hasAttribute("aria-label")) { box.setAttribute("aria-label", title + " (scrolls)"); }
      } else if (box.classList.contains("table-scroll")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      } else {
        box.removeAttribute("tabindex");
      }
    });
  }
  scrollBoxes();

  /* sticky stage headers sit under the sticky navigation bar */
  function navHeight() {
    var nav = document.querySelector("nav.toc");
    document.documentElement.style.setProperty("--nav-h", (nav ? nav.offsetHeight : 0) + "px");
  }
  navHeight();

  /* -- charts -------------------------------------------------------------------------------- */
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") { return null; }
    var c = echarts.init(el, null, { renderer: "svg" });
    option.color = option.color || PALETTE;
    option.animation = false;
    c.setOption(option);
    charts.push(c);
    return c;
  }

  function emotionOption(emo) {
    return {
      tooltip: { trigger: "axis", formatter: function (ps) {
        var p = emo[ps[0].dataIndex];
        var lines = ["Mean emotion " + (p.mean === null ? "–" : signed(p.mean))];
        if (p.low !== null && p.n >= MIN_N_INTERVAL) { lines.push("95% CI " + signed(p.low) + " to " + signed(p.high)); }
        lines.push(num(p.n) + " feedback items");
        return tip(p.name, lines);
      } },
      grid: { left: 50, right: 20, top: 20, bottom: 40 },
      xAxis: { type: "category", data: emo.map(function (p) { return p.name + " (n=" + num(p.n) + ")"; }) },
      yAxis: { type: "value", min: -1, max: 1, name: "emotion" },
      visualMap: { show: false, dimension: 1, pieces: [{ lt: -0.05, color: VERMILLION }, { gte: -0.05, lte: 0.05, color: "#6b7682" }, { gt: 0.05, color: BLUE }] },
      series: [
        { type: "line", name: "low", data: emo.map(function (p) { return p.low; }), lineStyle: { opacity: 0 }, symbol: "none", stack: "ci", stackStrategy: "all", connectNulls: true, silent: true },
        { type: "line", name: "95% interval", data: emo.map(function (p) { return p.low === null ? null : p.high - p.low; }), lineStyle: { opacity: 0 }, symbol: "none", stack: "ci", stackStrategy: "all", areaStyle: { color: SKY, opacity: 0.25 }, connectNulls: true, silent: true },
        { type: "line", name: "mean", data: emo.map(function (p) { return p.mean; }), symbolSize: 10, lineStyle: { width: 3, color: BLUE },
          label: { show: true, formatter: function (d) { return d.value === null || d.value === undefined ? "" : signed(d.value); } },
          markLine: { silent: true, symbol: "none", data: [{ yAxis: 0 }], lineStyle: { color: "#666", type: "dashed" } } }
      ]
    };
  }
  var emotion = data.emotion.stages.length ? chart("chart-emotion", emotionOption(data.emotion.stages)) : null;

  var sk = data.sankey;
  var labels = {};
  var OUTCOME = { CONVERTED: ["Converted", GREEN], DROPPED: [data.outcomes.dropped, VERMILLION], IN_PROGRESS: [data.outcomes.in_progress, "#6b7682"] };
  sk.nodes.forEach(function (n) { labels[n.id] = OUTCOME[n.label] ? OUTCOME[n.label][0] : n.label; });
  function nodeName(id) { return labels[id] !== undefined ? labels[id] : id; }
  var unit = sk.unit || "journeys";
  if (sk.nodes.length) {
    chart("chart-sankey", {
      tooltip: { trigger: "item", formatter: function (p) {
        if (p.dataType === "edge") {
          return tip(nodeName(p.data.source) + " → " + nodeName(p.data.target), [num(p.data.value) + " " + unit]);
        }
        return tip(nodeName(p.name), [num(p.value) + " " + unit]);
      } },
      series: [{ type: "sankey", left: 10, right: 110, top: 10, bottom: 10, nodeGap: 8, nodeAlign: "left", layoutIterations: 32,
        emphasis: { focus: "adjacency" },
        data: sk.nodes.map(function (n) {
          return OUTCOME[n.label] ? { name: n.id, itemStyle: { color: OUTCOME[n.label][1] } } : { name: n.id };
        }),
        links: sk.links.map(function (l) { return { source: l.source, target: l.target, value: l.value }; }),
        lineStyle: { color: "gradient", opacity: 0.35 },
        label: { fontSize: 11, color: "#1b1f24", textBorderColor: "#ffffff", textBorderWidth: 3, formatter: function (p) { return nodeName(p.name); } } }]
    });
  }

  var funnel = null;
  function funnelOption(rows, title) {
    return {
      title: { text: title, textStyle: { fontSize: 13 } },
      tooltip: { trigger: "axis", formatter: function (ps) {
        var r = rows[ps[0].dataIndex];
        return tip(r.stage, ["Reach " + rateText(r.reach)]);
      } },
      grid: { left: 110, right: 150, top: 30, bottom: 20 },
      xAxis: { type: "value", max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } },
      yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.stage; }) },
      series: [{ type: "bar", data: rows.map(function (r) { return r.reach ? r.reach.value : null; }), itemStyle: { color: BLUE },
        label: { show: true, position: "right", formatter: function (d) {
          var r = rows[d.dataIndex].reach;
          if (!r) { return "–"; }
          var ci = r.low !== null && r.n >= MIN_N_INTERVAL ? " (" + pct(r.low) + "–" + pct(r.high) + ")" : "";
          return pct(r.value) + ci + ", n=" + num(r.n);
        } } }]
    };
  }
  if (data.funnel.length) { funnel = chart("chart-funnel", funnelOption(data.funnel, "All customers")); }

  var at = data.attribution;
  if (at.rows.length) {
    chart("chart-attribution", {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, formatter: function (ps) {
        var r = at.rows[ps[0].dataIndex];
        return tip(r.touchpoint, at.models.map(function (m) {
          return m.replace(/_/g, " ") + ": " + pct(r.shares[m]) + " of the credit (" + num(r.credits[m]) + " conversions)";
        }));
      } },
      legend: { type: "scroll", top: 0 },
      grid: { left: 150, right: 20, top: 40, bottom: 30 },
      xAxis: { type: "value", axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } },
      yAxis: { type: "category", inverse: true, data: at.rows.map(function (r) { return r.touchpoint; }) },
      series: at.models.map(function (m) {
        return { type: "bar", name: m.replace(/_/g, " "), data: at.rows.map(function (r) { return r.shares[m] === undefined ? null : r.shares[m]; }) };
      })
    });
  }

  /* -- persona filter ------------------------------------------------------------------------ */
  var select = document.getElementById("persona-filter");
  function applyPersona(idx) {
    var active = idx !== "";
    document.body.classList.toggle("persona-active", active);
    document.body.setAttribute("data-persona", active ? data.personas[+idx].name : "");
    document.querySelectorAll(".persona-only").forEach(function (el) {
      el.style.display = active && el.getAttribute("data-persona-figure") === idx ? "block" : "none";
    });
    document.querySelectorAll(".persona").forEach(function (el) {
      el.classList.toggle("active", el.getAttribute("data-persona-col") === idx);
    });
    var name = active ? data.personas[+idx].name : null;
    var own = null;
    document.querySelectorAll(".persona-grid").forEach(function (el) {
      var mine = name !== null && el.getAttribute("data-persona-grid") === name;
      el.hidden = !mine;
      if (mine) { own = el; }
    });
    var all = document.getElementById("grid-all");
    if (all) { all.hidden = own !== null; }
    document.body.classList.toggle("persona-grid-active", own !== null);
    closeDetails();
    var pains = active && own === null ? data.personas[+idx].top_pain_points : [];
    document.querySelectorAll("button.tp").forEach(function (b) {
      b.classList.toggle("persona-pain", pains.indexOf(b.getAttribute("data-name")) >= 0);
    });
    /* sections whose persona version is in the document follow the filter; the others say "all customers" */
    var map = null;
    (data.persona_maps || []).forEach(function (m) { if (m.persona === name) { map = m; } });
    document.querySelectorAll(".pviews").forEach(function (box) {
      var views = [].slice.call(box.children).filter(function (v) { return v.classList.contains("pview"); });
      var match = views.filter(function (v) { return name !== null && v.getAttribute("data-pview") === name; })[0];
      views.forEach(function (v) { v.hidden = match ? v !== match : v.getAttribute("data-pview") !== ""; });
    });
    document.querySelectorAll(".pview-banner").forEach(function (el) { el.hidden = el.getAttribute("data-pview") !== name; });
    document.querySelectorAll(".all-note").forEach(function (el) { el.hidden = !active; });
    if (emotion) {
      var opt = emotionOption(map ? map.emotion : data.emotion.stages);
      opt.color = PALETTE;
      opt.animation = false;
      emotion.setOption(opt, true);
    }
    if (funnel) {
      var rows = map ? map.funnel : active ? data.personas[+idx].stages : data.funnel;
      funnel.setOption(funnelOption(rows, active ? data.personas[+idx].name : "All customers"));
    }
  }
  if (select) { select.addEventListener("change", function () { applyPersona(select.value); scrollBoxes(); }); }
  document.querySelectorAll("details").forEach(function (d) { d.addEventListener("toggle", scrollBoxes); });

  window.addEventListener("resize", function () { navHeight(); scrollBoxes(); charts.forEach(function (c) { c.resize(); }); });
  var closedForPrint = [];
  window.addEventListener("beforeprint", function () {
    closedForPrint = [].slice.call(document.querySelectorAll("details:not([open])"));
    closedForPrint.forEach(function (d) { d.open = true; });  /* print = one document, details expanded */
    charts.forEach(function (c) { c.resize(); });
  });
  window.addEventListener("afterprint", function () {
    closedForPrint.forEach(function (d) { d.open = false; });
    closedForPrint = [];
  });
  document.body.setAttribute("data-ready", "1");
})();
