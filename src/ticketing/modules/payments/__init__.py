"""payments: charges orders through a payment gateway."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleSpec
from ticketing.modules.payments.models import DeadLetter, Outbox, Processed

MODULE = ModuleSpec(name="payments", tables=BusTables(Outbox, Processed, DeadLetter))
