"""The payments facade is commands and queries only: no gateway, no event handlers
(those are registered through the module's subscriptions table)."""

from __future__ import annotations

from ticketing.modules.payments import api
from ticketing.modules.payments.api import Payments, PaymentsApi


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_the_facade_offers_only_what_its_protocol_declares() -> None:
    assert public(PaymentsApi) == public(Payments) == {
        "pay", "order", "receive_webhook", "start", "close"}


def test_the_names_the_web_layer_imports_are_the_facades() -> None:
    assert {"PaymentsApi", "Payments", "PaymentGateway", "PaymentResult", "AlreadyPaid",
            "CannotPayCancelled", "OrderExpired"} <= set(api.__all__)
    assert all(hasattr(api, name) for name in api.__all__)
