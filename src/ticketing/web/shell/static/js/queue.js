// The queue page, live: the room's figures arrive over /live/queue/<event>, and the
// page works out its own place from its rank; it asks the server (GET /api/queue/<event>)
// only when it has no rank yet, when its turn may have come, and once a minute to keep
// its place. Data is only ever set as text.
(function () {
  var page = document.getElementById("queue");
  if (!page || !window.EventSource || !window.fetch) { return; }
  var eventId = page.dataset.eventId;
  var rank = page.dataset.rank ? Number(page.dataset.rank) : null;
  var rate = Number(page.dataset.rate);
  var state = page.dataset.state;
  var asking = false;
  var HEARTBEAT_MS = 60000;

  function showOnly(name) {
    ["waiting", "admitted", "lapsed", "sold-out"].forEach(function (part) {
      document.getElementById("queue-" + part).classList.toggle("d-none", part !== name);
    });
  }
  function showPlace(ahead) {
    document.getElementById("queue-position").textContent =
      "You are number " + rank + " in the queue: " + ahead + " ahead of you.";
    var seconds = Math.ceil((ahead + 1) * 60 / rate);
    document.getElementById("queue-estimate").textContent =
      "About " + seconds + " seconds to go.";
  }
  function ask() {
    if (asking) { return; }
    asking = true;
    fetch("/api/queue/" + encodeURIComponent(eventId), {headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (place) {
        asking = false;
        if (!place) { return; }
        if (place.state !== state && (place.state === "admitted" || place.state === "lapsed")) {
          window.location.reload();  // the page renders the turn (and its form) itself
          return;
        }
        state = place.state;
        rate = place.ratePerMinute;
        if (place.rank !== null) {
          rank = place.rank;
          if (state === "waiting") { showPlace(place.ahead); }
        }
        if (state === "sold_out") { showOnly("sold-out"); }
        document.getElementById("queue-paused").classList.toggle("d-none", !place.paused);
      })
      .catch(function () { asking = false; });
  }

  var source = new EventSource("/live/queue/" + encodeURIComponent(eventId));
  source.addEventListener("room", function (message) {
    if (state !== "waiting") { return; }
    var room = JSON.parse(message.data);
    rate = room.ratePerMinute;
    document.getElementById("queue-paused").classList.toggle("d-none", !room.paused);
    if (room.soldOut) {
      state = "sold_out";
      showOnly("sold-out");
      source.close();
      return;
    }
    if (rank === null || room.admittedRank >= rank) { ask(); return; }
    showPlace(Math.max(0, rank - room.admittedRank - 1));
  });
  setInterval(ask, HEARTBEAT_MS);
})();
