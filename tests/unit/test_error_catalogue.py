"""The error catalogue: every domain error's code has its one message, and codes are unique."""

from __future__ import annotations

import importlib
import pkgutil

import ticketing
from ticketing.errors import MESSAGES, DomainError, ValidationFailed
from ticketing.web.shell.purchase import REFUSAL_STATUS, purchase_refusal, refusal_code


def every_domain_error() -> list[type[DomainError]]:
    """Every DomainError class of the package (each module imported, then walked)."""
    for found in pkgutil.walk_packages(ticketing.__path__, "ticketing."):
        if not found.name.endswith("__main__"):  # that one runs the command line
            importlib.import_module(found.name)
    pending: list[type[DomainError]] = [DomainError]
    seen: list[type[DomainError]] = []
    while pending:
        error = pending.pop()
        seen.append(error)
        pending.extend(error.__subclasses__())
    return seen


def test_every_domain_error_code_has_a_message_and_names_one_class() -> None:
    errors = [e for e in every_domain_error() if e is not ValidationFailed]
    by_code: dict[str, list[str]] = {}
    for error in errors:
        by_code.setdefault(error.code, []).append(error.__qualname__)

    assert [code for code in by_code if code not in MESSAGES] == []
    assert {code: names for code, names in by_code.items() if len(names) > 1} == {}


def test_each_message_is_written_once() -> None:
    messages = list(MESSAGES.values())

    assert len(set(messages)) == len(messages)


def test_an_error_without_its_own_words_speaks_the_catalogues() -> None:
    from ticketing.modules.orders.api import TicketAlreadyReserved

    assert TicketAlreadyReserved().message == MESSAGES["ticket_reserved"]
    assert TicketAlreadyReserved("Sold to someone else").message == "Sold to someone else"


def test_a_purchase_redirect_carries_codes_and_shows_only_their_messages() -> None:
    from ticketing.errors import NotFound
    from ticketing.modules.orders.api import TicketAlreadyReserved

    assert refusal_code(TicketAlreadyReserved()) == "ticket_reserved"
    assert refusal_code(NotFound()) == "ticket_not_yet"
    for code, status in REFUSAL_STATUS.items():
        assert purchase_refusal(code) == (MESSAGES[code], status)
    assert purchase_refusal("<script>") is None
    assert purchase_refusal(None) is None
