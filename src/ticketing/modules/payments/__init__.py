"""payments: charges orders through a payment gateway, exactly once each."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.payments.api import PaymentsApi
from ticketing.modules.payments.gateway import FakeGateway, PaymentGateway
from ticketing.modules.payments.models import DeadLetter, Outbox, Processed
from ticketing.settings import Settings


def build_gateway(settings: Settings) -> PaymentGateway:
    """``TICKETING_PAYMENTS`` chooses: the offline provider, or Stripe."""
    if settings.payments == "stripe":
        from ticketing.modules.payments.stripe_gateway import StripeGateway

        return StripeGateway(settings.stripe_key, settings.stripe_api_base)
    return FakeGateway()


def _build(context: ModuleContext) -> ModuleParts:
    payments = PaymentsApi(context.outbox, build_gateway(context.settings),
                           context.settings.stripe_webhook_secret,
                           supervisor=context.supervisor)
    return ModuleParts(facade=payments, subscriptions=payments.subscriptions,
                       on_start=payments.start, on_stop=payments.close)


MODULE = ModuleSpec(name="payments", tables=BusTables(Outbox, Processed, DeadLetter),
                    build=_build)
