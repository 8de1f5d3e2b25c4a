"""Welcome, main menu, help, language, and the answers for input the bot cannot use."""

from __future__ import annotations

from bot.conversation import Conversation
from bot.handlers import privacy
from bot.handlers.menu import menu_buttons
from bot.i18n import LANGUAGE_NAMES, _, negotiate, use_locale
from bot.messages import Button, Incoming, Outgoing

MAX_TEXT = 1000  # longer messages are refused kindly instead of being guessed at


async def start(msg: Incoming, conv: Conversation) -> None:
    """Greet; ask for consent first if it is missing, else show the main menu."""
    conv.finish()
    if not conv.consented:
        await privacy.ask_consent(msg, conv)
        return
    conv.reply(_("Hello! What can I do for you today?"), buttons=menu_buttons())


async def show_help(msg: Incoming, conv: Conversation) -> None:
    """List the commands and say that free text works with or without diacritics."""
    conv.reply(
        _(
            "You can use these commands:\n"
            "/start – start again and see the menu\n"
            "/dangky – register for vaccination\n"
            "/lichhen – your appointments: move, cancel, QR\n"
            "/maqr – your QR code for PCR sampling\n"
            "/ketqua – test results\n"
            "/tracuu – look up a relative's test result\n"
            "/chungnhan – vaccination certificate\n"
            "/hotro – talk to a support agent\n"
            "/sodienthoai – update your phone number\n"
            "/lienket – link your Telegram and Zalo chats\n"
            "/ngonngu – change language\n"
            "/xemdulieu – see the data we hold about you\n"
            "/xoadulieu – delete your data\n"
            "/rutdongy – withdraw your consent\n"
            "/huy – cancel what you are doing\n\n"
            "You can also just type, with or without diacritics, for example "
            "“dang ky tiem” or “kq”."
        )
    )


async def ask_language(msg: Incoming, conv: Conversation) -> None:
    """Offer the languages as buttons."""
    conv.reply(
        _("Choose your language:"),
        buttons=[[Button(name, f"lang:{code}") for code, name in LANGUAGE_NAMES.items()]],
    )


async def set_language(msg: Incoming, conv: Conversation) -> None:
    """Store the chosen language and confirm in it."""
    code = (msg.payload or "").removeprefix("lang:")
    if code not in LANGUAGE_NAMES:
        await ask_language(msg, conv)
        return
    conv.account.locale = code
    with use_locale(code):
        conv.reply(_("Done: I will write to you in English from now on."))


async def cancel(msg: Incoming, conv: Conversation) -> None:
    """Leave the current flow, if any, and show the menu."""
    text = (
        _("Cancelled. Is there anything else I can do?")
        if conv.flow
        else _("There is nothing to cancel right now.")
    )
    conv.finish()
    conv.reply(text, buttons=menu_buttons())


async def not_understood(msg: Incoming, conv: Conversation) -> None:
    """Say kindly that the text was not understood, and show the menu."""
    conv.reply(
        _("Sorry, I did not understand. Please choose below, or type /help for instructions."),
        buttons=menu_buttons(),
    )


async def unknown_command(msg: Incoming, conv: Conversation) -> None:
    """Name the command we do not know and point to /help; the flow stays where it was."""
    conv.reply(
        _("Sorry, I do not know the command /{command}. Type /help to see what I can do.").format(
            command=(msg.command or "")[:32]
        )
    )


async def unsupported(msg: Incoming, conv: Conversation) -> None:
    """Answer a sticker, voice note or other content the bot cannot read (photos it can)."""
    conv.reply(
        _(
            "Thank you! For now I can only read text messages, buttons and photos of "
            "certificate QR codes."
        ),
        buttons=[] if conv.flow else menu_buttons(),
    )


async def too_long(msg: Incoming, conv: Conversation) -> None:
    """Refuse an overly long message without losing the citizen's place."""
    conv.reply(
        _("Your message is too long ({length} characters). Please keep it under {limit}.").format(
            length=len(msg.text), limit=MAX_TEXT
        )
    )


async def menu_expired(msg: Incoming, conv: Conversation) -> None:
    """Answer a button from an old message that no longer applies."""
    if conv.flow:
        conv.reply(
            _(
                "That button belongs to an older message. Please answer the latest question, "
                "or type /huy to stop."
            )
        )
    else:
        conv.reply(_("This menu has expired. Here is the current one."), buttons=menu_buttons())


def idle_notice(conv: Conversation) -> None:
    """Tell the citizen that an abandoned flow was closed, before answering the new message."""
    hours = conv.services.settings.conversation_idle_hours
    conv.reply(
        _(
            "Your previous conversation was closed after {hours} hours without activity. "
            "Let's start again."
        ).format(hours=f"{hours:g}")
    )


def command_menu() -> list[tuple[str, str]]:
    """The commands platforms list in their menu, described in the current locale."""
    return [
        ("start", _("Start and see the menu")),
        ("dangky", _("Register for vaccination")),
        ("lichhen", _("My appointments")),
        ("maqr", _("PCR test QR")),
        ("ketqua", _("Test results")),
        ("tracuu", _("Look up a result")),
        ("chungnhan", _("Vaccination certificate")),
        ("hotro", _("Talk to a support agent")),
        ("sodienthoai", _("Update your phone number")),
        ("lienket", _("Link your Telegram and Zalo chats")),
        ("ngonngu", _("Change language")),
        ("xemdulieu", _("See the data we hold about you")),
        ("xoadulieu", _("Delete your data")),
        ("rutdongy", _("Withdraw your consent")),
        ("huy", _("Cancel what you are doing")),
        ("help", _("Help")),
    ]


def private_only(msg: Incoming) -> Outgoing:
    """The answer in a group chat, where nothing is stored: health data is not for groups."""
    with use_locale(negotiate(msg.language)):
        return Outgoing(
            chat=msg.chat,
            text=_(
                "To protect your personal data I only talk in private chats. Please message me "
                "directly."
            ),
        )
