"""Talking to a human, the citizen's side: open a ticket, write to staff, end it, rate it.

"Hỗ trợ" (menu button), /hotro, text such as "gap nhan vien" or "cho toi noi chuyen voi nguoi
that", or "Gặp nhân viên hỗ trợ" offered after repeated wrong answers open a ticket (consent is
needed first, since what the citizen writes goes to staff). While it is open, the dispatcher
hands every message here: text and photos go to the ticket's thread on the staff desk, and the
bot's own flows wait where they were; /huy or "Kết thúc" ends the ticket. Staff answers come
back from the desk (`bot.handlers.desk`). When a ticket closes the citizen may rate the help
from 1 to 5 (`tk:rate:<ticket>:<n>`, valid from any message, only on the ticket's account).
"""

from __future__ import annotations

from bot.conversation import Conversation
from bot.domain import tickets
from bot.domain.tickets import DESK_LOCALE, END, RATE
from bot.handlers.menu import kept_note, menu_buttons
from bot.i18n import N_, _, use_locale
from bot.messages import Button, ChatRef, Incoming, Kind, Outgoing, payload_id
from storage import tickets as store
from storage.models import Ticket
from storage.tickets import OPEN

CITIZEN_ACTOR = "citizen"
# What a citizen was doing when they asked for help, as the desk reads it.
FLOW_NAMES = {
    "register": N_("vaccination registration"),
    "appointments": N_("appointments"),
    "lookup": N_("result lookup"),
    "phone": N_("phone number"),
    "privacy": N_("data and consent"),
}


def _reason(msg: Incoming, conv: Conversation) -> str:
    """Why the ticket opens, in the desk's language."""
    with use_locale(DESK_LOCALE):
        if conv.flow is not None:
            flow = _(FLOW_NAMES.get(conv.flow, conv.flow))
            return _("Asked for help during {flow} (step “{step}”)").format(
                flow=flow, step=conv.step or ""
            )
        if msg.command:
            return _("Typed /{command}").format(command=msg.command)
        if msg.payload:
            return _("Chose “Support” in the menu")
        return _("Asked in a message")


async def open_ticket(msg: Incoming, conv: Conversation) -> None:
    """Open a ticket with its reason and context; say that a staff member will answer here."""
    desk = conv.services.desk  # None: the ticket is in the console's inbox alone
    session, account = conv.session, conv.account
    typed = msg.text if msg.kind == Kind.TEXT else ""
    with use_locale(DESK_LOCALE):
        who = await tickets.describe_citizen(session, account, conv.services.protector)
        context = await tickets.recent_context(session, account, typed)
    ticket = await tickets.open_ticket(
        session,
        account=account,
        reason=_reason(msg, conv),
        who=who,
        context=context,
        desk=desk,
        now=conv.now,
        typed=typed,
    )
    conv.ticket_id = ticket.id
    conv.after_commit.append(conv.services.desk_woken)
    conv.reply(
        _(
            "I have asked a support staff member to help you (request #{id}). Please describe "
            "your problem here: they will answer in this chat, usually within 15 minutes in "
            "office hours. Until then the bot waits; press “End” when you are done."
        ).format(id=ticket.id)
        + kept_note(conv),
        buttons=[[Button(_("End the conversation"), END)]],
    )


async def relay(msg: Incoming, conv: Conversation) -> None:
    """While a ticket is open: text and photos go to staff; /huy or "End" closes it."""
    if msg.command in ("huy", "cancel") or msg.payload == END:
        await end_ticket(msg, conv)
        return
    ticket = await store.get_ticket(conv.session, conv.ticket_id or 0)
    if ticket is None or ticket.status != OPEN:  # closed by staff a moment ago
        conv.ticket_id = None
        conv.reply(_("Your conversation with support staff has ended."), buttons=menu_buttons())
        return
    message = _desk_copy(msg, ticket)
    if message is None:
        _not_relayed(msg, conv)
        return
    await tickets.to_desk(conv.session, ticket, message, now=conv.now)
    await store.add_entry(
        conv.session,
        ticket.id,
        kind=store.CITIZEN,
        author=CITIZEN_ACTOR,
        text=msg.text.strip() or _("(photo)"),
        now=conv.now,
    )
    conv.after_commit.append(conv.services.outbox_written)


def _desk_copy(msg: Incoming, ticket: Ticket) -> Outgoing | None:
    """The citizen's text or photo as the desk sees it; None for what is not relayed."""
    desk = ChatRef(ticket.desk_channel, ticket.desk_chat_id)
    with use_locale(DESK_LOCALE):
        label = _("👤 #{id}:").format(id=ticket.id)
    if msg.kind == Kind.TEXT:
        return Outgoing(desk, f"{label} {msg.text.strip()}")
    if msg.kind == Kind.PHOTO and msg.photo_file_id and msg.chat.channel == desk.channel:
        return Outgoing(desk, f"{label} {msg.text}".strip(), image_file_id=msg.photo_file_id)
    if msg.kind == Kind.PHOTO and msg.photo_bytes:
        return Outgoing(desk, f"{label} {msg.text}".strip(), image=msg.photo_bytes)
    return None


def _not_relayed(msg: Incoming, conv: Conversation) -> None:
    """Answer a command or button (the citizen is talking with staff), or an unreadable kind."""
    if msg.kind in (Kind.COMMAND, Kind.BUTTON):
        conv.reply(
            _(
                "You are talking with a support staff member: type your message for them, or "
                "press “End” to come back to the bot."
            ),
            buttons=[[Button(_("End the conversation"), END)]],
        )
        return
    conv.reply(_("Support staff can read text and photos only. Please type your message."))


async def end_ticket(msg: Incoming, conv: Conversation) -> None:
    """The citizen ends the conversation with staff; the bot's flows take over again."""
    ticket = await store.get_ticket(conv.session, conv.ticket_id or 0)
    conv.ticket_id = None
    if ticket is None or not await tickets.close(
        conv.session, ticket, actor=CITIZEN_ACTOR, note=None, now=conv.now
    ):
        conv.reply(_("Your conversation with support staff has ended."), buttons=menu_buttons())
        return
    conv.after_commit.append(conv.services.outbox_written)
    ended = _("You have ended the conversation with support staff. Thank you!")
    if ticket.claimed_by is None:
        conv.reply(ended + kept_note(conv), buttons=[] if conv.flow else menu_buttons())
        return
    conv.send(tickets.closing(ticket, conv.chat, first=ended, kept=conv.flow is not None))


async def rate(msg: Incoming, conv: Conversation) -> None:
    """Record a rating button (`tk:rate:<ticket>:<n>`) once, and tell the desk."""
    number, _sep, given = (msg.payload or "").removeprefix(RATE).partition(":")
    ticket_id, stars = payload_id(number), payload_id(given) or 0
    ticket = None
    if ticket_id is not None and 1 <= stars <= 5:
        ticket = await store.get_ticket(conv.session, ticket_id)
    if ticket is None or not await store.rate(
        conv.session, ticket.id, account_id=conv.account.id, rating=stars, now=conv.now
    ):
        conv.reply(_("This rating has already been recorded, or it is no longer valid."))
        return
    with use_locale(DESK_LOCALE):
        note = _("⭐ The citizen rated ticket #{id}: {stars}/5").format(id=ticket.id, stars=stars)
    await tickets.to_desk(conv.session, ticket, tickets.desk_note(ticket, note), now=conv.now)
    await store.add_entry(  # the console's open pages show the rating at once
        conv.session,
        ticket.id,
        kind=store.EVENT,
        author=CITIZEN_ACTOR,
        text=f"rated: {stars}",
        now=conv.now,
    )
    conv.after_commit.append(conv.services.outbox_written)
    conv.reply(_("Thank you for your rating!") + kept_note(conv))
