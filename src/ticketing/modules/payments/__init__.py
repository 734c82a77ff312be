"""payments: charges orders through a payment gateway, exactly once each."""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.payments.api import PaymentsApi
from ticketing.modules.payments.figures import TimedGateway
from ticketing.modules.payments.gateway import PaymentGateway
from ticketing.modules.payments.models import DeadLetter, Outbox, Processed
from ticketing.modules.payments.reactions import Reactions
from ticketing.modules.payments.settler import Settler


def _build(context: ModuleContext) -> ModuleParts:
    assert context.adapter is not None, "the composition root chooses the payment gateway"
    gateway: PaymentGateway = TimedGateway(context.adapter)
    # One settler: the facade runs it, the reactions wake it when a verdict commits.
    settler = Settler(context.outbox, gateway, context.clock)
    payments = PaymentsApi(context.outbox, gateway, settler,
                           context.settings.stripe_webhook_secret, clock=context.clock,
                           supervisor=context.supervisor)
    reactions = Reactions(settler, context.clock)
    return ModuleParts(facade=payments, subscriptions=reactions.subscriptions,
                       on_start=payments.start, on_stop=payments.close)


MODULE = ModuleSpec(name="payments", tables=BusTables(Outbox, Processed, DeadLetter),
                    build=_build)
