"""Every module's facade offers commands and queries only: exactly what its Protocol
declares, and no event handler (reactions are registered, never public; ADR 15)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ticketing.app import create_app
from ticketing.settings import MODULE_NAMES, Settings


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def protocol_of(cls: type) -> type:
    """The Protocol nearest a facade among its bases (it subclasses one, so mypy checks
    it); that Protocol may itself extend others (tickets' ``Tickets`` extends ``Door``)."""
    found = [base for base in cls.__mro__[1:]
             if Protocol in getattr(base, "__bases__", ()) and base is not Protocol]
    assert found, f"{cls.__name__} implements no Protocol"
    return found[0]


def test_each_facade_offers_exactly_its_protocol_and_no_reaction(tmp_path: Path) -> None:
    app = create_app(Settings(env="test", data_dir=tmp_path, jwt_key="k" * 40))
    facades = app.extensions["ticketing"].facades
    assert set(facades) == set(MODULE_NAMES)

    for name, facade in facades.items():
        protocol = protocol_of(type(facade))
        assert public(type(facade)) == public(protocol), name
        assert [m for m in public(protocol) if m.startswith("on_")] == [], name
