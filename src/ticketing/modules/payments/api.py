"""The payments module's public facade: commands and queries, typed by :class:`Payments`.

Pay for an order, read what payments knows of it, take the provider's webhooks, and the
module's life (its settler). Everything else is internal: ``attempts`` (a payment from
request to verdict), ``reactions`` (order events, registered through the module's
subscriptions table), ``settler`` (the provider calls a decision leaves), ``webhooks``,
``rules`` (the pure rules) and ``errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ticketing.bus.contracts import OrderStatus
from ticketing.bus.outbox import Outbox
from ticketing.bus.supervisor import Supervised, Supervisor
from ticketing.clock import Clock, utc_now
from ticketing.errors import NotAuthorized, NotFound
from ticketing.ids import is_valid_id
from ticketing.modules.payments import payouts
from ticketing.modules.payments.attempts import Attempts, PaymentResult
from ticketing.modules.payments.errors import (
    AlreadyPaid,
    CannotPayCancelled,
    InvalidWebhook,
    OrderExpired,
)
from ticketing.modules.payments.gateway import (
    PaymentGateway,
    PaymentInProgress,
    PaymentRefused,
    ProviderUnavailable,
)
from ticketing.modules.payments.models import OrderReplica, Payment
from ticketing.modules.payments.payouts import PayoutView
from ticketing.modules.payments.settler import Settler
from ticketing.modules.payments.webhooks import Webhooks

__all__ = [
    "AlreadyPaid",
    "CannotPayCancelled",
    "InvalidWebhook",
    "OrderExpired",
    "OrderStatus",
    "OrderSummary",
    "PaymentGateway",
    "PaymentInProgress",
    "PaymentRefused",
    "PaymentResult",
    "Payments",
    "PaymentsApi",
    "PayoutView",
    "ProviderUnavailable",
]


@dataclass(frozen=True)
class OrderSummary:
    """What payments knows of an order: its status here, its price and its deadline."""

    id: str
    status: OrderStatus
    price: Decimal
    expires_at: datetime


@runtime_checkable
class Payments(Protocol):
    """What the web layer and the composition root may ask of payments."""

    async def pay(self, user_id: str, order_id: str, payment_method: str) -> PaymentResult:
        """Charge the order's exact price once: paid, the customer must act, or orders is
        still deciding; refused with :class:`CannotPayCancelled`, :class:`OrderExpired`,
        :class:`AlreadyPaid`, :class:`PaymentRefused` or :class:`PaymentInProgress`."""

    async def order(self, user_id: str, order_id: str) -> OrderSummary:
        """What payments knows of one of the user's orders: 404 unknown, 401 not theirs."""

    async def receive_webhook(self, payload: str | bytes, signature: str | None) -> bool:
        """Apply a signed provider event once; False when it was handled before."""

    async def payouts_of(self, user_id: str) -> list[PayoutView]:
        """What the user is owed for their resales that sold, newest first."""

    async def start(self) -> None:
        """Start the settler (captures, releases, refunds) under the supervisor."""

    async def close(self) -> None:
        """Stop the settler and close the gateway's connections (the process stops)."""


class PaymentsApi(Payments):
    def __init__(self, outbox: Outbox, gateway: PaymentGateway, settler: Settler,
                 webhook_secret: str = "", *, clock: Clock = utc_now,
                 supervisor: Supervisor | None = None) -> None:
        self._gateway = gateway
        self._settler = settler
        self._supervisor = supervisor or Supervisor()
        self._attempts = Attempts(outbox, gateway, settler, clock)
        self._webhooks = Webhooks(webhook_secret, gateway, self._attempts)
        self._settling: Supervised | None = None

    async def pay(self, user_id: str, order_id: str, payment_method: str) -> PaymentResult:
        return await self._attempts.pay(await _payable(user_id, order_id), payment_method)

    async def order(self, user_id: str, order_id: str) -> OrderSummary:
        replica = await _owned(user_id, order_id)
        assert replica.price is not None
        assert replica.expires_at is not None
        return OrderSummary(id=replica.id, status=replica.status, price=replica.price,
                            expires_at=replica.expires_at)

    async def receive_webhook(self, payload: str | bytes, signature: str | None) -> bool:
        return await self._webhooks.receive(payload, signature)

    async def payouts_of(self, user_id: str) -> list[PayoutView]:
        return await payouts.payouts_of(user_id)

    async def start(self) -> None:
        self._settling = self._supervisor.start("payments-settler", self._settler.run)

    async def close(self) -> None:
        if self._settling is not None:
            await self._settling.stop(ask=self._settler.finish)
            self._settling = None
        await self._gateway.close()


async def _payable(user_id: str, order_id: str) -> OrderReplica:
    """404 → 401 → cancelled → already paid, in that order; expired is the attempt's."""
    replica = await _owned(user_id, order_id)
    if replica.status == OrderStatus.CANCELLED:
        raise CannotPayCancelled()
    if replica.status == OrderStatus.COMPLETE or await Payment.exists(order_id=replica.id):
        raise AlreadyPaid()
    return replica


async def _owned(user_id: str, order_id: str) -> OrderReplica:
    """404 for an unknown order, 401 for someone else's, at once.

    An order made a moment ago may not have reached this replica yet: its buyer's
    consistency cookie makes the request wait for it before it gets here (ADR 16).
    """
    if not is_valid_id(order_id):
        raise NotFound()
    replica = await _replica(order_id)
    if replica is None:
        raise NotFound()
    if replica.user_id != user_id:
        raise NotAuthorized()
    return replica


async def _replica(order_id: str) -> OrderReplica | None:
    """The order as far as ``order:created`` has told this module (else ``None``)."""
    replica = await OrderReplica.get_or_none(id=order_id)
    if replica is None or replica.user_id is None or replica.price is None:
        return None
    return replica
