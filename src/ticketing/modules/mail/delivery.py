"""How a message leaves: through an SMTP server, or into a folder of ``.eml`` files.

``TICKETING_SMTP_URL`` chooses (:func:`build_mail_transport`). Both take a finished
:class:`~email.message.EmailMessage` and either deliver it or raise
:class:`DeliveryFailed`, saying whether trying again could help.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

SMTP_TIMEOUT_SECONDS = 30.0


class DeliveryFailed(Exception):
    """The message did not go; ``permanent`` when the server refused this message or its
    recipient for good (5xx)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Deliver the message, or raise :class:`DeliveryFailed`."""


class SmtpTransport:
    """An SMTP submission server: ``smtp://`` upgrades with STARTTLS when the server
    offers it (port 587 unless named), ``smtps://`` speaks TLS from the start (465)."""

    def __init__(self, url: str, timeout: float = SMTP_TIMEOUT_SECONDS) -> None:
        parts = urlsplit(url)
        implicit_tls = parts.scheme == "smtps"
        assert parts.hostname, "settings check the URL"
        self._hostname = parts.hostname
        self._port = parts.port or (465 if implicit_tls else 587)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._implicit_tls = implicit_tls
        self._timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(message, hostname=self._hostname, port=self._port,
                                  username=self._username, password=self._password,
                                  use_tls=self._implicit_tls, timeout=self._timeout)
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            raise DeliveryFailed(f"recipient refused: {error.recipients[0].message}",
                                 permanent=all(code >= 500 for code in codes)) from error
        except aiosmtplib.SMTPDataError as error:  # this message refused, for good if 5xx
            raise DeliveryFailed(f"SMTP {error.code}: {error.message}",
                                 permanent=error.code >= 500) from error
        except aiosmtplib.SMTPResponseException as error:
            # Our credentials, our sender address, the server's greeting: the server's
            # set-up or ours, which someone fixes; the message waits and is tried again.
            raise DeliveryFailed(f"SMTP {error.code}: {error.message}") from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise DeliveryFailed(f"SMTP server unreachable: {error}") from error


class DirectoryTransport:
    """The embedded default: each message becomes ``<folder>/<hash of its Message-ID>.eml``,
    written aside and renamed into place, so a file is whole or absent and a message sent
    again replaces its own file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_of(self, message_id: str) -> Path:
        return self.folder / f"{hashlib.sha256(message_id.encode()).hexdigest()[:32]}.eml"

    async def send(self, message: EmailMessage) -> None:
        try:
            await asyncio.to_thread(self._write, message)
        except OSError as error:
            raise DeliveryFailed(f"cannot write into {self.folder}: {error}") from error

    def _write(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path_of(str(message["Message-ID"]))
        with tempfile.NamedTemporaryFile("wb", dir=self.folder, prefix=".draft-",
                                         delete=False) as draft:
            draft.write(message.as_bytes())
        os.replace(draft.name, target)


def build_mail_transport(smtp_url: str, data_dir: Path) -> SmtpTransport | DirectoryTransport:
    return SmtpTransport(smtp_url) if smtp_url else DirectoryTransport(data_dir / "mail")
