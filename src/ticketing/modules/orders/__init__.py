"""orders: reservations of tickets for a payment window."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.orders.api import OrdersApi
from ticketing.modules.orders.models import DeadLetter, Outbox, Processed
from ticketing.modules.orders.reactions import SUBSCRIPTIONS


def _build(context: ModuleContext) -> ModuleParts:
    orders = OrdersApi(context.outbox, context.settings.expiration_seconds, context.clock)
    return ModuleParts(facade=orders, subscriptions=SUBSCRIPTIONS)


MODULE = ModuleSpec(name="orders", tables=BusTables(Outbox, Processed, DeadLetter),
                    build=_build)
