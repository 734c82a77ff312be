"""tickets: listings that sellers create and edit; held while an order reserves them."""

from ticketing.modules import ModuleSpec

MODULE = ModuleSpec(name="tickets")
