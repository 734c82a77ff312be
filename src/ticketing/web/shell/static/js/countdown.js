// Progressive enhancement: the server already rendered the time left; this ticks it down.
(function () {
  var box = document.getElementById("time-left");
  var shown = document.getElementById("countdown");
  var deadline = Date.now() + Number(box.dataset.secondsLeft) * 1000;
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    var h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
    shown.textContent = h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
    if (left === 0) {
      clearInterval(timer);
      document.getElementById("time-left-text").textContent =
        "The time to pay is up; this order will be cancelled.";
    }
  }
  var timer = setInterval(tick, 1000);
})();
