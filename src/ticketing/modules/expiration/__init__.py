"""expiration: ends unpaid reservations when their window closes."""

from functools import partial

from taskiq import AsyncBroker

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.expiration.api import ExpirationService, sample_pending
from ticketing.modules.expiration.models import DeadLetter, Outbox, Processed
from ticketing.modules.expiration.reactions import SUBSCRIPTIONS
from ticketing.modules.expiration.workers import ExpirationWorkers


def _build(context: ModuleContext) -> ModuleParts:
    broker: AsyncBroker = context.adapter
    assert broker is not None, "the composition root chooses the task broker"
    service = ExpirationService(context.outbox, broker, context.clock)
    workers = ExpirationWorkers(broker, context.supervisor, context.clock,
                                service.expire_order)
    return ModuleParts(facade=service, subscriptions=SUBSCRIPTIONS,
                       on_start=workers.start, on_stop=workers.stop,
                       sample=partial(sample_pending, context.clock))


MODULE = ModuleSpec(name="expiration", tables=BusTables(Outbox, Processed, DeadLetter),
                    build=_build)
