// How many tickets of an event are left, kept current: a unit's change re-reads the
// event (at most every REFRESH_MS per event), since unit messages carry no count.
window.ticketingRemaining = (function () {
  var REFRESH_MS = 300;
  var pending = Object.create(null);  // event id -> a refresh is scheduled

  function show(cell, remaining) {
    cell.dataset.remaining = remaining;
    cell.textContent = remaining > 0 ? String(remaining) + (cell.dataset.suffix || "")
                                     : "Sold out";
  }
  function refresh(eventId, cells) {
    if (pending[eventId]) { return; }
    pending[eventId] = true;
    setTimeout(function () {
      pending[eventId] = false;
      fetch("/api/events/" + encodeURIComponent(eventId), {headers: {Accept: "application/json"}})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (event) {
          if (!event) { return; }
          cells(eventId).forEach(function (cell) { show(cell, event.remaining); });
          document.dispatchEvent(new CustomEvent("ticketing:remaining", {detail: event}));
        })
        .catch(function () { /* the next change tries again */ });
    }, REFRESH_MS);
  }
  return {show: show, refresh: refresh};
})();
