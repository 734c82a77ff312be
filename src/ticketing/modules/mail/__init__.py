"""mail: tells people by email what happened, once per cause. Public surface: :mod:`.api`.

A sixth module (ADR 0024): no other module owns both the addresses (auth's) and the
causes (every other module's), and sending must not run in any of their transactions.
"""

from ticketing.bus.tables import BusTables
from ticketing.modules import ModuleContext, ModuleParts, ModuleSpec
from ticketing.modules.mail.api import MailApi
from ticketing.modules.mail.delivery import MailTransport
from ticketing.modules.mail.models import DeadLetter, Outbox, Processed
from ticketing.modules.mail.reactions import Reactions
from ticketing.modules.mail.sender import Sender


def _build(context: ModuleContext) -> ModuleParts:
    settings = context.settings
    assert context.adapter is not None, "the composition root chooses how mail leaves"
    transport: MailTransport = context.adapter
    sender = Sender(transport, settings.mail_from, context.clock)
    reactions = Reactions(sender, settings.public_url, settings.mail_from, context.clock)
    # Production always has a server (settings.py): the inbox is development's.
    mail = MailApi(settings.mail_from, inbox_shown=not settings.smtp_url)
    sending = None

    async def start() -> None:
        nonlocal sending
        sending = context.supervisor.start("mail-sender", sender.run)

    async def stop() -> None:
        if sending is not None:
            await sending.stop(ask=sender.finish)

    return ModuleParts(facade=mail, subscriptions=reactions.subscriptions,
                       on_start=start, on_stop=stop)


MODULE = ModuleSpec(name="mail", tables=BusTables(Outbox, Processed, DeadLetter), build=_build)
