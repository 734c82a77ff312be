"""expiration: ends unpaid reservations when their window closes."""

from taskiq import AsyncBroker

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.expiration.api import ExpirationService
from ticketing.modules.expiration.models import DeadLetter, Outbox, Processed


def _build(context: ModuleContext) -> ModuleParts:
    broker: AsyncBroker = context.adapter
    assert broker is not None, "the composition root chooses the task broker"
    service = ExpirationService(context.outbox, broker, context.supervisor,
                                context.clock)
    return ModuleParts(facade=service, subscriptions=service.subscriptions,
                       on_start=service.start, on_stop=service.stop)


MODULE = ModuleSpec(name="expiration", tables=BusTables(Outbox, Processed, DeadLetter),
                    build=_build)
