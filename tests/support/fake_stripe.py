"""A local stand-in for Stripe's HTTP API, enough for the PaymentIntents we use.

The real ``stripe`` library talks to it (``TICKETING_STRIPE_API_BASE`` points there),
so tests see exactly what would go over the wire: form-encoded parameters, the
``Idempotency-Key`` header, the API key. It mirrors Stripe's test references
(``pm_card_visa``, ``tok_visa``, ``pm_card_chargeDeclined``, ``tok_chargeDeclined``,
``pm_card_authenticationRequired``, ``tok_threeDSecure2Required``), replays an
idempotency key's first answer, and signs webhook events like Stripe does.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

SUCCEEDING = frozenset({"pm_card_visa", "tok_visa"})
DECLINING = frozenset({"pm_card_chargeDeclined", "tok_chargeDeclined"})
NEEDING_ACTION = frozenset({"pm_card_authenticationRequired", "tok_threeDSecure2Required"})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]


class FakeStripe:
    """The server's state; tests read ``requests`` and drive intents with the helpers."""

    def __init__(self) -> None:
        self.url = ""
        self.latency = 0.0
        self.requests: list[RecordedRequest] = []
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        self._answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)

    def calls(self, method: str, path: str) -> list[RecordedRequest]:
        """The recorded requests to one endpoint (``path`` may end in ``*``)."""
        with self._lock:
            found = list(self.requests)
        if path.endswith("*"):
            return [r for r in found if r.method == method and r.path.startswith(path[:-1])]
        return [r for r in found if r.method == method and r.path == path]

    def complete_action(self, intent_id: str, *, succeed: bool = True) -> None:
        """The customer finished (or failed) 3-D Secure for an intent awaiting it."""
        with self._lock:
            intent = self.intents[intent_id]
            assert intent["status"] == "requires_action"
            intent["next_action"] = None
            if succeed:
                intent["status"] = _confirmed(intent)
            else:
                intent["status"] = "requires_payment_method"
                intent["last_payment_error"] = {
                    "type": "card_error", "code": "payment_intent_authentication_failure",
                    "message": "We are unable to authenticate your payment method."}

    def signed_event(self, event_type: str, intent_id: str, secret: str, *,
                     timestamp: int | None = None, event_id: str | None = None,
                     ) -> tuple[bytes, str]:
        """A webhook body about an intent and its ``Stripe-Signature`` header."""
        with self._lock:
            intent = dict(self.intents[intent_id])
        event = {"id": event_id or f"evt_fake_{next(self._numbers):06d}", "object": "event",
                 "type": event_type, "api_version": "2026-10-28.endive",
                 "created": int(time.time()), "livemode": False,
                 "data": {"object": intent}}
        payload = json.dumps(event).encode()
        return payload, sign(payload, secret, timestamp)

    # The HTTP side, called from the server's threads.

    def handle(self, method: str, path: str, headers: dict[str, str],
               params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, params))
        if self.latency:
            time.sleep(self.latency)
        key = headers.get("idempotency-key")
        with self._lock:
            if method == "POST" and key and key in self._answers:
                return self._answers[key]
            answer = self._route(method, path, params)
            if method == "POST" and key:
                self._answers[key] = answer
            return answer

    def _route(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "payment_intents"]:
            return self._create_intent(params)
        if parts[:2] == ["v1", "payment_intents"] and len(parts) >= 3:
            intent = self.intents.get(parts[2])
            if intent is None:
                return _error(404, "invalid_request_error", "resource_missing",
                              f"No such payment_intent: '{parts[2]}'", "intent")
            if method == "GET" and len(parts) == 3:
                return 200, intent
            if method == "POST" and parts[3:] == ["cancel"]:
                if intent["status"] in ("succeeded", "canceled"):
                    return _unexpected_state(intent)
                intent["status"] = "canceled"
                intent["next_action"] = None
                intent["amount_capturable"] = 0
                return 200, intent
            if method == "POST" and parts[3:] == ["capture"]:
                if intent["status"] != "requires_capture":
                    return _unexpected_state(intent)
                intent["status"] = "succeeded"
                intent["amount_received"] = intent.pop("amount_capturable")
                return 200, intent
        if method == "POST" and parts == ["v1", "refunds"]:
            intent = self.intents.get(params.get("payment_intent", ""))
            if intent is None or intent["status"] != "succeeded":
                return _error(400, "invalid_request_error", "charge_not_refundable",
                              "This PaymentIntent cannot be refunded.", "payment_intent")
            refund = {"id": f"re_fake_{next(self._numbers):06d}", "object": "refund",
                      "payment_intent": intent["id"], "amount": intent["amount"],
                      "currency": intent["currency"], "status": "succeeded"}
            self.refunds.append(refund)
            return 200, refund
        return _error(404, "invalid_request_error", None, f"Unrecognized request URL ({path})",
                      None)

    def _create_intent(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if "payment_method" in params:
            method, param = params["payment_method"], "payment_method"
        else:
            method = params.get("payment_method_data[card][token]", "")
            param = "payment_method_data[card][token]"
        known = SUCCEEDING | DECLINING | NEEDING_ACTION
        if method not in known:
            kind = "token" if method.startswith("tok_") else "PaymentMethod"
            return _error(400, "invalid_request_error", "resource_missing",
                          f"No such {kind}: '{method}'", param)
        number = next(self._numbers)
        intent: dict[str, Any] = {
            "id": f"pi_fake_{number:06d}", "object": "payment_intent",
            "amount": int(params["amount"]), "currency": params["currency"],
            "client_secret": f"pi_fake_{number:06d}_secret_test", "livemode": False,
            "metadata": {k[len("metadata["):-1]: v for k, v in params.items()
                         if k.startswith("metadata[")},
            "payment_method": f"pm_fake_{number:06d}", "last_payment_error": None,
            "next_action": None, "capture_method": params.get("capture_method", "automatic"),
            "amount_capturable": 0, "amount_received": 0,
        }
        intent["status"] = _confirmed(intent)
        self.intents[intent["id"]] = intent
        if method in NEEDING_ACTION:
            intent["status"] = "requires_action"
            intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
            return 200, intent
        if method in DECLINING:
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {"type": "card_error", "code": "card_declined",
                                            "message": "Your card was declined."}
            status, body = _error(402, "card_error", "card_declined", "Your card was declined.",
                                  None)
            body["error"].update(decline_code="generic_decline", payment_intent=intent)
            return status, body
        return 200, intent


def _confirmed(intent: dict[str, Any]) -> str:
    """A confirmed card payment: held (manual capture) or taken at once (automatic)."""
    if intent["capture_method"] == "manual":
        intent["amount_capturable"] = intent["amount"]
        return "requires_capture"
    intent["amount_received"] = intent["amount"]
    return "succeeded"


def _unexpected_state(intent: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return _error(400, "invalid_request_error", "payment_intent_unexpected_state",
                  f"This PaymentIntent's status is {intent['status']}.", None)


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload``, as Stripe computes it."""
    at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def _error(status: int, kind: str, code: str | None, message: str,
           param: str | None) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return status, {"error": error}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        path, _, query = self.path.partition("?")
        params = dict(parse_qsl(body or query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, answer = self.server.stripe.handle(self.command, path, headers, params)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_fake")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stripe: FakeStripe) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stripe = stripe


@contextmanager
def serve_fake_stripe() -> Iterator[FakeStripe]:
    """Run a fake Stripe on a free local port for the duration of the block."""
    stripe = FakeStripe()
    server = _Server(stripe)
    stripe.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-stripe", daemon=True)
    thread.start()
    try:
        yield stripe
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
