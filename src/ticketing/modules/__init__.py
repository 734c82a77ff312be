"""The six domain modules and the one shape each exposes to the composition root.

A module is a package ``ticketing.modules.<name>`` whose ``__init__`` defines ``MODULE``
(a :class:`ModuleSpec`) and whose ``api`` submodule is its public facade. Modules never
import each other; they talk only through the event contracts in ``ticketing.bus``.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ticketing.bus.consumer import Subscriptions
from ticketing.bus.outbox import Outbox
from ticketing.bus.supervisor import Supervisor
from ticketing.bus.tables import BusTables
from ticketing.clock import Clock, utc_now
from ticketing.settings import Settings
from ticketing.telemetry.metrics import Sampler


@dataclass(frozen=True)
class ModuleContext:
    """What the composition root gives a module: settings, its own outbox, the
    process's supervisor (under which its background work must run), the clock, and the
    adapter to the outside world it chose for this module: payments' payment provider,
    expiration's task broker (tests pass fakes in). ``adapter`` is untyped here because
    its type belongs to the module that uses it, which no other module may import."""

    settings: Settings
    outbox: Outbox
    supervisor: Supervisor
    clock: Clock = utc_now
    adapter: Any = None


@dataclass(frozen=True)
class ModuleParts:
    """What a module gives back: its facade, its table of subscriptions, the work it
    runs while the process serves (started after the databases open, stopped before
    they close), and what refreshes its gauges when the metrics are scraped."""

    facade: Any = None
    subscriptions: Subscriptions = field(default_factory=dict)
    on_start: Callable[[], Awaitable[None]] | None = None
    on_stop: Callable[[], Awaitable[None]] | None = None
    sample: Sampler | None = None


def _no_parts(context: ModuleContext) -> ModuleParts:
    return ModuleParts()


@dataclass(frozen=True)
class ModuleSpec:
    """What the composition root needs to know to run one module."""

    name: str
    tables: BusTables
    build: Callable[[ModuleContext], ModuleParts] = _no_parts


def load_module(name: str) -> ModuleSpec:
    """Import one module package by name and return its spec (no IO happens here)."""
    package = importlib.import_module(f"ticketing.modules.{name}")
    spec = getattr(package, "MODULE", None)
    if not isinstance(spec, ModuleSpec):
        raise TypeError(f"ticketing.modules.{name} does not define MODULE = ModuleSpec(...)")
    return spec
