"""expiration: ends unpaid reservations when their window closes."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleSpec
from ticketing.modules.expiration.models import DeadLetter, Outbox, Processed

MODULE = ModuleSpec(name="expiration", tables=BusTables(Outbox, Processed, DeadLetter))
