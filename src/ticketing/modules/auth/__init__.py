"""auth: accounts, passwords and session tokens. Public surface: :mod:`.api`."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.auth.api import AuthApi
from ticketing.modules.auth.models import DeadLetter, Outbox, Processed


def _build(context: ModuleContext) -> ModuleParts:
    return ModuleParts(facade=AuthApi(context.settings, context.outbox, context.clock))


MODULE = ModuleSpec(name="auth", tables=BusTables(Outbox, Processed, DeadLetter), build=_build)
