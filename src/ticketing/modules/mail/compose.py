"""The words of each mail, and the message a mail program receives.

Pure functions: the reactions choose a :class:`Draft` per cause and store it; the sender
and the development page both turn a stored row into the same :class:`EmailMessage`
(:func:`as_email`), so what a page shows is byte for byte what was sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr


@dataclass(frozen=True)
class Draft:
    """A message before it is stored: its cause (one mail per cause), its words."""

    cause: str
    subject: str
    body: str


def message_id(cause: str, sender: str) -> str:
    """A Message-ID that only the cause decides: ``<hash@sender's domain>``."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ticketing.localhost"
    return f"<{hashlib.sha256(cause.encode()).hexdigest()[:32]}@{domain}>"


def as_email(*, sender: str, to: str, subject: str, body: str, message_id: str,
             created_at: datetime) -> EmailMessage:
    """The message as sent: its Date is when it was written, so a resend is identical."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    # A title is the seller's words: whatever would break a header line (U+2028 too,
    # which the header check refuses) becomes a space.
    message["Subject"] = " ".join(subject.splitlines())
    message["Date"] = format_datetime(created_at)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message.set_content(body)
    return message


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _sign_off(site: str) -> str:
    return f"\n\n--\nTicketing · {site}\nYou get this mail because of your account there.\n"


def welcome(user_id: str, email: str, site: str) -> Draft:
    return Draft(f"welcome:{user_id}", "Welcome to Ticketing",
                 f"Hello,\n\nyour account {email} is ready. Find tickets at {site}/ and "
                 f"sell your own from {site}/tickets/new." + _sign_off(site))


def order_reserved(order_id: str, title: str, quantity: int, total: Decimal,
                   expires_at: datetime, site: str) -> Draft:
    return Draft(f"order-reserved:{order_id}", f"Reserved: {title} — pay by {_when(expires_at)}",
                 f"You reserved {quantity} x {title} for {_money(total)}.\n\n"
                 f"Pay by {_when(expires_at)}, or the tickets go back on sale:\n"
                 f"{site}/orders/{order_id}" + _sign_off(site))


def order_paid(order_id: str, title: str, ticket_ids: list[str], site: str) -> Draft:
    passes = "\n".join(f"  {site}/tickets/{ticket_id}/pass" for ticket_id in ticket_ids)
    return Draft(f"order-paid:{order_id}", f"Payment received: {title}",
                 f"Your payment for {title} was received. Show your pass at the door "
                 f"(print it, or open it on your phone):\n{passes}\n\n"
                 f"Your order: {site}/orders/{order_id}" + _sign_off(site))


def order_cancelled(order_id: str, title: str, reason: str | None, site: str) -> Draft:
    if reason == "expired":
        subject, words = (f"Reservation expired: {title}",
                          "The time to pay ran out, so the tickets went back on sale.")
    elif reason == "refunded":
        subject, words = (f"Refunded: {title}",
                          "Your order was refunded: the money goes back the way you paid, "
                          "and the passes no longer let anyone in.")
    else:
        subject, words = (f"Order cancelled: {title}",
                          "Your order was cancelled; nothing was charged.")
    return Draft(f"order-cancelled:{order_id}", subject,
                 f"{words}\n\n{site}/orders/{order_id}" + _sign_off(site))


def ticket_transferred(ticket_id: str, version: int, title: str, giver: str | None,
                       site: str) -> Draft:
    who = giver or "Someone"
    return Draft(f"transfer:{ticket_id}:{version}", f"{who} gave you a ticket: {title}",
                 f"{who} transferred a ticket for {title} to this address. Sign in (or sign "
                 f"up) with this address to see your pass:\n{site}/tickets/{ticket_id}/pass"
                 + _sign_off(site))


def resale_sold(ticket_id: str, order_id: str, title: str, price: Decimal, site: str) -> Draft:
    return Draft(f"resold:{ticket_id}:{order_id}", f"Your resale sold: {title}",
                 f"The ticket for {title} you put back on sale was bought for "
                 f"{_money(price)}. Your old pass no longer lets anyone in; the payout is "
                 f"recorded:\n{site}/payouts" + _sign_off(site))


def waitlist_offer(scope_id: str, ticket_id: str, user_id: str, title: str, until: datetime,
                   site: str) -> Draft:
    return Draft(f"waitlist:{ticket_id}:{user_id}:{int(until.timestamp())}",
                 f"A ticket for {title} is yours until {until.strftime('%H:%M UTC')}",
                 f"A ticket for {title} came back and you are first on its waitlist: only "
                 f"you can reserve it until {_when(until)}, then everyone can.\n"
                 f"{site}/waitlist/{scope_id}" + _sign_off(site))
