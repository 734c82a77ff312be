"""tickets: listings that sellers create and edit; held while an order reserves them."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleSpec
from ticketing.modules.tickets.models import DeadLetter, Outbox, Processed

MODULE = ModuleSpec(name="tickets", tables=BusTables(Outbox, Processed, DeadLetter))
