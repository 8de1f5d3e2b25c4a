"""The citizen's own phone number: asked, confirmed, stored encrypted.

Flow `phone`:
    ASK      -> a shared contact (their own) or a typed number; asks to confirm it
    CONFIRM  -> "Yes" stores it sealed with its blind index; "No" asks again
"""

from __future__ import annotations

import base64
from enum import StrEnum

from bot.channels import web_chat
from bot.conversation import Conversation, Handler
from bot.handlers.menu import menu_buttons
from bot.i18n import _
from bot.messages import Button, Incoming, Kind
from bot.vn.intents import Intent, is_answer
from bot.vn.phone import mask_phone, normalize_phone

FLOW = "phone"
PHONE_INDEX = "phone"  # blind-index kind, shared by every table that looks phones up


class Step(StrEnum):
    """Where the phone flow waits."""

    ASK = "ask"
    CONFIRM = "confirm"


def shares_contacts(conv: Conversation) -> bool:
    """Whether this chat has a "Share my phone number" button (the web chat has none)."""
    return conv.chat.channel != web_chat.NAME


async def ask_phone(msg: Incoming, conv: Conversation) -> None:
    """Ask for the mobile number, offering the platform's share-contact button."""
    conv.goto(FLOW, Step.ASK)
    if not shares_contacts(conv):
        conv.reply(_("Please type your mobile phone number, for example 0912 345 678."))
        return
    conv.reply(
        _(
            "Please give your mobile phone number: press “Share my phone number” below, or type "
            "it, for example 0912 345 678."
        ),
        request_phone=_("Share my phone number"),
    )


async def receive_phone(msg: Incoming, conv: Conversation) -> None:
    """Read a shared contact or a typed number; ask to confirm it, masked."""
    if msg.contact is not None and msg.contact.user_id not in (None, msg.user_id):
        conv.reply(
            _("Please share your own phone number (press the button below), or type it."),
            request_phone=_("Share my phone number"),
        )
        return
    typed = msg.contact.phone if msg.contact else msg.text if msg.kind == Kind.TEXT else ""
    phone = normalize_phone(typed)
    if phone is None:
        conv.reply(
            _(
                "That does not look like a Vietnamese mobile number (10 digits starting with 0). "
                "Please type it again, for example 0912 345 678."
            ),
            request_phone=_("Share my phone number"),
        )
        return
    sealed = conv.services.protector.seal(phone)
    conv.goto(FLOW, Step.CONFIRM, phone=base64.b64encode(sealed).decode())
    conv.reply(
        _("Your phone number is {phone}. Is that right?").format(phone=mask_phone(phone)),
        buttons=[
            [Button(_("Yes, save it"), "phone:yes"), Button(_("No, type again"), "phone:no")]
        ],
        remove_keyboard=True,
    )


async def confirm_phone(msg: Incoming, conv: Conversation) -> None:
    """Store the confirmed number, or ask again."""
    if msg.payload == "phone:no" or is_answer(msg.text, Intent.NO):
        await ask_phone(msg, conv)
        return
    if not (msg.payload == "phone:yes" or is_answer(msg.text, Intent.YES)):
        conv.reply(_("Please answer with the buttons: is the number right?"))
        return
    protector = conv.services.protector
    sealed = base64.b64decode(conv.data["phone"])
    phone = protector.open(sealed)
    conv.account.phone_sealed = sealed
    conv.account.phone_index = protector.blind_index(PHONE_INDEX, phone)
    conv.finish()
    conv.reply(
        _("Saved: {phone}. It is stored encrypted.").format(phone=mask_phone(phone)),
        buttons=menu_buttons(),
    )


STEPS: dict[str, Handler] = {Step.ASK: receive_phone, Step.CONFIRM: confirm_phone}
