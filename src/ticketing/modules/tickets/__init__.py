"""tickets: listings that sellers create and edit; held while an order reserves them."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.tickets.api import TicketsApi
from ticketing.modules.tickets.models import DeadLetter, Outbox, Processed
from ticketing.modules.tickets.reactions import SUBSCRIPTIONS


def _build(context: ModuleContext) -> ModuleParts:
    return ModuleParts(facade=TicketsApi(context.outbox), subscriptions=SUBSCRIPTIONS)


MODULE = ModuleSpec(name="tickets", tables=BusTables(Outbox, Processed, DeadLetter),
                    build=_build)
