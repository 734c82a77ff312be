"""The mail module's public facade: what the development page may read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from ticketing.errors import NotFound
from ticketing.ids import is_valid_id
from ticketing.modules.mail.compose import as_email
from ticketing.modules.mail.models import Message, MessageState

__all__ = ["Mail", "MailApi", "MessageView"]


@dataclass(frozen=True)
class MessageView:
    id: str
    cause: str
    message_id: str
    to_address: str | None
    subject: str
    body: str
    state: MessageState
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    raw: bytes  # the message as the reader's mail program gets it (empty: no address yet)


@runtime_checkable
class Mail(Protocol):
    """What the web layer may ask of mail."""

    @property
    def inbox_shown(self) -> bool:
        """Whether ``/dev/mail`` lists what was sent: only without an SMTP server (the
        messages are files on this machine), so never in production, which needs one."""

    async def recent(self, limit: int = 100) -> list[MessageView]:
        """The newest messages first, whatever their state."""

    async def message(self, message_id: str) -> MessageView:
        """One message; :class:`~ticketing.errors.NotFound` if there is none."""


class MailApi(Mail):
    def __init__(self, sender_address: str, inbox_shown: bool) -> None:
        self._from = sender_address
        self._inbox_shown = inbox_shown

    @property
    def inbox_shown(self) -> bool:
        return self._inbox_shown

    async def recent(self, limit: int = 100) -> list[MessageView]:
        return [self._view(m) for m in
                await Message.all().order_by("-created_at", "-id").limit(limit)]

    async def message(self, message_id: str) -> MessageView:
        found = await Message.get_or_none(id=message_id) if is_valid_id(message_id) else None
        if found is None:
            raise NotFound()
        return self._view(found)

    def _view(self, message: Message) -> MessageView:
        raw = b"" if message.to_address is None else as_email(
            sender=self._from, to=message.to_address, subject=message.subject,
            body=message.body, message_id=message.message_id,
            created_at=message.created_at).as_bytes()
        return MessageView(message.id, message.cause, message.message_id, message.to_address,
                           message.subject, message.body, message.state, message.created_at,
                           message.sent_at, message.attempts, message.last_error, raw)
