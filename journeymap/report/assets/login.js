/* journeymap web: the login page. Posts the form to {api}/login as JSON and, once the session cookie
   is set, opens the map; a refusal is shown as the server's one sentence (as text, never HTML). */
(function () {
  "use strict";
  var form = document.getElementById("jm-login-form");
  var error = document.getElementById("jm-login-error");
  var api = document.body.getAttribute("data-api") || "/api";
  var next = document.body.getAttribute("data-next") || "/";
  if (next.charAt(0) !== "/" || next.charAt(1) === "/") { next = "/"; }  /* only this site's own pages */
  function say(text) { error.textContent = text; }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var email = form.elements.email.value.trim(), password = form.elements.password.value;
    if (!email || !password) { say("Type your email and your password."); return; }
    var button = form.querySelector("button");
    button.disabled = true;
    say("");
    fetch(api + "/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ email: email, password: password })
    }).then(function (r) {
      if (r.ok) { window.location.assign(next); return null; }
      return r.json().then(function (d) { say(d && typeof d.detail === "string" ? d.detail : "Logging in failed; try again."); },
                           function () { say("Logging in failed (HTTP " + r.status + "); try again."); });
    }).catch(function () { say("The server cannot be reached; check the address and try again."); })
      .then(function () { button.disabled = false; });
  });
  document.body.setAttribute("data-ready", "1");
})();
