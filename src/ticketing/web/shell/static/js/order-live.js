// Progressive enhancement: a cancellation or a payment made elsewhere (another tab, the
// expiry, the payment provider) shows here without a reload. The stream first says
// where the order stands, so a change between this page and the stream is not missed.
(function () {
  if (!window.EventSource) { return; }
  var status = document.getElementById("status");
  if (!status) { return; }
  var labels = JSON.parse(status.dataset.labels);
  var version = Number(status.dataset.version);
  var source = new EventSource("/live/orders/" + encodeURIComponent(status.dataset.orderId));
  source.addEventListener("order", function (message) {
    var order = JSON.parse(message.data);
    if (order.version <= version) { return; }
    version = order.version;
    status.textContent = labels[order.status] || order.status;
    if (order.status === "cancelled" || order.status === "complete") {
      document.getElementById("order-actions").classList.add("d-none");
      source.close();
    }
  });
})();
