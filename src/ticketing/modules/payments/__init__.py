"""payments: charges orders through a payment gateway."""

from ticketing.modules import ModuleSpec

MODULE = ModuleSpec(name="payments")
