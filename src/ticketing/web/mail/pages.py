"""``/dev/mail``: what the mail module wrote, for a developer without an SMTP server.

Every message of every user is listed, so the pages exist only where
:attr:`~ticketing.modules.mail.api.Mail.inbox_shown` says: never when a real server sends,
as it always does in production (404 there, like any unknown page)."""

from __future__ import annotations

from quart import Blueprint, Response, render_template

from ticketing.errors import NotFound
from ticketing.modules.mail.api import Mail
from ticketing.web.shell.runtime import facade

blueprint = Blueprint("dev_mail", __name__, template_folder="templates", url_prefix="/dev/mail")


def mail() -> Mail:
    """The mail facade of this process, if its inbox may be shown."""
    found = facade("mail")
    assert isinstance(found, Mail)
    if not found.inbox_shown:
        raise NotFound()
    return found


@blueprint.get("")
async def inbox() -> tuple[str, int]:
    """Every message, newest first, and whether it went."""
    return await render_template("mail/inbox.html", messages=await mail().recent()), 200


@blueprint.get("/<message_id>")
async def message_page(message_id: str) -> tuple[str, int]:
    """One message: its headers and words, as its reader gets them."""
    return await render_template("mail/message.html",
                                 message=await mail().message(message_id)), 200


@blueprint.get("/<message_id>/raw")
async def message_file(message_id: str) -> Response:
    """The ``.eml`` file (open it in a mail program)."""
    found = await mail().message(message_id)
    if not found.raw:
        raise NotFound()
    return Response(found.raw, mimetype="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="{found.id}.eml"'})
