"""A steady mixed load on the split deployment that records every answer it gets.

A few shoppers (real sign-ups at auth) run stories side by side, as a sell-out crowd
would: a seller lists a ticket; one to three buyers race for it; the winner then pays,
cancels, cancels and pays at once, or walks away and lets the order expire; a cancelled
ticket is sometimes bought again by a loser of the race. Between stories they browse
(who am I, the listing, my orders) and now and then sign in again.

Every request's answer is kept (:class:`Answer`, with no status when none came: the
process was down or died mid-request), and every order with what its buyer was told
(:class:`OrderStory`), so the fault test can hold the system to what it said. A request
that got no answer is retried when doing it twice is harmless (a listing, a payment, a
cancel), and its story is given up when it is not (an order: it may exist or not).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, TypeVar

import httpx

from ticketing.serving import KEEP_ALIVE_SECONDS

T = TypeVar("T")

PASSWORD = "fault-load-secret"
REQUEST_TIMEOUT_SECONDS = 20.0  # beyond the payment decision's 10 s wait
CLIENT_KEEP_ALIVE_SECONDS = KEEP_ALIVE_SECONDS / 2
PATIENCE_SECONDS = 30.0  # how long a story retries one step before giving it up
RETRY_PAUSE_SECONDS = 0.2
FATES = ("pay", "cancel", "cancel-then-pay", "expire")
FATE_WEIGHTS = (35, 20, 10, 35)
REBUY_CHANCE = 0.5
SIGN_IN_CHANCE = 0.03


@dataclass(frozen=True)
class Answer:
    """One request: where it went, when it was sent, and the status (None: no answer,
    then ``error`` names the transport's failure: a timeout, a refused connection…)."""

    module: str
    route: str
    sent_at: float
    status: int | None
    error: str | None = None


@dataclass
class OrderStory:
    """An order the load made, its fate, and what the system answered to its buyer."""

    id: str
    ticket_id: str
    expires_at: datetime
    fate: str
    cancel_status: int | None = None
    pay_status: int | None = None
    pay_message: str = ""


@dataclass(frozen=True)
class Shopper:
    email: str
    cookie: str


@dataclass
class Surprise:
    """An answer the contract does not allow for that request in that state."""

    route: str
    status: int
    body: str


@dataclass
class MixedLoad:
    """The load; :meth:`run` until ``stop`` is set, then read what was recorded."""

    urls: dict[str, str]
    seed: int = 1
    workers: int = 6
    answers: list[Answer] = field(default_factory=list)
    orders: dict[str, OrderStory] = field(default_factory=dict)
    surprises: list[Surprise] = field(default_factory=list)
    double_wins: list[str] = field(default_factory=list)
    abandoned: int = 0
    _shoppers: list[Shopper] = field(default_factory=list)
    _http: httpx.AsyncClient | None = None

    async def run(self, stop: asyncio.Event, shoppers: int = 12) -> None:
        # Cookies travel in each request's header, never in a shared jar.
        jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        # A connection is reused only well inside the server's keep-alive: one the
        # server is closing as a request goes out would fail it, a client's race, not ours.
        limits = httpx.Limits(keepalive_expiry=CLIENT_KEEP_ALIVE_SECONDS)
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS, cookies=jar,
                                     limits=limits) as http:
            self._http = http
            self._shoppers = [await self._sign_up(index) for index in range(shoppers)]
            await asyncio.gather(*(self._shop(stop, random.Random(self.seed * 1000 + worker))
                                   for worker in range(self.workers)))

    async def _shop(self, stop: asyncio.Event, rng: random.Random) -> None:
        while not stop.is_set():
            seller, *buyers = rng.sample(self._shoppers, 4)
            await self._browse(seller, rng)
            ticket_id = await self._list_ticket(seller, rng)
            if ticket_id is None:
                continue
            won = await self._race(ticket_id, buyers[:rng.randint(1, 3)])
            if won is None:
                continue
            buyer, story = won
            await self._decide(buyer, story, rng.choices(FATES, FATE_WEIGHTS)[0])
            if story.fate == "cancel" and story.cancel_status == 204 \
                    and rng.random() < REBUY_CHANCE:
                again = await self._race(ticket_id, [buyers[-1]])
                if again is not None:
                    await self._decide(*again, rng.choice(("pay", "cancel", "expire")))

    async def _request(self, module: str, method: str, path: str, who: Shopper | None = None,
                       route: str | None = None, **kwargs: Any) -> httpx.Response | None:
        """Send one request and record its answer; None when no answer came."""
        assert self._http is not None
        headers = {"Cookie": f"session={who.cookie}"} if who is not None else {}
        sent_at = time.time()
        try:
            response = await self._http.request(method, self.urls[module] + path,
                                                headers=headers, **kwargs)
        except httpx.TransportError as error:
            self.answers.append(Answer(module, route or f"{method} {path}", sent_at, None,
                                       f"{type(error).__name__} after "
                                       f"{time.time() - sent_at:.1f}s: {error}"))
            return None
        self.answers.append(Answer(module, route or f"{method} {path}", sent_at,
                                   response.status_code))
        return response

    def _expect(self, response: httpx.Response, *allowed: int) -> bool:
        """True if the status is one of ``allowed``; otherwise a surprise (5xx excepted:
        the fault windows judge those)."""
        if response.status_code in allowed:
            return True
        if response.status_code < 500:
            self.surprises.append(Surprise(f"{response.request.method} {response.request.url}",
                                           response.status_code, response.text[:300]))
        return False

    async def _sign_up(self, index: int) -> Shopper:
        email = f"shopper{index}-{random.getrandbits(32):08x}@example.com"

        async def attempt() -> Shopper | None:
            response = await self._request("auth", "POST", "/api/users/signup",
                                           json={"email": email, "password": PASSWORD})
            if response is None or not self._expect(response, 201):
                return None
            return Shopper(email, response.cookies["session"])

        shopper = await patiently(attempt)
        assert shopper is not None, f"could not sign {email} up"
        return shopper

    async def _browse(self, who: Shopper, rng: random.Random) -> None:
        for module, path in (("auth", "/api/users/currentuser"), ("tickets", "/api/tickets"),
                             ("orders", "/api/orders")):
            response = await self._request(module, "GET", path, who)
            if response is not None:
                self._expect(response, 200)
        if rng.random() < SIGN_IN_CHANCE:
            response = await self._request("auth", "POST", "/api/users/signin",
                                           json={"email": who.email, "password": PASSWORD})
            if response is not None:
                self._expect(response, 200)

    async def _list_ticket(self, seller: Shopper, rng: random.Random) -> str | None:
        async def attempt() -> str | None:
            response = await self._request(
                "tickets", "POST", "/api/tickets", seller,
                json={"title": f"Seat {rng.randint(1, 10_000)}",
                      "price": f"{rng.randint(5, 300)}.{rng.randint(0, 99):02d}"})
            if response is None or not self._expect(response, 201):
                return None  # twice is harmless: one more listing
            return str(response.json()["id"])

        return await patiently(attempt)

    async def _race(self, ticket_id: str,
                    buyers: list[Shopper]) -> tuple[Shopper, OrderStory] | None:
        """Buyers order the ticket at once (again while orders has not heard of it yet);
        the one that won, or None."""
        deadline = time.monotonic() + PATIENCE_SECONDS
        while time.monotonic() < deadline:
            responses = await asyncio.gather(*(
                self._request("orders", "POST", "/api/orders", buyer,
                              json={"ticketId": ticket_id}) for buyer in buyers))
            if any(r is None or r.status_code >= 500 for r in responses):
                self.abandoned += 1  # an order may or may not exist: the audit judges it
                return None
            winners = [(buyer, r) for buyer, r in zip(buyers, responses, strict=True)
                       if r is not None and r.status_code == 201]
            if len(winners) > 1:
                self.double_wins.append(ticket_id)
            for response in responses:
                assert response is not None
                if response.status_code == 400:
                    self._expect_message(response, "Ticket is already reserved")
                elif response.status_code != 404:
                    self._expect(response, 201)
            if winners:
                buyer, response = winners[0]
                order = response.json()
                story = OrderStory(order["id"], ticket_id,
                                   datetime.fromisoformat(order["expiresAt"]), fate="")
                self.orders[story.id] = story
                return buyer, story
            if all(r is not None and r.status_code == 400 for r in responses):
                return None
            await asyncio.sleep(RETRY_PAUSE_SECONDS)  # orders has not heard of the ticket
        self.abandoned += 1
        return None

    def _expect_message(self, response: httpx.Response, message: str) -> None:
        errors = response.json().get("errors", [])
        if not any(e.get("message") == message for e in errors):
            self.surprises.append(Surprise(str(response.request.url), response.status_code,
                                           response.text[:300]))

    async def _decide(self, buyer: Shopper, story: OrderStory, fate: str) -> None:
        story.fate = fate
        if fate in ("cancel", "cancel-then-pay"):
            await self._cancel(buyer, story)
        if fate in ("pay", "cancel-then-pay"):
            await self._pay(buyer, story)

    async def _cancel(self, buyer: Shopper, story: OrderStory) -> None:
        async def attempt() -> int | None:
            response = await self._request("orders", "DELETE", f"/api/orders/{story.id}",
                                           buyer, route="DELETE /api/orders/:id")
            if response is None or response.status_code >= 500:
                return None  # a cancel is idempotent: 204 again
            self._expect(response, 204)
            return response.status_code

        story.cancel_status = await patiently(attempt)

    async def _pay(self, buyer: Shopper, story: OrderStory) -> None:
        async def attempt() -> httpx.Response | None:
            response = await self._request("payments", "POST", "/api/payments", buyer,
                                           json={"orderId": story.id, "token": "tok_visa"})
            if response is None or response.status_code >= 500 \
                    or response.status_code in (404, 409):
                # Down; payments has not heard of the order yet; or an earlier try that
                # got no answer is still being settled: a payment is safe to repeat.
                return None
            self._expect(response, 201, 202, 400)
            return response

        response = await patiently(attempt)
        if response is not None:
            story.pay_status = response.status_code
            if response.status_code == 400:
                story.pay_message = response.json()["errors"][0]["message"]


async def patiently(attempt: Callable[[], Awaitable[T | None]],
                    patience: float = PATIENCE_SECONDS) -> T | None:
    """Call ``attempt`` until it returns something, pausing between tries; None once
    ``patience`` seconds have passed."""
    deadline = time.monotonic() + patience
    while True:
        result = await attempt()
        if result is not None or time.monotonic() > deadline:
            return result
        await asyncio.sleep(RETRY_PAUSE_SECONDS)
