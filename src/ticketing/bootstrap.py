"""Wiring shared by the web app and the CLI: the enabled modules over one bus.

``create_app`` and the ``ticketing bus`` commands both call :func:`build_bus`, so the
command sees exactly the outboxes, consumers and transport that the server runs.
No database or network is touched here.
"""

from __future__ import annotations

from ticketing.bus.runtime import Bus, build_transport
from ticketing.bus.sessions import Revocations
from ticketing.bus.supervisor import Supervisor
from ticketing.modules import ModuleContext, ModuleParts, load_module
from ticketing.settings import Settings


def build_bus(settings: Settings) -> tuple[Bus, dict[str, ModuleParts]]:
    """The bus of the modules named in ``settings.modules`` and what each module built."""
    supervisor = Supervisor()
    bus = Bus(build_transport(settings, supervisor), supervisor=supervisor,
              revocations=Revocations(settings.jwt_lifetime_seconds))
    parts: dict[str, ModuleParts] = {}
    for name in settings.modules:
        spec = load_module(name)
        built = spec.build(ModuleContext(settings, bus.add_module(name, spec.tables),
                                         supervisor))
        if built.subscriptions:
            bus.subscribe(name, built.subscriptions)
        parts[name] = built
    return bus, parts
