"""The support staff's chat (the desk): answers to citizens, claiming, closing, the ticket list.

Updates from the chat named by `SUPPORT_CHAT_ID` come here instead of the citizens' routes.
Only members holding the `support` (or `admin`) role act; anything else in a ticket's thread is
answered with why it was not passed on, and talk outside tickets is left alone.
    /tickets (/phieu)         -> the open tickets with their age and who has them
    "Take ticket #N" button   -> claim it (so is /claim, /nhan in its thread)
    text or photo in a thread -> relayed to the citizen, marked as from support staff (the
                                 first answer claims an unclaimed ticket)
    /close [note] (/dong)     -> close it; the citizen is told and asked to rate the help
A ticket's thread is its forum topic, or, in a group without topics, a reply to one of its
messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import Services
from bot.domain import tickets
from bot.domain.tickets import CLAIM, DESK_LOCALE
from bot.i18n import _, use_locale
from bot.messages import Button, ChatRef, Incoming, Kind, Outgoing, payload_id
from storage import accounts, staff
from storage import tickets as store
from storage.models import Account, StaffMember, Ticket
from storage.tickets import OPEN

DESK_ROLES = ("support", "admin")
LIST_COMMANDS = ("tickets", "phieu")
CLOSE_COMMANDS = ("close", "dong")
CLAIM_COMMANDS = ("claim", "nhan")
RECENT = timedelta(days=7)  # replies to messages of tickets closed longer ago are not looked up


class DeskTurn:
    """One update from the desk in its unit of work, and the messages it queues."""

    def __init__(self, *, session: AsyncSession, services: Services, now: datetime) -> None:
        self.session = session
        self.services = services
        self.now = now
        self.messages: list[tuple[Outgoing, int | None]] = []  # with the citizen's account id
        self.after_commit: list[Callable[[], None]] = []

    def reply(self, msg: Incoming, text: str, *, buttons: Iterable[Sequence[Button]] = ()) -> None:
        """Answer in the desk, in the thread (topic, or as a reply) the update came from."""
        self.messages.append(
            (
                Outgoing(
                    msg.chat,
                    text,
                    buttons=tuple(tuple(row) for row in buttons),
                    thread_id=msg.thread_id,
                    reply_to=None if msg.thread_id else msg.message_id,
                ),
                None,
            )
        )

    def send(self, message: Outgoing, account: Account) -> None:
        """Queue a message to a citizen."""
        self.messages.append((message, account.id))


async def handle(msg: Incoming, turn: DeskTurn) -> None:
    """Act on one update from the desk (in Vietnamese: the desk's language)."""
    with use_locale(DESK_LOCALE):
        member = await _member(msg, turn)
        if msg.command in LIST_COMMANDS:
            await _list(msg, turn, member)
            return
        ticket = await _ticket_of(msg, turn)
        if ticket is None:
            return  # staff talking among themselves, or a message of no ticket we know
        if member is None:
            turn.reply(
                msg,
                _(
                    "Not passed on: only members with the support role can answer tickets. "
                    "An administrator can add you with `run_bot.py staff add`."
                ),
            )
            return
        if msg.command in CLOSE_COMMANDS:
            await _close(msg, turn, ticket, member)
        elif msg.command in CLAIM_COMMANDS or (msg.payload or "").startswith(CLAIM):
            await _claim(msg, turn, ticket, member)
        elif msg.command is None and msg.kind in (Kind.TEXT, Kind.PHOTO):
            await _answer(msg, turn, ticket, member)


async def _member(msg: Incoming, turn: DeskTurn) -> StaffMember | None:
    held = await staff.roles_of(turn.session, channel=msg.chat.channel, user_id=msg.user_id)
    return next((m for role in DESK_ROLES for m in held if m.role == role), None)


def _holder(member: StaffMember) -> str:
    return tickets.holder_key(member.channel, member.user_id)


def _name(member: StaffMember) -> str:
    return member.name or _("staff member {id}").format(id=member.user_id)


async def _ticket_of(msg: Incoming, turn: DeskTurn) -> Ticket | None:
    """The ticket an update belongs to: its button, its topic, or the message it replies to."""
    desk = msg.chat.chat_id
    payload = msg.payload or ""
    if payload.startswith(CLAIM):
        number = payload_id(payload.removeprefix(CLAIM))
        return await store.get_ticket(turn.session, number) if number else None
    if msg.thread_id is not None:
        return await store.by_thread(turn.session, desk_chat_id=desk, thread=msg.thread_id)
    if msg.reply_to is None:
        return None
    return await store.by_thread(
        turn.session, desk_chat_id=desk, thread=msg.reply_to
    ) or await store.by_desk_message(
        turn.session, desk_chat_id=desk, message_id=msg.reply_to, since=turn.now - RECENT
    )


async def _list(msg: Incoming, turn: DeskTurn, member: StaffMember | None) -> None:
    if member is None:
        turn.reply(msg, _("Only members with the support role can see the tickets."))
        return
    found = await store.open_tickets(turn.session)
    await staff.audit(
        turn.session,
        actor=staff.actor_label(member),
        action="tickets_listed",
        subject="tickets",
        now=turn.now,
        detail={"open": len(found)},
    )
    if not found:
        turn.reply(msg, _("No ticket is open. 🎉"))
        return
    lines = [_("Open tickets ({count}):").format(count=len(found))]
    lines += [tickets.ticket_line(ticket, now=turn.now) for ticket in found]
    turn.reply(msg, "\n".join(lines))


async def _claim(msg: Incoming, turn: DeskTurn, ticket: Ticket, member: StaffMember) -> None:
    if ticket.status != OPEN:
        turn.reply(msg, _("Ticket #{id} is already closed.").format(id=ticket.id))
    elif await tickets.claim(
        turn.session, ticket, actor=staff.actor_label(member), holder=_holder(member), now=turn.now
    ):
        turn.reply(msg, _("✅ {name} took ticket #{id}.").format(name=_name(member), id=ticket.id))
    else:
        turn.reply(
            msg,
            _("Ticket #{id} is already with {holder}.").format(
                id=ticket.id, holder=ticket.claimed_by
            ),
        )


async def _citizen(turn: DeskTurn, ticket: Ticket) -> tuple[Account, bool] | None:
    """The ticket's citizen and whether a form of theirs waits (None once erased)."""
    account = await turn.session.get(Account, ticket.account_id) if ticket.account_id else None
    if account is None:
        return None
    # Not locked: the citizen's own events lock their chat first, then touch the ticket.
    return account, await accounts.flow_of(turn.session, account.id) is not None


async def _answer(msg: Incoming, turn: DeskTurn, ticket: Ticket, member: StaffMember) -> None:
    """Relay a staff member's text or photo to the citizen; the first answer claims."""
    if ticket.status != OPEN:
        turn.reply(msg, _("Ticket #{id} is closed: this was not sent.").format(id=ticket.id))
        return
    found = await _citizen(turn, ticket)
    if found is None:
        turn.reply(msg, _("The citizen deleted their data: this was not sent."))
        return
    account, _kept = found
    message = _for_citizen(msg, account)
    if message is None:
        turn.reply(msg, _("The photo could not be fetched from Telegram: please send it again."))
        return
    actor = staff.actor_label(member)
    if ticket.claimed_by is None and await tickets.claim(
        turn.session, ticket, actor=actor, holder=_holder(member), now=turn.now
    ):
        turn.reply(msg, _("✅ {name} took ticket #{id}.").format(name=_name(member), id=ticket.id))
    turn.send(message, account)
    words = msg.text.strip() or _("(photo)")
    await tickets.answered(turn.session, ticket, author=_name(member), text=words, now=turn.now)
    await staff.audit(
        turn.session,
        actor=actor,
        action="ticket_replied",
        subject=f"ticket:{ticket.id}",
        now=turn.now,
        detail={"photo": msg.kind == Kind.PHOTO},
    )
    if account.unreachable_at is not None:
        turn.reply(msg, _("Note: the citizen has blocked the bot, so this may not arrive."))


def _for_citizen(msg: Incoming, account: Account) -> Outgoing | None:
    """The staff member's words as the citizen reads them; None for a photo we do not have."""
    chat = ChatRef(account.channel, account.chat_id)
    with use_locale(account.locale):
        if msg.kind == Kind.TEXT:
            return Outgoing(chat, _("💬 Support staff: {text}").format(text=msg.text.strip()))
        caption = (
            _("💬 Support staff: {text}").format(text=msg.text.strip())
            if msg.text.strip()
            else _("💬 Support staff")
        )
    if msg.photo_file_id and chat.channel == msg.chat.channel:
        return Outgoing(chat, caption, image_file_id=msg.photo_file_id)
    if msg.photo_bytes:
        return Outgoing(chat, caption, image=msg.photo_bytes)
    return None


async def _close(msg: Incoming, turn: DeskTurn, ticket: Ticket, member: StaffMember) -> None:
    note = msg.args.strip()[:500] or None
    if not await tickets.close(
        turn.session, ticket, actor=staff.actor_label(member), note=note, now=turn.now
    ):
        turn.reply(msg, _("Ticket #{id} is already closed.").format(id=ticket.id))
        return
    found = await _citizen(turn, ticket)
    if found is not None:
        account, kept = found
        turn.send(tickets.closed_by_staff(ticket, account, kept=kept), account)
