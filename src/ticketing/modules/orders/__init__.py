"""orders: reservations of tickets for a payment window."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.orders.api import OrdersApi
from ticketing.modules.orders.models import DeadLetter, Outbox, Processed


def _build(context: ModuleContext) -> ModuleParts:
    orders = OrdersApi(context.outbox, context.settings.expiration_seconds, context.clock)
    return ModuleParts(facade=orders, subscriptions=orders.subscriptions)


MODULE = ModuleSpec(name="orders", tables=BusTables(Outbox, Processed, DeadLetter),
                    build=_build)
