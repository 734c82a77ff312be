"""tickets: listings that sellers create and edit; held while an order reserves them."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.tickets.api import TicketsApi
from ticketing.modules.tickets.models import DeadLetter, Outbox, Processed
from ticketing.modules.tickets.passes import PassSigner
from ticketing.modules.tickets.reactions import SUBSCRIPTIONS


def _build(context: ModuleContext) -> ModuleParts:
    # Settings built by hand (tests) may not carry the pass key yet: the development
    # default is the one kept under the data dir.
    signer = PassSigner(context.settings.with_checked_secrets().pass_key)
    return ModuleParts(facade=TicketsApi(context.outbox, signer, context.clock),
                       subscriptions=SUBSCRIPTIONS)


MODULE = ModuleSpec(name="tickets", tables=BusTables(Outbox, Processed, DeadLetter),
                    build=_build)
