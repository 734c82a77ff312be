"""Payments' figures: the provider's latency (around whichever gateway the process runs)
and how attempts end."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TypeVar

from ticketing.bus.outbox import UnitOfWork
from ticketing.modules.payments.gateway import (
    ChargeRequest,
    Intent,
    PaymentGateway,
    PaymentRefused,
)
from ticketing.telemetry import metrics

T = TypeVar("T")


def count_outcome(unit: UnitOfWork, outcome: str) -> None:
    """Count an attempt's end (succeeded, declined, voided, refunded, failed) once the
    transaction that records it commits."""
    unit.after_commit(metrics.PAYMENTS.labels(outcome).inc)


class TimedGateway(PaymentGateway):
    """A :class:`PaymentGateway` that observes each call's duration and result (ok, a
    decline, or an error) in ``ticketing_payment_provider_duration_seconds``."""

    def __init__(self, inner: PaymentGateway) -> None:
        self.inner = inner

    async def authorize(self, request: ChargeRequest) -> Intent:
        return await _timed("authorize", self.inner.authorize(request))

    async def capture(self, intent_id: str, idempotency_key: str) -> Intent:
        return await _timed("capture", self.inner.capture(intent_id, idempotency_key))

    async def retrieve(self, intent_id: str) -> Intent:
        return await _timed("retrieve", self.inner.retrieve(intent_id))

    async def cancel(self, intent_id: str) -> Intent:
        return await _timed("cancel", self.inner.cancel(intent_id))

    async def refund(self, intent_id: str, idempotency_key: str) -> str:
        return await _timed("refund", self.inner.refund(intent_id, idempotency_key))

    async def close(self) -> None:
        await self.inner.close()


async def _timed(operation: str, call: Awaitable[T]) -> T:
    started, result = time.perf_counter(), "error"
    try:
        answer = await call
        result = "ok"
        return answer
    except PaymentRefused:
        result = "declined"
        raise
    finally:
        metrics.PROVIDER_LATENCY.labels(operation, result).observe(
            time.perf_counter() - started)
