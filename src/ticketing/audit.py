"""``ticketing check``: a read-only audit of what the modules promise each other.

Each module owns its schema; this reads them side by side (plain SELECTs, never a
write), in one process or against the split's databases (the same ``TICKETING_*``
database settings the servers use), and lists every broken promise as one line:

- a ticket held by two active orders, an order still open past its window, a deadline
  pending long after it passed;
- a replica behind its source: orders' tickets, tickets' and payments' orders;
- a paid order that is not complete, or whose ticket is not sold to it; a completed
  order with no payment; a payment without its succeeded attempt, or the reverse; a
  hold left undecided or unsettled;
- a mail due but not sent (its last error said), an account mail has no address for;
- an outbox row unsent for longer than the grace, a dead letter not replayed.

Events in flight make a healthy system look wrong for a moment: ``grace`` is how old a
difference must be to count, and :func:`audit` can re-check for ``wait`` seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import connections

from ticketing.bus.contracts import OPEN_ORDER_STATUSES, OrderStatus
from ticketing.settings import Settings

OPEN = tuple(sorted(OPEN_ORDER_STATUSES))
ACTIVE = (*OPEN, OrderStatus.COMPLETE)
UNDECIDED_ATTEMPTS = ("authorized", "capturing", "voiding", "refunding")
# An attempt that captured money, kept or given back: each has its payment row.
CAPTURED_ATTEMPTS = ("succeeded", "refunding", "refunded")

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Audit:
    """One pass over the enabled modules' tables."""

    modules: tuple[str, ...]
    grace: timedelta
    now: datetime

    async def rows(self, module: str, sql: str) -> Rows:
        return list(await connections.get(module).execute_query_dict(sql))

    def late(self, value: Any) -> float | None:
        """Seconds past ``value`` beyond the grace, or None if it is within it."""
        seconds = (self.now - _when(value)).total_seconds()
        return seconds if seconds > self.grace.total_seconds() else None

    async def violations(self) -> list[str]:
        found: list[str] = []
        for module in self.modules:
            found += await self.outbox_and_dead_letters(module)
        for check in self._cross_checks():
            found += await check()
        return found

    def _cross_checks(self) -> Iterable[Callable[[], Awaitable[list[str]]]]:
        enabled = set(self.modules)
        if "orders" in enabled:
            yield self.orders_alone
        if {"orders", "tickets"} <= enabled:
            yield self.tickets_against_orders
        if {"orders", "payments"} <= enabled:
            yield self.payments_against_orders
        if "payments" in enabled:
            yield self.payments_alone
        if {"orders", "expiration"} <= enabled:
            yield self.deadlines_against_orders
        if "mail" in enabled:
            yield self.mail_alone
        if {"auth", "mail"} <= enabled:
            yield self.addresses_against_accounts

    async def outbox_and_dead_letters(self, module: str) -> list[str]:
        lines = []
        unsent = await self.rows(module, f"SELECT created_at FROM {module}_outbox "
                                         "WHERE sent_at IS NULL ORDER BY id LIMIT 1")
        if unsent and (age := self.late(unsent[0]["created_at"])) is not None:
            lines.append(f"{module}: outbox row unsent for {age:.0f}s")
        for letter in await self.rows(module, "SELECT event_id, event_type, consumer FROM "
                                              f"{module}_dead_letters WHERE replayed_at IS NULL"):
            lines.append(f"{module}: dead letter {letter['event_type']} {letter['event_id']} "
                         f"(consumer {letter['consumer']}) waits for a replay")
        return lines

    async def mail_alone(self) -> list[str]:
        """Messages the sender should have sent by now (a server away, a sender stopped)."""
        return [f"mail: message {m['id']} ({m['cause']}) due {late:.0f}s ago, not sent"
                + (f": {m['last_error']}" if m["last_error"] else "")
                for m in await self.rows("mail", "SELECT id, cause, next_attempt_at, last_error "
                                                 "FROM mail_messages WHERE state = 'queued'")
                if (late := self.late(m["next_attempt_at"])) is not None]

    async def addresses_against_accounts(self) -> list[str]:
        """Accounts made since mail first ran that it has no address for (auth's
        migration 0003 announces the older ones, and mail may still be applying those)."""
        [first] = await self.rows("mail", "SELECT MIN(processed_at) AS at FROM "
                                          "mail_processed_events")
        if first["at"] is None:
            return []
        known = {r["user_id"] for r in await self.rows("mail",
                                                       "SELECT user_id FROM mail_recipients")}
        return [f"mail: no address for user {user['id']}, who signed up {late:.0f}s ago"
                for user in await self.rows("auth", "SELECT id, created_at FROM auth_users")
                if user["id"] not in known and _when(user["created_at"]) > _when(first["at"])
                and (late := self.late(user["created_at"])) is not None]

    async def orders_alone(self) -> list[str]:
        lines = []
        by_ticket: dict[str, list[str]] = {}
        for line in await self._active_lines():
            by_ticket.setdefault(line["ticket_id"], []).append(line["order_id"])
        lines += [f"orders: ticket {ticket} has {len(ids)} active orders ({', '.join(ids)})"
                  for ticket, ids in by_ticket.items() if len(ids) > 1]
        for order in await self.rows("orders", "SELECT id, expires_at FROM orders_orders "
                                               f"WHERE status IN {_sql_list(OPEN)}"):
            if (late := self.late(order["expires_at"])) is not None:
                lines.append(f"orders: order {order['id']} still open {late:.0f}s past "
                             "its window")
        return lines

    async def _active_lines(self) -> Rows:
        """(ticket, order) of every order that holds its tickets: open or paid."""
        return await self.rows(
            "orders", "SELECT l.ticket_id, l.order_id FROM orders_order_lines l "
                      "JOIN orders_orders o ON o.id = l.order_id "
                      f"WHERE o.status IN {_sql_list(ACTIVE)} ORDER BY l.order_id")

    async def tickets_against_orders(self) -> list[str]:
        lines = []
        tickets = {t["id"]: t for t in await self.rows(
            "tickets", "SELECT id, version, order_id, sold FROM tickets_tickets")}
        for copy in await self.rows("orders", "SELECT id, version FROM orders_tickets"):
            source = tickets.get(copy["id"])
            if source is None or source["version"] != copy["version"]:
                lines.append(f"orders: copy of ticket {copy['id']} is at version "
                             f"{copy['version']}, tickets has "
                             f"{'none' if source is None else source['version']}")
        orders = {o["id"]: o for o in await self.rows(
            "orders", "SELECT id, status, version, created_at FROM orders_orders")}
        for state in await self.rows("tickets", "SELECT order_id, version FROM "
                                                "tickets_order_states"):
            order = orders.get(state["order_id"])
            if order is not None and order["version"] != state["version"]:
                lines.append(f"tickets: order {order['id']} seen at version "
                             f"{state['version']}, orders has {order['version']}")
        # A withdrawn resale is its old order's again in orders before tickets hears it.
        withdrawing = {r["ticket_id"] for r in await self.rows(
            "tickets", "SELECT ticket_id, withdrawal_requested_at FROM tickets_resales "
                       "WHERE withdrawal_requested_at IS NOT NULL")
            if self.late(r["withdrawal_requested_at"]) is None}
        for line in await self._active_lines():
            order, ticket = orders[line["order_id"]], tickets.get(line["ticket_id"])
            if ticket is None or self.late(order["created_at"]) is None \
                    or ticket["id"] in withdrawing:
                continue
            if ticket["order_id"] != order["id"]:
                lines.append(f"tickets: ticket {ticket['id']} is not held by its active "
                             f"order {order['id']}")
            elif order["status"] == "complete" and not ticket["sold"]:
                lines.append(f"tickets: ticket {ticket['id']} of paid order {order['id']} "
                             "is not sold")
        return lines

    async def payments_against_orders(self) -> list[str]:
        lines = []
        orders = {o["id"]: o for o in await self.rows(
            "orders", "SELECT id, status, version, created_at FROM orders_orders")}
        copies = {c["id"]: c for c in await self.rows(
            "payments", "SELECT id, version FROM payments_orders")}
        for order in orders.values():
            copy = copies.get(order["id"])
            if (copy is None or copy["version"] != order["version"]) \
                    and self.late(order["created_at"]) is not None:
                lines.append(f"payments: copy of order {order['id']} is at version "
                             f"{'none' if copy is None else copy['version']}, orders has "
                             f"{order['version']}")
        paid = {p["order_id"]: p for p in await self.rows(
            "payments", "SELECT p.order_id, p.id, p.created_at, a.status AS attempt "
                        "FROM payments_payments p "
                        "JOIN payments_attempts a ON a.id = p.attempt_id")}
        for order_id, payment in paid.items():
            status = orders.get(order_id, {}).get("status")
            refunded = status == "cancelled" and payment["attempt"] in ("refunding", "refunded")
            if status != "complete" and not refunded \
                    and self.late(payment["created_at"]) is not None:
                lines.append(f"payments: payment {payment['id']} paid order {order_id}, "
                             f"which is {status or 'unknown to orders'}")
        for order in orders.values():
            if order["status"] == "complete" and order["id"] not in paid \
                    and self.late(order["created_at"]) is not None:
                lines.append(f"payments: order {order['id']} is complete but no payment "
                             "was captured for it")
        return lines

    async def payments_alone(self) -> list[str]:
        lines = []
        payments = {p["attempt_id"]: p for p in await self.rows(
            "payments", "SELECT id, attempt_id FROM payments_payments")}
        for attempt in await self.rows("payments", "SELECT id, order_id, status, updated_at "
                                                   "FROM payments_attempts"):
            if attempt["status"] == "succeeded" and attempt["id"] not in payments:
                lines.append(f"payments: attempt {attempt['id']} charged order "
                             f"{attempt['order_id']} but has no payment record")
            if attempt["status"] in UNDECIDED_ATTEMPTS and \
                    (late := self.late(attempt["updated_at"])) is not None:
                lines.append(f"payments: attempt {attempt['id']} of order "
                             f"{attempt['order_id']} {attempt['status']} for {late:.0f}s")
            if attempt["status"] in CAPTURED_ATTEMPTS:
                payments.pop(attempt["id"], None)
        lines += [f"payments: payment {p['id']} has no attempt that captured it"
                  for p in payments.values()]
        return lines

    async def deadlines_against_orders(self) -> list[str]:
        lines = []
        orders = {o["id"]: o["status"] for o in await self.rows(
            "orders", "SELECT id, status FROM orders_orders")}
        for pending in await self.rows("expiration", "SELECT order_id, expires_at FROM "
                                                     "expiration_pending"):
            late = self.late(pending["expires_at"])
            if late is not None and orders.get(pending["order_id"]) in OPEN:
                lines.append(f"expiration: deadline of order {pending['order_id']} passed "
                             f"{late:.0f}s ago and has not fired")
        return lines


async def audit(settings: Settings, *, grace: timedelta = timedelta(seconds=30),
                wait: float = 0.0) -> list[str]:
    """Every violation found (databases open); re-checked for up to ``wait`` seconds
    while any remains, so events still in flight are not reported."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        found = await Audit(settings.modules, grace, datetime.now(UTC)).violations()
        if not found or loop.time() >= deadline:
            return found
        await asyncio.sleep(0.5)


def _sql_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _when(value: Any) -> datetime:
    """A timestamp as either database returns it (SQLite: text), in UTC."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
