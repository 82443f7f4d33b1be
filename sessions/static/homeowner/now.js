// The Now page refreshes itself: every few seconds it fetches the charger cards as an HTML
// fragment and swaps them in when they changed. No build step, no library.
(function () {
  "use strict";
  var box = document.getElementById("chargers");
  var status = document.getElementById("live-status");
  if (!box || !window.fetch) return;
  var url = box.getAttribute("data-live-url");
  var seconds = Number(box.getAttribute("data-poll-seconds")) || 5;
  var failures = 0;
  var last = null;

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (response.redirected || response.status === 401 || response.status === 403) {
          window.location.reload(); // logged out: let the server send us to the login page
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        if (html !== last) {
          box.innerHTML = html;
          last = html;
        }
        failures = 0;
        status.textContent = "Updated " + new Date().toLocaleTimeString();
        box.setAttribute("data-updated", String(Date.now()));
      })
      .catch(function () {
        failures += 1;
        status.textContent = "Cannot reach the server; retrying…";
      })
      .then(function () {
        // Back off while the server is unreachable, up to a minute.
        window.setTimeout(refresh, Math.min(60, seconds * Math.pow(2, failures)) * 1000);
      });
  }
  window.setTimeout(refresh, seconds * 1000);
})();
