"""The names the web layer imports from payments' facade are there (that the facade
offers exactly its Protocol is tests/architecture/test_facades.py's, for every module)."""

from __future__ import annotations

from ticketing.modules.payments import api


def test_the_names_the_web_layer_imports_are_the_facades() -> None:
    assert {"PaymentsApi", "Payments", "PaymentGateway", "PaymentResult", "AlreadyPaid",
            "CannotPayCancelled", "OrderExpired"} <= set(api.__all__)
    assert all(hasattr(api, name) for name in api.__all__)
