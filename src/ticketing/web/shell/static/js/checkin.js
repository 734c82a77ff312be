// The door page: check passes in online through POST /api/checkins, and keep working
// when the network drops. The page saves the public key and the door's list of valid
// passes (localStorage, per door); offline, a pass is checked here (its Ed25519
// signature with WebCrypto, its version against the list, not let in before on this
// device), let in, and queued; the queue is sent when the network is back, and a pass
// another door let in meanwhile is reported as a conflict.
(function () {
  var root = document.getElementById("door");
  if (!root) { return; }
  var scopeId = root.dataset.scopeId;
  var storageKey = "ticketing:door:" + scopeId;
  var SYNC_EVERY_MS = 15000;
  var REFRESH_EVERY_MS = 60000;  // transfers and new sales reach the saved list this often
  var SAME_CODE_MS = 3000;
  var resultBox = document.getElementById("scan-result");
  var form = document.getElementById("typed-form");
  var input = document.getElementById("token");
  var stateLine = document.getElementById("door-state");
  var offlinePanel = document.getElementById("offline-panel");
  var queueLine = document.getElementById("queue-state");
  var conflictList = document.getElementById("conflicts");
  var keyReady = Promise.resolve(null);  // the imported CryptoKey; null without Ed25519
  var syncing = false;
  var signedOut = false;  // the session ended: scans wait until staff sign in again
  var inFlight = Object.create(null);  // ticket ids being checked right now

  function load() {
    try { return JSON.parse(localStorage.getItem(storageKey)) || {}; } catch (e) { return {}; }
  }
  var saved = load();
  saved.passes = saved.passes || {};
  saved.queue = saved.queue || [];
  saved.conflicts = saved.conflicts || [];
  var storageFull = false;  // the browser refused to keep it all (its quota is a few MB)
  function save() {
    try {
      localStorage.setItem(storageKey, JSON.stringify(saved));
      storageFull = false;
    } catch (e) {
      storageFull = true;  // it still works from memory while this page stays open
    }
  }

  function clock(iso) {
    var at = new Date(iso);
    return isNaN(at) ? iso : at.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
  }
  function show(ok, text) {
    resultBox.replaceChildren();
    var box = document.createElement("div");
    box.className = "alert fs-5 " + (ok ? "alert-success" : "alert-danger");
    box.setAttribute("role", ok ? "status" : "alert");
    box.textContent = (ok ? "Let in: " : "Refused: ") + text;
    resultBox.appendChild(box);
  }
  function counts() {
    var ids = Object.keys(saved.passes);
    var inside = ids.filter(function (id) { return saved.passes[id].in; }).length;
    if (ids.length) {
      document.getElementById("checked-in-count").textContent = String(inside);
      document.getElementById("issued-count").textContent = String(ids.length);
    }
  }
  function describeQueue() {
    offlinePanel.hidden = !saved.queue.length && !saved.conflicts.length;
    queueLine.textContent = (saved.queue.length
      ? saved.queue.length + " scan(s) waiting to sync." : "Every scan is synced.")
      + (signedOut ? " Sign in again to send them." : "");
    conflictList.replaceChildren();
    saved.conflicts.forEach(function (text) {
      var item = document.createElement("li");
      item.className = "text-danger conflict";
      item.textContent = text;
      conflictList.appendChild(item);
    });
  }
  function describeState(online) {
    var when = saved.savedAt ? " List saved " + clock(saved.savedAt) + "." : "";
    stateLine.textContent = (online ? "Online." : "Offline: checking passes on this device.")
      + when + (saved.key ? " Key " + saved.key.keyId + "." : "")
      + (storageFull ? " This browser cannot keep the whole list: keep this page open." : "");
    stateLine.dataset.online = online ? "yes" : "no";
  }

  function bytes(base64url) {
    var text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/")
      + "===".slice((base64url.length + 3) % 4));
    var out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { out[i] = text.charCodeAt(i); }
    return out;
  }
  function importKey() {
    if (!saved.key || !window.crypto || !crypto.subtle) { return; }
    keyReady = crypto.subtle.importKey("raw", bytes(saved.key.publicKey), {name: "Ed25519"},
                                       false, ["verify"])
      .catch(function () { return null; });
  }

  function api(method, url, body) {
    return fetch(url, {method: method, credentials: "same-origin",
                       headers: {"Content-Type": "application/json", Accept: "application/json"},
                       body: body ? JSON.stringify(body) : undefined})
      .then(function (response) {
        return response.json().catch(function () { return {}; })
          .then(function (data) { return {status: response.status, data: data}; });
      });
  }
  function refusal(reply) {
    return reply.data && reply.data.errors ? reply.data.errors[0].message
                                           : "the server answered " + reply.status;
  }

  function refresh() {
    return Promise.all([api("GET", "/api/passes/key"), api("GET", "/api/doors/" + scopeId)])
      .then(function (replies) {
        if (replies[0].status !== 200 || replies[1].status !== 200) { return; }
        saved.key = replies[0].data;
        saved.passes = {};
        replies[1].data.passes.forEach(function (p) {
          saved.passes[p.ticketId] = {v: p.version, in: p.checkedInAt, by: p.checkedInBy};
        });
        saved.queue.forEach(function (scan) {  // scans not yet synced stay in here
          var entry = saved.passes[scan.ticketId];
          if (entry && !entry.in) { entry.in = scan.scannedAt; entry.by = "this device"; }
        });
        saved.savedAt = new Date().toISOString();
        save(); importKey(); counts(); describeState(true);
      })
      .catch(function () { describeState(false); });
  }

  function verifyHere(token) {
    var parts = token.split(".");
    if (parts.length !== 4 || parts[0] !== "T1") {
      return Promise.resolve({ok: false, text: "This is not a ticket pass code"});
    }
    var entry = saved.passes[parts[1]];
    return keyReady.then(function (key) {
      if (!key) { return null; }  // no Ed25519 here: nothing can be let in unverified
      return crypto.subtle.verify({name: "Ed25519"}, key, bytes(parts[3]),
                                  new TextEncoder().encode(parts.slice(0, 3).join(".")))
        .catch(function () { return false; });
    }).then(function (genuine) {
      if (genuine === null) {
        return {ok: false, text: "This browser cannot check passes offline; use the network or another device"};
      }
      if (!genuine) { return {ok: false, text: "This pass is not genuine: its signature does not match"}; }
      if (!entry) { return {ok: false, text: "This pass is not on this door's list"}; }
      if (String(entry.v) !== parts[2]) {
        return {ok: false, text: "This pass is no longer valid: the ticket was transferred, resold or refunded"};
      }
      if (entry.in) {
        return {ok: false, text: "Already checked in at " + clock(entry.in) + " by " + entry.by};
      }
      return {ok: true, ticketId: parts[1]};
    });
  }

  function offline(token) {
    var ticketId = token.split(".")[1];
    if (inFlight[ticketId]) { return Promise.resolve(); }  // the same code, scanned twice
    inFlight[ticketId] = true;
    return verifyHere(token).then(function (verdict) {
      delete inFlight[ticketId];
      if (!verdict.ok) { show(false, verdict.text + " (checked offline)"); return; }
      var at = new Date().toISOString();
      saved.passes[verdict.ticketId].in = at;
      saved.passes[verdict.ticketId].by = "this device";
      saved.queue.push({token: token, ticketId: verdict.ticketId, scannedAt: at});
      save(); counts(); describeQueue(); describeState(false);
      show(true, "ticket " + verdict.ticketId + " (offline; syncs when the network is back)");
    });
  }

  function checkIn(token) {
    token = token.trim();
    if (!token) { return Promise.resolve(); }
    if (!navigator.onLine) { return offline(token); }
    return api("POST", "/api/checkins", {token: token, scopeId: scopeId})
      .then(function (reply) {
        if (reply.status >= 500) { describeState(false); return offline(token); }
        if (reply.status === 201) {
          var entry = saved.passes[reply.data.ticketId];
          if (entry) { entry.in = reply.data.checkedInAt; entry.by = reply.data.checkedInBy; }
          save(); counts();
          show(true, "ticket " + reply.data.ticketId);
        } else {
          show(false, refusal(reply));
        }
      })
      .catch(function () { describeState(false); return offline(token); });
  }

  function sync() {
    if (syncing || !saved.queue.length || !navigator.onLine) { return Promise.resolve(); }
    syncing = true;
    var scan = saved.queue[0];
    return api("POST", "/api/checkins",
               {token: scan.token, scannedAt: scan.scannedAt, scopeId: scopeId})
      .then(function (reply) {
        signedOut = reply.status === 401;
        if (signedOut) { describeQueue(); }
        // Only a verdict on the pass takes it off the queue; anything else is tried again.
        if ([201, 400, 409].indexOf(reply.status) < 0) { return false; }
        saved.queue.shift();
        if (reply.status !== 201) {
          saved.conflicts.push("Ticket " + scan.ticketId + ", let in here offline at "
            + clock(scan.scannedAt) + ": " + refusal(reply));
        }
        save(); describeQueue();
        return true;
      })
      .catch(function () { return false; })
      .then(function (more) {
        syncing = false;
        if (more && saved.queue.length) { return sync(); }
        if (!saved.queue.length) { return refresh(); }
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var token = input.value;
    input.value = "";
    checkIn(token).then(function () { input.focus(); });
  });
  // Live counts from every door of this scope; closed while offline (a real outage
  // drops it anyway) and opened again, after a fresh list, when the network is back.
  var live = null;
  function follow() {
    if (!window.EventSource || live) { return; }
    live = new EventSource("/live/doors/" + encodeURIComponent(scopeId));
    live.addEventListener("checkin", function (message) {
      var data = JSON.parse(message.data);
      var entry = saved.passes[data.ticketId];
      if (entry) { entry.in = data.checkedInAt; entry.by = data.checkedInBy; save(); counts(); }
    });
  }
  function unfollow() { if (live) { live.close(); live = null; } }

  window.addEventListener("online", function () {
    describeState(true); follow();
    if (saved.queue.length) { sync(); } else { refresh(); }  // sync refreshes when done
  });
  window.addEventListener("offline", function () { describeState(false); unfollow(); });
  setInterval(sync, SYNC_EVERY_MS);
  setInterval(function () {
    if (navigator.onLine && !saved.queue.length) { refresh(); }
  }, REFRESH_EVERY_MS);
  if (navigator.onLine) { follow(); }

  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    var panel = document.getElementById("camera-panel");
    var video = document.getElementById("camera");
    panel.classList.remove("d-none");
    document.getElementById("camera-start").addEventListener("click", function (click) {
      click.currentTarget.disabled = true;  // one camera stream, one scanning loop
      var detector = new window.BarcodeDetector({formats: ["qr_code"]});
      var last = {code: "", at: 0};
      navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}})
        .then(function (stream) {
          video.srcObject = stream;
          video.classList.remove("d-none");
          return video.play();
        })
        .then(function () {
          setInterval(function () {
            detector.detect(video).then(function (codes) {
              if (!codes.length) { return; }
              var code = codes[0].rawValue;
              if (code === last.code && Date.now() - last.at < SAME_CODE_MS) { return; }
              last = {code: code, at: Date.now()};
              checkIn(code);
            }).catch(function () { /* the next frame tries again */ });
          }, 250);
        })
        .catch(function () { show(false, "the camera is not available; type the code"); });
    });
  }

  importKey(); counts(); describeQueue(); describeState(navigator.onLine);
  refresh().then(sync);
})();
