"""auth: accounts, passwords and session tokens. Public surface: :mod:`.api`."""

from ticketing.modules import ModuleSpec
from ticketing.modules.auth.api import AuthApi

MODULE = ModuleSpec(name="auth", build_facade=AuthApi)
