// Progressive enhancement: the server rendered the listing as it was; this keeps it
// current. A ticket listed or freed joins in its place (newest first), an edit shows
// in place, a reserved or sold ticket leaves. An event's units stay out of the ticket
// rows: their changes update the event's count (remaining.js), and a new event gets
// its row. Event data is only ever set as text.
(function () {
  if (!window.EventSource) { return; }
  var table = document.getElementById("tickets");
  var rows = table.tBodies[0];
  var empty = document.getElementById("no-tickets");
  var before = table.dataset.before;  // this page lists ids below it; "" on the first
  var hasMore = table.dataset.hasMore === "true";
  var money = new Intl.NumberFormat("en-US", {style: "currency", currency: "USD"});
  var seen = Object.create(null);  // ticket id -> the newest version applied
  Array.prototype.forEach.call(rows.rows, function (row) {
    seen[row.dataset.ticketId] = Number(row.dataset.version);
  });

  function find(id) {
    for (var i = 0; i < rows.rows.length; i++) {
      if (rows.rows[i].dataset.ticketId === id) { return rows.rows[i]; }
    }
    return null;
  }
  function fill(row, ticket) {
    row.dataset.version = ticket.version;
    row.querySelector('[data-field="title"]').textContent = ticket.title;
    row.querySelector('[data-field="price"]').textContent = money.format(ticket.price);
    row.querySelector("a").setAttribute("aria-label", "View " + ticket.title);
  }
  function build(ticket) {
    var row = document.createElement("tr");
    row.dataset.ticketId = ticket.id;
    var title = row.insertCell();
    title.dataset.field = "title";
    var price = row.insertCell();
    price.className = "text-end";
    price.dataset.field = "price";
    var cell = row.insertCell();
    cell.className = "text-end";
    var link = document.createElement("a");
    link.href = "/tickets/" + encodeURIComponent(ticket.id);
    link.textContent = "View";
    cell.appendChild(link);
    fill(row, ticket);
    return row;
  }
  function place(row, id) {
    if (before && id >= before) { return; }  // newer than this page: an earlier page's
    for (var i = 0; i < rows.rows.length; i++) {
      if (rows.rows[i].dataset.ticketId < id) {
        rows.insertBefore(row, rows.rows[i]);
        return;
      }
    }
    if (!hasMore) { rows.appendChild(row); }  // else older than this page: a later page's
  }

  var events = document.getElementById("events");
  function remainingCells(eventId) {
    var found = [];
    Array.prototype.forEach.call(events.tBodies[0].rows, function (row) {
      if (row.dataset.eventId === eventId) {
        found.push(row.querySelector('[data-field="remaining"]'));
      }
    });
    return found;
  }
  function addEvent(event) {
    if (before || remainingCells(event.id).length) { return; }
    var row = events.tBodies[0].insertRow(0);
    row.dataset.eventId = event.id;
    row.insertCell().textContent = event.title;
    var price = row.insertCell();
    price.className = "text-end";
    price.textContent = money.format(event.price);
    var left = row.insertCell();
    left.className = "text-end";
    left.dataset.field = "remaining";
    window.ticketingRemaining.show(left, event.remaining);
    var cell = row.insertCell();
    cell.className = "text-end";
    var link = document.createElement("a");
    link.href = "/events/" + encodeURIComponent(event.id);
    link.textContent = "View";
    link.setAttribute("aria-label", "View " + event.title);
    cell.appendChild(link);
    document.getElementById("events-section").classList.remove("d-none");
  }

  var source = new EventSource("/live/tickets");
  source.addEventListener("event", function (message) {
    addEvent(JSON.parse(message.data));
  });
  source.addEventListener("ticket", function (message) {
    var ticket = JSON.parse(message.data);
    if (ticket.eventId) {
      if (remainingCells(ticket.eventId).length) {
        window.ticketingRemaining.refresh(ticket.eventId, remainingCells);
      }
      return;
    }
    if (ticket.id in seen && ticket.version <= seen[ticket.id]) { return; }
    seen[ticket.id] = ticket.version;
    var row = find(ticket.id);
    if (!ticket.available) {
      if (row) { row.remove(); }
    } else if (row) {
      fill(row, ticket);
    } else {
      place(build(ticket), ticket.id);
    }
    var none = rows.rows.length === 0;
    table.classList.toggle("d-none", none);
    empty.classList.toggle("d-none", !none);
  });
})();
