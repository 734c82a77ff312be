"""What the composition root hands the web layer: settings and the enabled modules' facades."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from quart import current_app

from ticketing.bus.runtime import Bus
from ticketing.modules.auth.api import SessionReader
from ticketing.settings import Settings

FacadeT = TypeVar("FacadeT")


@dataclass
class Runtime:
    settings: Settings
    sessions: SessionReader
    bus: Bus
    facades: dict[str, Any] = field(default_factory=dict)


def runtime() -> Runtime:
    found: Runtime = current_app.extensions["ticketing"]
    return found


def facade(name: str, kind: type[FacadeT]) -> FacadeT:
    """The facade of an enabled module, typed as the caller expects it."""
    found = runtime().facades[name]
    assert isinstance(found, kind)
    return found
