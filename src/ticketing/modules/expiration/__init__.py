"""expiration: ends unpaid reservations when their window closes."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.expiration.api import ExpirationService
from ticketing.modules.expiration.models import DeadLetter, Outbox, Processed


def _build(context: ModuleContext) -> ModuleParts:
    service = ExpirationService(context.outbox, context.settings, context.supervisor)
    return ModuleParts(facade=service, subscriptions=service.subscriptions,
                       on_start=service.start, on_stop=service.stop)


MODULE = ModuleSpec(name="expiration", tables=BusTables(Outbox, Processed, DeadLetter),
                    build=_build)
