"""Wiring shared by the web app and the CLI: the enabled modules over one bus.

``create_app`` and the ``ticketing bus`` commands both call :func:`build_bus`, so the
command sees exactly the outboxes, consumers and transport that the server runs.
No database or network is touched here.
"""

from __future__ import annotations

from taskiq import AsyncBroker

from ticketing.bus.runtime import Bus, build_transport
from ticketing.bus.sessions import Revocations
from ticketing.bus.supervisor import Supervisor
from ticketing.clock import Clock, utc_now
from ticketing.modules import ModuleContext, ModuleParts, load_module
from ticketing.modules.expiration.broker import build_broker
from ticketing.modules.mail.delivery import build_mail_transport
from ticketing.modules.payments.gateway import FakeGateway, PaymentGateway
from ticketing.settings import Settings


def build_gateway(settings: Settings) -> PaymentGateway:
    """``TICKETING_PAYMENTS`` chooses: the offline provider, or Stripe."""
    if settings.payments == "stripe":
        from ticketing.modules.payments.stripe_gateway import StripeGateway

        return StripeGateway(settings.stripe_key, settings.stripe_api_base)
    return FakeGateway()


def build_bus(settings: Settings, *, clock: Clock = utc_now,
              gateway: PaymentGateway | None = None,
              broker: AsyncBroker | None = None) -> tuple[Bus, dict[str, ModuleParts]]:
    """The bus of the modules named in ``settings.modules`` and what each module built.

    The adapters are chosen here from the settings unless the caller passes its own."""
    supervisor = Supervisor()
    bus = Bus(build_transport(settings, supervisor), supervisor=supervisor,
              revocations=Revocations(settings.jwt_lifetime_seconds))
    adapters: dict[str, object] = {}
    if "payments" in settings.modules:
        adapters["payments"] = gateway or build_gateway(settings)
    if "expiration" in settings.modules:
        adapters["expiration"] = broker or build_broker(settings)
    if "mail" in settings.modules:
        adapters["mail"] = build_mail_transport(settings.smtp_url, settings.data_dir)
    parts: dict[str, ModuleParts] = {}
    for name in settings.modules:
        spec = load_module(name)
        built = spec.build(ModuleContext(settings, bus.add_module(name, spec.tables),
                                         supervisor, clock, adapters.get(name)))
        if built.subscriptions:
            bus.subscribe(name, built.subscriptions)
        parts[name] = built
    return bus, parts
