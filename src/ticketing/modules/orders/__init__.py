"""orders: reservations of tickets for a payment window."""

from ticketing.bus.supervisor import Supervised
from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.orders.api import OrdersApi
from ticketing.modules.orders.models import DeadLetter, Outbox, Processed
from ticketing.modules.orders.reactions import subscriptions
from ticketing.modules.orders.waiting import WaitingRooms, WaitingRoomSettings
from ticketing.modules.orders.waitlist import Waitlist


def _build(context: ModuleContext) -> ModuleParts:
    settings = context.settings
    waiting = WaitingRooms(context.outbox, WaitingRoomSettings(
        rate_per_minute=settings.queue_rate_per_minute,
        admission_seconds=settings.admission_seconds,
        admit_percent=settings.queue_admit_percent, key=settings.jwt_key), context.clock)
    waiting_list = Waitlist(context.outbox, context.clock)
    orders = OrdersApi(context.outbox, settings.expiration_seconds, waiting, context.clock,
                       waiting_list)
    rounds: list[Supervised] = []

    async def start() -> None:
        rounds.append(context.supervisor.start("orders-waiting-rooms", waiting.run))
        rounds.append(context.supervisor.start("orders-waitlist", waiting_list.run))

    async def stop() -> None:
        while rounds:
            await rounds.pop().stop()

    return ModuleParts(facade=orders, subscriptions=subscriptions(waiting), on_start=start,
                       on_stop=stop)


MODULE = ModuleSpec(name="orders", tables=BusTables(Outbox, Processed, DeadLetter),
                    build=_build)
