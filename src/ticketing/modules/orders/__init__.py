"""orders: reservations of tickets for a payment window."""

from ticketing.modules import ModuleSpec

MODULE = ModuleSpec(name="orders")
