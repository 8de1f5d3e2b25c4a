"""The personal sampling QR as a chat message: given by /maqr and at the end of registration."""

from __future__ import annotations

from bot.conversation import Conversation
from bot.domain import qr_tokens
from bot.domain.qr_image import qr_png
from bot.handlers.menu import menu_buttons
from bot.i18n import _, format_moment
from bot.messages import Button
from storage.models import Person


async def send_qr(conv: Conversation, registered: list[Person]) -> None:
    """One QR image per person, with who it is for and until when it is valid."""
    for person in registered:
        token = qr_tokens.issue(conv.services.protector, person.id, now=conv.now)
        conv.reply(
            _(
                "PCR sampling QR for {name}, valid until {moment}. Show it at the sampling site; "
                "it contains no personal data. Type /maqr for a new one at any time."
            ).format(name=person.full_name, moment=format_moment(conv.now + qr_tokens.VALID_FOR)),
            image=qr_png(token, box_size=8),
        )
    conv.reply(
        _("Results will arrive in this chat as soon as the lab sends them."),
        buttons=[[Button(_("A QR for someone else"), "menu:qr_add")], *menu_buttons()],
    )
