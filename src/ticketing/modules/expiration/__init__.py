"""expiration: ends unpaid reservations when their window closes."""

from ticketing.modules import ModuleSpec

MODULE = ModuleSpec(name="expiration")
