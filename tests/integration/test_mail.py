"""Mail, end to end against a real SMTP server (aiosmtpd): each cause mails once, with a
Message-ID only the cause decides; the sender survives a server that is away, a refusal
and its own crash; without an SMTP server each message is an ``.eml`` file listed at
``/dev/mail``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.passes import bought, listed, paid, reserved
from tests.support.payments import signed_up
from tests.support.smtp import Inbox, smtp_server
from tests.support.waiting import eventually
from ticketing.bus.consumer import RetryLater
from ticketing.bus.contracts import (
    Envelope,
    OrderCancelled,
    OrderCompleted,
    TicketRef,
    TicketTransferred,
    UserRegistered,
)
from ticketing.ids import new_id
from ticketing.modules.mail.compose import message_id
from ticketing.modules.mail.delivery import DeliveryFailed, SmtpTransport
from ticketing.modules.mail.models import Message, MessageState, Recipient
from ticketing.modules.mail.sender import (
    ADDRESS_GRACE,
    LEASE,
    MAX_ATTEMPTS,
    Sender,
    retry_after,
)

SENDER = "Ticketing <no-reply@ticketing.localhost>"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as (inbox, controller):
        yield inbox, controller.port


@pytest.fixture
def settings_overrides(smtp: tuple[Inbox, int]) -> dict[str, Any]:
    return {"smtp_url": f"smtp://127.0.0.1:{smtp[1]}", "public_url": "https://tickets.test"}


@pytest.fixture
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


async def arrived(inbox: Inbox, address: str, subject_start: str) -> EmailMessage:
    async def found() -> EmailMessage | None:
        await asyncio.sleep(0)
        return next((m for m in inbox.to(address)
                     if str(m["Subject"]).startswith(subject_start)), None)

    return await eventually(found, what=f"a mail {subject_start!r} to {address}")


async def user_id_of(client: Client) -> str:
    found: str = (await (await client.get("/api/users/currentuser")).get_json())[
        "currentUser"]["id"]
    return found


async def test_sign_up_reserve_and_pay_each_mail_once(app: Quart, inbox: Inbox) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    welcome = await arrived(inbox, "buyer@test.com", "Welcome to Ticketing")
    buyer_id = await user_id_of(buyer)
    assert welcome["Message-ID"] == message_id(f"welcome:{buyer_id}", SENDER)
    assert welcome["From"] == SENDER
    assert "buyer@test.com" in welcome.get_content()

    ticket_id = await listed(seller, "Concert")
    order_id = await reserved(buyer, {"ticketId": ticket_id})
    reserved_mail = await arrived(inbox, "buyer@test.com", "Reserved: Concert")
    order = await (await buyer.get(f"/api/orders/{order_id}")).get_json()
    deadline = datetime.fromisoformat(order["expiresAt"].replace("Z", "+00:00"))
    assert str(reserved_mail["Subject"]) == (
        f"Reserved: Concert — pay by {deadline:%Y-%m-%d %H:%M} UTC")
    assert f"https://tickets.test/orders/{order_id}" in reserved_mail.get_content()
    assert "$20.00" in reserved_mail.get_content()

    await paid(buyer, order_id)
    receipt = await arrived(inbox, "buyer@test.com", "Payment received: Concert")
    assert f"https://tickets.test/tickets/{ticket_id}/pass" in receipt.get_content()
    assert receipt["Message-ID"] == message_id(f"order-paid:{order_id}", SENDER)

    await eventually(_sent_all, what="every message sent")
    assert sorted(inbox.subjects("buyer@test.com")) == sorted([
        "Welcome to Ticketing", str(reserved_mail["Subject"]), "Payment received: Concert"])
    assert inbox.subjects("seller@test.com") == ["Welcome to Ticketing"]


async def _sent_all() -> bool:
    return not await Message.exclude(state=MessageState.SENT).exists()


async def test_a_cancelled_order_mails_why(app: Quart, inbox: Inbox) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    order_id = await reserved(buyer, {"ticketId": await listed(seller, "Gig")})
    assert (await buyer.delete(f"/api/orders/{order_id}")).status_code == 204

    mail = await arrived(inbox, "buyer@test.com", "Order cancelled: Gig")
    assert "nothing was charged" in mail.get_content()


async def test_a_transfer_mails_the_recipient_even_without_an_account(
    app: Quart, inbox: Inbox,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    giver = await signed_up(app, "giver@test.com")
    ticket_id, _ = await bought(app, giver, seller)
    response = await giver.post(f"/api/tickets/{ticket_id}/transfer",
                                json={"email": "Friend@Test.com"})
    assert response.status_code == 200, await response.get_json()

    mail = await arrived(inbox, "friend@test.com", "giver@test.com gave you a ticket: Concert")
    assert f"https://tickets.test/tickets/{ticket_id}/pass" in mail.get_content()


async def test_a_resale_that_sells_mails_its_seller(app: Quart, inbox: Inbox) -> None:
    seller = await signed_up(app, "seller@test.com")
    first = await signed_up(app, "first@test.com")
    second = await signed_up(app, "second@test.com")
    ticket_id, _ = await bought(app, first, seller)
    response = await first.post(f"/api/tickets/{ticket_id}/resale", json={"price": 15})
    assert response.status_code == 201

    async def bought_again() -> str | None:
        answer = await second.post("/api/orders", json={"ticketId": ticket_id})
        if answer.status_code == 400:
            return None  # orders has not freed it yet
        assert answer.status_code == 201, await answer.get_json()
        found: str = (await answer.get_json())["id"]
        return found

    await paid(second, await eventually(bought_again, what="the resale to reach orders"))
    mail = await arrived(inbox, "first@test.com", "Your resale sold: Concert")
    assert "$15.00" in mail.get_content()
    assert "https://tickets.test/payouts" in mail.get_content()


async def test_a_waitlist_offer_mails_the_first_in_line(app: Quart, inbox: Inbox) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    waiting = await signed_up(app, "waiting@test.com")
    ticket_id = await listed(seller, "Opera")
    order_id = await reserved(holder, {"ticketId": ticket_id})
    assert (await waiting.post(f"/api/waitlist/{ticket_id}")).status_code == 201
    assert (await holder.delete(f"/api/orders/{order_id}")).status_code == 204

    mail = await arrived(inbox, "waiting@test.com", "A ticket for Opera is yours until")
    assert f"https://tickets.test/waitlist/{ticket_id}" in mail.get_content()


async def test_an_event_delivered_twice_mails_once(app: Quart, inbox: Inbox) -> None:
    await signed_up(app, "once@test.com")
    await arrived(inbox, "once@test.com", "Welcome")
    user = await Message.get(cause__startswith="welcome:")
    consumer = app.extensions["ticketing"].bus.modules["mail"].consumer
    again = UserRegistered(user_id=str(user.user_id), email="once@test.com")
    await consumer.handle(Envelope.wrap(again, "auth"))  # a new envelope: a replay
    gift = TicketTransferred(ticket_id=new_id(), version=2, from_user_id=str(user.user_id),
                             to_email="twice@test.com", title="Gig")
    for _ in range(2):  # two envelopes of one cause: the unique cause keeps one message
        await consumer.handle(Envelope.wrap(gift, "tickets"))
    await eventually(_sent_all, what="every message sent")
    assert inbox.subjects("once@test.com") == ["Welcome to Ticketing"]
    assert inbox.subjects("twice@test.com") == ["once@test.com gave you a ticket: Gig"]
    assert await Message.filter(cause=f"welcome:{user.user_id}").count() == 1


async def test_a_cause_a_day_old_is_not_mailed(app: Quart, inbox: Inbox) -> None:
    """Mail's first run in the split replays the stream's retained week: old news stays
    unsent, and the addresses it carries are kept."""
    consumer = app.extensions["ticketing"].bus.modules["mail"].consumer
    old, recent = new_id(), new_id()
    for user_id, age in ((old, timedelta(days=1, minutes=1)), (recent, timedelta(hours=23))):
        signed = Envelope.wrap(UserRegistered(user_id=user_id, email=f"{user_id}@test.com"),
                               "auth")
        await consumer.handle(replace(signed, occurred_at=signed.occurred_at - age))
    await arrived(inbox, f"{recent}@test.com", "Welcome")
    assert not await Message.filter(user_id=old).exists()
    assert await Recipient.filter(user_id=old).exists()


async def test_an_account_announced_late_gets_its_mail_but_no_welcome(
    app: Quart, inbox: Inbox,
) -> None:
    """Auth's migration 0003 announces the accounts made before mail ran."""
    consumer = app.extensions["ticketing"].bus.modules["mail"].consumer
    old = "01jdq3z2a4c6e8g0j2m4p6r8t0"  # made in November 2024
    await consumer.handle(Envelope.wrap(UserRegistered(user_id=old, email="old@test.com"),
                                        "auth"))
    assert await Recipient.filter(user_id=old).exists()
    assert not await Message.filter(user_id=old).exists()
    gift = TicketTransferred(ticket_id=new_id(), version=2, from_user_id=old,
                             to_email="friend@test.com", title="Gig")
    await consumer.handle(Envelope.wrap(gift, "tickets"))
    await arrived(inbox, "friend@test.com", "old@test.com gave you a ticket")


async def test_a_title_that_would_break_a_header_still_mails(app: Quart,
                                                             inbox: Inbox) -> None:
    consumer = app.extensions["ticketing"].bus.modules["mail"].consumer
    gift = TicketTransferred(ticket_id=new_id(), version=2, from_user_id=new_id(),
                             to_email="odd@test.com", title="Gig\u2028Bcc: x@evil.test")
    await consumer.handle(Envelope.wrap(gift, "tickets"))
    mail = await arrived(inbox, "odd@test.com", "Someone gave you a ticket")
    assert str(mail["Subject"]) == "Someone gave you a ticket: Gig Bcc: x@evil.test"
    assert mail["Bcc"] is None
    page = await app.test_client().get("/dev/mail")
    assert page.status_code == 404  # an SMTP server sends here: no inbox page


async def test_an_order_older_than_mail_is_not_mailed_nor_waited_for(app: Quart) -> None:
    """Its order:created came before mail ran (an upgrade): no mail, no dead letter. A
    young order's later event waits for its order:created instead."""
    consumer = app.extensions["ticketing"].bus.modules["mail"].consumer
    old = "01jdq3z2a4c6e8g0j2m4p6r8t0"  # made in November 2024
    ticket = TicketRef(id=new_id())
    for event in (OrderCompleted(id=old, version=1, ticket=ticket, tickets=(ticket,)),
                  OrderCancelled(id=old, version=2, ticket=ticket, tickets=(ticket,),
                                 reason="refunded")):
        assert await consumer.handle(Envelope.wrap(event, "orders"))
    assert not await Message.filter(cause__endswith=old).exists()
    young = OrderCompleted(id=new_id(), version=1, ticket=ticket, tickets=(ticket,))
    with pytest.raises(RetryLater):
        await consumer.handle(Envelope.wrap(young, "orders"))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def queued(cause: str, to: str, clock: Clock) -> Message:
    return await Message.create(
        id=new_id(), cause=cause, message_id=message_id(cause, SENDER),
        user_id=None, to_address=to, subject=f"About {cause}", body="Hello",
        state=MessageState.QUEUED, created_at=clock.now, next_attempt_at=clock.now)


class CrashAfterSending:
    """Delivers, then dies before the sender can record it (a process killed mid-way)."""

    def __init__(self, transport: SmtpTransport) -> None:
        self._transport = transport

    async def send(self, message: EmailMessage) -> None:
        await self._transport.send(message)
        raise KeyboardInterrupt  # not a DeliveryFailed: nothing is recorded


@pytest.fixture
async def own_sender(app: Quart) -> Quart:
    """The app with its own sender stopped: the test's senders, on the test's clock, are
    the only ones taking messages."""
    await app.extensions["ticketing"].bus.supervisor.tasks["mail-sender"].stop()
    return app


async def test_a_crash_after_sending_resends_with_the_same_message_id(
    own_sender: Quart, inbox: Inbox, smtp: tuple[Inbox, int],
) -> None:
    clock = Clock()
    transport = SmtpTransport(f"smtp://127.0.0.1:{smtp[1]}")
    await queued("test:crash", "crash@test.com", clock)
    with pytest.raises(KeyboardInterrupt):
        await Sender(CrashAfterSending(transport), SENDER, clock).work_batch()
    sender = Sender(transport, SENDER, clock)
    assert await sender.work_batch() == 0  # leased to the sender that died
    clock.now += LEASE + timedelta(seconds=1)
    assert await sender.work_batch() == 1

    first, second = inbox.to("crash@test.com")
    assert first["Message-ID"] == second["Message-ID"] == message_id("test:crash", SENDER)
    assert first.as_bytes() == second.as_bytes()
    row = await Message.get(cause="test:crash")
    assert (row.state, row.attempts) == (MessageState.SENT, 2)


async def test_a_server_away_is_tried_again_later_and_a_refusal_fails_at_once(
    own_sender: Quart, inbox: Inbox, smtp: tuple[Inbox, int],
) -> None:
    clock = Clock()
    await queued("test:away", "away@test.com", clock)
    away = Sender(SmtpTransport("smtp://127.0.0.1:1", timeout=2), SENDER, clock)
    assert await away.work_batch() == 1
    row = await Message.get(cause="test:away")
    assert (row.state, row.attempts) == (MessageState.QUEUED, 1)
    assert row.last_error is not None
    assert "unreachable" in row.last_error
    assert row.next_attempt_at == clock.now + retry_after(1)

    sender = Sender(SmtpTransport(f"smtp://127.0.0.1:{smtp[1]}"), SENDER, clock)
    assert await sender.work_batch() == 0  # not yet
    clock.now += retry_after(1)
    await sender.work_batch()
    assert inbox.subjects("away@test.com") == ["About test:away"]

    inbox.refuse_with = "550 5.1.1 No such mailbox"
    await queued("test:refused", "nobody@test.com", clock)
    await sender.work_batch()
    refused = await Message.get(cause="test:refused")
    assert (refused.state, refused.attempts) == (MessageState.FAILED, 1)
    assert refused.last_error == "SMTP 550: 5.1.1 No such mailbox"


async def test_a_message_waits_a_day_for_its_readers_address(
    own_sender: Quart, inbox: Inbox, smtp: tuple[Inbox, int],
) -> None:
    """Written before mail heard of its reader (a sign-up still being applied): queued once
    the address is known, on the sender's round or the sign-up's; given up after a day."""
    clock = Clock()
    sender = Sender(SmtpTransport(f"smtp://127.0.0.1:{smtp[1]}"), SENDER, clock)
    early, late, never = new_id(), new_id(), new_id()
    for user_id in (early, late, never):
        await waiting_for(user_id, clock)
    await Recipient.create(user_id=early, email="early@test.com")
    await sender.work_batch()
    assert inbox.subjects("early@test.com") == [f"About {early}"]

    consumer = own_sender.extensions["ticketing"].bus.modules["mail"].consumer
    await consumer.handle(Envelope.wrap(UserRegistered(user_id=late, email="late@test.com"),
                                        "auth"))
    assert (await Message.get(cause=late)).state == MessageState.QUEUED

    clock.now += ADDRESS_GRACE + timedelta(seconds=1)
    await sender.work_batch()
    given_up = await Message.get(cause=never)
    assert (given_up.state, given_up.last_error) == (MessageState.FAILED,
                                                     "no address in time")


async def waiting_for(user_id: str, clock: Clock) -> Message:
    return await Message.create(
        id=new_id(), cause=user_id, message_id=message_id(user_id, SENDER), user_id=user_id,
        to_address=None, subject=f"About {user_id}", body="Hello",
        state=MessageState.UNADDRESSED, created_at=clock.now, next_attempt_at=clock.now)


async def test_a_message_whose_every_try_died_is_given_up_on(
    own_sender: Quart, smtp: tuple[Inbox, int],
) -> None:
    clock = Clock()
    message = await queued("test:doomed", "doomed@test.com", clock)
    await Message.filter(id=message.id).update(attempts=MAX_ATTEMPTS)
    await Sender(SmtpTransport(f"smtp://127.0.0.1:{smtp[1]}"), SENDER, clock).work_batch()
    doomed = await Message.get(id=message.id)
    assert (doomed.state, doomed.last_error) == (MessageState.FAILED,
                                                 "no outcome after many tries")


async def test_the_smtp_transport_says_whether_a_failure_is_for_good(
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, "a@test.com", "Hi"
    message.set_content("Hello")
    inbox.refuse_with = "451 4.3.0 Try again later"
    with pytest.raises(DeliveryFailed) as later:
        await SmtpTransport(f"smtp://127.0.0.1:{port}").send(message)
    assert not later.value.permanent
    inbox.refuse_with = "554 5.7.1 Rejected"
    with pytest.raises(DeliveryFailed) as never:
        await SmtpTransport(f"smtp://127.0.0.1:{port}").send(message)
    assert never.value.permanent
