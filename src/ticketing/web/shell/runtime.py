"""What the composition root hands the web layer: settings, the clock the modules read,
the bus, the enabled modules' facades, and what refreshes gauges when metrics are scraped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quart import current_app

from ticketing.bus.runtime import Bus
from ticketing.clock import Clock, utc_now
from ticketing.modules.auth.api import SessionReader
from ticketing.settings import Settings
from ticketing.telemetry.metrics import Sampler


@dataclass
class Runtime:
    settings: Settings
    sessions: SessionReader
    bus: Bus
    facades: dict[str, Any] = field(default_factory=dict)
    samplers: list[Sampler] = field(default_factory=list)
    # The modules' clock: pages judge deadlines by it, as the modules do.
    clock: Clock = utc_now


def runtime() -> Runtime:
    found: Runtime = current_app.extensions["ticketing"]
    return found


def facade(name: str) -> object:
    """The facade of an enabled module; its slice checks it against the module's Protocol."""
    return runtime().facades[name]
