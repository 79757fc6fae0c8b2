// Keeps an open status page current: the server sends "changed" (server-sent events) when
// what the page shows moves, and the page fetches itself again and swaps its live part.
// Without JavaScript, or without EventSource, the page still works (reload to refresh).
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live || !window.fetch || !window.DOMParser) { return; }
  var status = document.querySelector("[data-live-status]");
  var busy = false;
  var again = false;

  function say(text) { if (status) { status.textContent = text; } }
  function clock() {
    var d = new Date();
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { headers: { "Accept": "text/html" }, cache: "no-store", credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (text === null) { return; }
        var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("[data-live]");
        if (!fresh) { return; }
        live.innerHTML = fresh.innerHTML;
        live.setAttribute("data-marker", fresh.getAttribute("data-marker") || "");
        say("Updated live at " + clock() + ".");
      })
      .catch(function () { say("Could not refresh; reload the page to try again."); })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  if (window.EventSource) {
    var since = encodeURIComponent(live.getAttribute("data-marker") || "");
    var source = new EventSource("/events?since=" + since);
    source.addEventListener("changed", refresh);
    source.addEventListener("open", function () { say("Updates live while this page is open."); });
  } else {
    window.setInterval(refresh, 30000);
  }
})();
