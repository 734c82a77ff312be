"""orders: reservations of tickets for a payment window."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleSpec
from ticketing.modules.orders.models import DeadLetter, Outbox, Processed

MODULE = ModuleSpec(name="orders", tables=BusTables(Outbox, Processed, DeadLetter))
