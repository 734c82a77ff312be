// An event's page keeps its count of tickets left current (remaining.js), from the
// listing's live stream; sold out hides Reserve, a ticket coming back shows it again.
(function () {
  if (!window.EventSource) { return; }
  var page = document.getElementById("event");
  var eventId = page.dataset.eventId;
  var cell = document.getElementById("remaining");
  cell.dataset.suffix = " left";
  function cells() { return [cell]; }
  document.addEventListener("ticketing:remaining", function (changed) {
    var form = page.querySelector("form");
    if (form && changed.detail.id === eventId) {
      form.classList.toggle("d-none", changed.detail.remaining === 0);
    }
  });
  var source = new EventSource("/live/tickets");
  source.addEventListener("ticket", function (message) {
    var ticket = JSON.parse(message.data);
    if (ticket.eventId === eventId) { window.ticketingRemaining.refresh(eventId, cells); }
  });
})();
