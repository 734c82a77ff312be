"""Mail without an SMTP server (the embedded default): every message is an ``.eml`` file
under the data dir, listed at ``/dev/mail`` (absent once a server sends, and in
production); a message whose reader's address has not arrived waits for it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path

from quart import Quart

from tests.support.payments import signed_up
from tests.support.waiting import eventually
from ticketing.app import create_app
from ticketing.bus.contracts import Envelope, OrderCreated, TicketRef, UserRegistered
from ticketing.ids import new_id
from ticketing.modules.mail.delivery import DirectoryTransport
from ticketing.modules.mail.models import Message, MessageState
from ticketing.settings import Settings


async def sent(cause_start: str) -> Message:
    async def found() -> Message | None:
        return await Message.filter(cause__startswith=cause_start,
                                    state=MessageState.SENT).first()

    return await eventually(found, what=f"a sent {cause_start} message")


async def test_each_message_is_a_file_listed_at_dev_mail(app: Quart, settings: Settings) -> None:
    await signed_up(app, "dev@test.com")
    welcome = await sent("welcome:")
    file = DirectoryTransport(settings.data_dir / "mail").path_of(welcome.message_id)
    parsed = message_from_bytes(file.read_bytes(), policy=policy.default)
    assert (parsed["To"], parsed["Subject"], parsed["Message-ID"]) == (
        "dev@test.com", "Welcome to Ticketing", welcome.message_id)

    client = app.test_client()
    inbox = await (await client.get("/dev/mail")).get_data(as_text=True)
    assert "dev@test.com" in inbox
    assert f'href="/dev/mail/{welcome.id}"' in inbox
    page = await client.get(f"/dev/mail/{welcome.id}")
    assert page.status_code == 200
    assert welcome.message_id.replace("<", "&lt;").replace(">", "&gt;") in \
        await page.get_data(as_text=True)
    raw = await client.get(f"/dev/mail/{welcome.id}/raw")
    assert raw.headers["Content-Type"] == "message/rfc822"
    assert await raw.get_data() == file.read_bytes()  # what was sent, byte for byte
    assert (await client.get("/dev/mail/01m8y5r0c189b3k49s6dhbcsnr")).status_code == 404


async def test_dev_mail_is_absent_with_a_server_as_in_production(settings: Settings) -> None:
    with_server = create_app(replace(settings, smtp_url="smtp://127.0.0.1:1"))
    async with with_server.test_app():
        response = await with_server.test_client().get("/dev/mail")
        assert response.status_code == 404


def order_for(user_id: str, expires_at: datetime) -> OrderCreated:
    ticket = TicketRef(id=new_id(), price=Decimal("12.00"))
    return OrderCreated(id=new_id(), version=0, status="created", user_id=user_id,
                        expires_at=expires_at, ticket=ticket, tickets=(ticket,))


async def test_a_message_waits_for_its_readers_address(app: Quart) -> None:
    consumer = app.extensions["ticketing"].bus.modules["mail"].consumer
    user_id = new_id()
    soon = datetime.now(UTC) + timedelta(minutes=15)
    await consumer.handle(Envelope.wrap(order_for(user_id, soon), "orders"))
    waiting = await Message.get(cause__startswith="order-reserved:")
    assert (waiting.state, waiting.to_address) == (MessageState.UNADDRESSED, None)
    stale = await Message.create(
        id=new_id(), cause="test:stale", message_id="<stale@test>", user_id=user_id,
        to_address=None, subject="Old news", body="-", state=MessageState.UNADDRESSED,
        created_at=datetime.now(UTC) - timedelta(days=2), next_attempt_at=datetime.now(UTC))

    await consumer.handle(Envelope.wrap(UserRegistered(user_id=user_id,
                                                       email="late@test.com"), "auth"))
    reserved = await sent("order-reserved:")
    assert (reserved.id, reserved.to_address) == (waiting.id, "late@test.com")
    assert reserved.subject.startswith("Reserved: your tickets — pay by")
    assert (await Message.get(id=stale.id)).state == MessageState.FAILED
    await sent("welcome:")


async def test_a_reservation_told_after_its_deadline_is_not_mailed(app: Quart) -> None:
    consumer = app.extensions["ticketing"].bus.modules["mail"].consumer
    past = datetime.now(UTC) - timedelta(minutes=1)
    await consumer.handle(Envelope.wrap(order_for(new_id(), past), "orders"))
    assert not await Message.filter(cause__startswith="order-reserved:").exists()


def test_the_eml_file_name_comes_from_the_message_id(tmp_path: Path) -> None:
    transport = DirectoryTransport(tmp_path)
    assert transport.path_of("<a@b>") == transport.path_of("<a@b>")
    assert transport.path_of("<a@b>") != transport.path_of("<c@b>")
