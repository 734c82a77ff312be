// Progressive enhancement: the waitlist page hears its offer the moment a ticket comes
// back to this user, and reloads to show it with its Reserve button (the server renders
// the offer; without JavaScript a reload shows it too).
(function () {
  if (!window.EventSource) { return; }
  var list = document.getElementById("waitlist");
  if (!list) { return; }
  var source = new EventSource("/live/waitlist/" + encodeURIComponent(list.dataset.scopeId));
  source.addEventListener("offer", function () {
    source.close();
    var notice = document.getElementById("offer-live");
    if (notice) {
      notice.textContent = "A ticket came back and it is yours: opening it…";
      notice.classList.remove("d-none");
    }
    window.location.reload();
  });
})();
