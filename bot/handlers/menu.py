"""The main menu: its entries, and what choosing one does."""

from __future__ import annotations

from bot.conversation import Conversation
from bot.i18n import N_, _
from bot.messages import Button, Incoming
from bot.vn.intents import Intent, match_intent

# Menu entries: payload -> label. The dispatcher runs each entry's flow
# (bot.dispatch.routes.MENU_FLOWS).
MENU = {
    "menu:register": N_("Register for vaccination"),
    "menu:results": N_("Test results"),
    "menu:certificate": N_("Certificates"),
    "menu:support": N_("Support"),
    "menu:appointments": N_("My appointments"),
    "menu:qr": N_("PCR test QR"),
}
# Entries reached from other messages' buttons, commands or text, not shown on the main menu.
MORE_ENTRIES = {
    "menu:lookup": N_("Look up a result"),
    "menu:qr_add": N_("A QR for someone else"),
}
ENTRIES = {**MENU, **MORE_ENTRIES}
INTENT_TO_MENU = {
    Intent.REGISTER: "menu:register",
    Intent.RESULTS: "menu:results",
    Intent.CERTIFICATE: "menu:certificate",
    Intent.SUPPORT: "menu:support",
    Intent.APPOINTMENTS: "menu:appointments",
    Intent.QR: "menu:qr",
    Intent.LOOKUP: "menu:lookup",
}
COMMAND_TO_MENU = {
    "dangky": "menu:register",
    "ketqua": "menu:results",
    "chungnhan": "menu:certificate",
    "hotro": "menu:support",
    "lichhen": "menu:appointments",
    "maqr": "menu:qr",
    "tracuu": "menu:lookup",
}


def menu_buttons() -> list[list[Button]]:
    """The main menu, two buttons per row."""
    buttons = [Button(_(label), payload) for payload, label in MENU.items()]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


async def show_menu(msg: Incoming, conv: Conversation) -> None:
    """Show the main menu with examples of what can be typed."""
    conv.finish()
    conv.reply(
        _(
            "What do you need? Choose below, or type for example: "
            "“đk tiêm”, “kq xn”, “gcn”, “hỗ trợ”."
        ),
        buttons=menu_buttons(),
    )


def kept_note(conv: Conversation) -> str:
    """The note that a form in progress is kept, for a reply that interrupts it (else "")."""
    if conv.flow is None:
        return ""
    return " " + _("What you entered is kept: answer the last question to go on.")


def menu_payload(msg: Incoming) -> str:
    """The menu entry a button, command or free text chooses."""
    if msg.payload in ENTRIES:
        return msg.payload
    if msg.command in COMMAND_TO_MENU:
        return COMMAND_TO_MENU[msg.command]
    intent = match_intent(msg.text)
    return INTENT_TO_MENU.get(intent, "menu:support") if intent else "menu:support"
