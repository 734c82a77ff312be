// An event's page keeps its count of tickets left current (remaining.js), from the
// listing's live stream; sold out hides Reserve, a ticket coming back shows it again.
// Its seller sees the queue's figures (orders' /api/queue/<event>/room) as they move.
(function () {
  if (!window.EventSource) { return; }
  var panel = document.getElementById("room-panel");
  if (panel && window.fetch) {
    var figures = document.getElementById("room-figures");
    var showRoom = function () {
      fetch("/api/queue/" + encodeURIComponent(panel.dataset.eventId) + "/room",
            {headers: {Accept: "application/json"}})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (room) {
          if (!room) { return; }
          figures.textContent = room.waiting + " waiting, " + room.admitted + " let in, " +
            room.ratePerMinute + " a minute" + (room.paused ? " (paused)" : "") +
            (room.soldOut ? ", sold out" : "") + ".";
        })
        .catch(function () { /* the next round tries again */ });
    };
    showRoom();
    setInterval(showRoom, 2000);
  }
  var page = document.getElementById("event");
  var eventId = page.dataset.eventId;
  var cell = document.getElementById("remaining");
  cell.dataset.suffix = " left";
  function cells() { return [cell]; }
  document.addEventListener("ticketing:remaining", function (changed) {
    var action = page.querySelector("form") || document.getElementById("join-queue");
    if (action && changed.detail.id === eventId) {
      action.classList.toggle("d-none", changed.detail.remaining === 0);
    }
  });
  var source = new EventSource("/live/tickets");
  source.addEventListener("ticket", function (message) {
    var ticket = JSON.parse(message.data);
    if (ticket.eventId === eventId) { window.ticketingRemaining.refresh(eventId, cells); }
  });
})();
