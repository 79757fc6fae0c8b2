// Keeps an open status page current. The server sends "changed" (server-sent events) when
// what the page shows moves, and "alive" (with its time and the services' last answers) every
// few seconds while nothing does. On "changed" the page asks for its live part again, naming
// the cards it shows: the server sends back only the cards that changed.
// A stream silent for longer than it should be is said to have stopped ("Live updates stopped
// at 13:05 — reload"), and the page keeps trying to reconnect by itself.
// Every time shown is worded by the server, in its zone: the script never formats a time.
// Without JavaScript, or without EventSource, the page still works (reload to refresh).
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live || !window.fetch || !window.DOMParser) { return; }
  var status = document.querySelector("[data-live-status]");
  var keepalive = parseFloat(status && status.getAttribute("data-keepalive")) || 15;
  var silentAfter = keepalive * 1600;  // ms: 1.6 keep-alives
  var lastText = (status && status.getAttribute("data-now-text")) || "";
  var lastHeard = Date.now();
  var stopped = false;
  var busy = false;
  var again = false;
  var source = null;
  var recovered = false;

  function say(text, reload) {
    if (!status) { return; }
    status.textContent = text;
    if (reload) {
      var link = document.createElement("a");
      link.href = window.location.href;
      link.textContent = "reload";
      status.appendChild(document.createTextNode(" — "));
      status.appendChild(link);
    }
  }

  function heard(text) {
    lastHeard = Date.now();
    if (text) { lastText = text; }
    if (stopped) {
      stopped = false;
      say("Live again.");
      recovered = true;
      refresh();  // what changed while the stream was down
    }
  }

  function have() {
    var cards = live.querySelectorAll("li[data-request-id][data-v]");
    var out = [];
    for (var i = 0; i < cards.length && i < 400; i++) {
      out.push(cards[i].getAttribute("data-request-id") + "." + cards[i].getAttribute("data-v"));
    }
    return out.join(",");
  }

  function swap(data) {
    var open = {};
    var details = live.querySelectorAll("details[data-keep-open]");
    for (var i = 0; i < details.length; i++) {
      open[details[i].getAttribute("data-keep-open")] = details[i].open;
    }
    var fresh = document.createElement("template");
    fresh.innerHTML = data.html;
    var keep = fresh.content.querySelectorAll("li[data-keep]");
    for (var k = 0; k < keep.length; k++) {
      var id = keep[k].getAttribute("data-request-id");
      var shown = live.querySelector('li[data-request-id="' + id + '"][data-v]');
      if (!shown) { return false; }  // not shown after all: ask for everything
      keep[k].replaceWith(shown);
    }
    var reopen = fresh.content.querySelectorAll("details[data-keep-open]");
    for (var d = 0; d < reopen.length; d++) {
      var key = reopen[d].getAttribute("data-keep-open");
      if (key in open) { reopen[d].open = open[key]; }
    }
    live.replaceChildren(fresh.content);
    live.setAttribute("data-marker", data.marker || "");
    return true;
  }

  function refresh(full) {
    if (busy) { again = true; return; }
    busy = true;
    var headers = { "Accept": "application/json", "X-Reconciler-Live": "1" };
    if (!full) { headers["X-Reconciler-Have"] = have(); }
    fetch(window.location.href, { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || typeof data.html !== "string") { return; }
        if (!swap(data)) { again = true; full = true; return; }
        heard(data.now);
        say((recovered ? "Live again: updated at " : "Updated live at ") + lastText + ".");
        recovered = false;
      })
      .catch(function () { if (!stopped) { say("Could not refresh; reload the page to try again."); } })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(full); }
      });
  }

  function connect() {
    if (source) { source.close(); }
    var since = encodeURIComponent(live.getAttribute("data-marker") || "");
    source = new EventSource("/events?since=" + since);
    source.addEventListener("open", function () {
      var wasStopped = stopped;
      heard("");
      if (!wasStopped) { say("Updates live while this page is open."); }
    });
    source.addEventListener("changed", function () { heard(""); refresh(); });
    source.addEventListener("alive", function (event) {
      var news = null;
      try { news = JSON.parse(event.data); } catch (e) { news = null; }
      heard(news && news.now);
      if (!news || !news.services) { return; }
      var times = live.querySelectorAll("[data-service-time]");
      for (var i = 0; i < times.length; i++) {
        var name = times[i].getAttribute("data-service-time");
        if (typeof news.services[name] === "string") { times[i].textContent = news.services[name]; }
      }
    });
  }

  function watch() {
    if (!stopped && Date.now() - lastHeard > silentAfter) {
      stopped = true;
      say("Live updates stopped at " + lastText, true);
      connect();  // a fresh stream; the browser keeps retrying it while the server is away
    } else if (stopped && source && source.readyState === 2) {
      connect();  // refused outright (not a stream): try again
    }
  }

  if (window.EventSource) {
    connect();
    window.setInterval(watch, Math.min(2000, silentAfter / 4));
  } else {
    window.setInterval(refresh, 30000);
  }
})();
