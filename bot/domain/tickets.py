"""Support tickets: a citizen's conversation with a human, on the staff desk and in the console.

Claiming, assigning, answering, internal notes and closing are functions here, used by the desk
(`bot.handlers.desk`) and the console's inbox (`bot.console.inbox_pages`) alike, so both keep
one set of rules and audit events; what is said on either side is kept as the ticket's
conversation (`ticket_entries`), so each place shows the other's answers. With no desk
configured (`SUPPORT_CHAT_ID` unset) a ticket lives in the console alone: nothing is written
for a desk and no re-announcement is scheduled.

The desk is one Telegram supergroup (`SUPPORT_CHAT_ID`). Each ticket gets a forum topic there
when the group has topics enabled, else a thread of replies under its header message. Opening
a ticket writes the ticket and its header (reason, the citizen's registered people with ID and
phone masked, the last messages of the conversation) as a message *waiting* for the ticket's
thread. The desk loop (`bot.workers.desk_linker`) then writes the ticket's first desk message, the
*anchor*: a "create topic" row, or the header itself. Once the sender has sent it, the platform
id it returned is the ticket's thread, and everything waiting goes into it. Later messages go
straight to the thread. All of it is outbox rows, so nothing is lost in a restart.

A ticket nobody has claimed `SUPPORT_CLAIM_MINUTES` after it opened is announced to the desk
again (a scheduler job, up to `MAX_ANNOUNCEMENTS` times, held in quiet hours like any
non-urgent job). Desk texts are Vietnamese: the staff read them, whatever the citizen's
language.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import payloads
from bot.crypto import DataProtector
from bot.domain.jobs import JobKind, Run, Verdict
from bot.i18n import CHANNEL_NAMES, DEFAULT_LOCALE, LANGUAGE_NAMES, _, use_locale
from bot.messages import Button, ChatRef, Outgoing
from bot.vn.phone import mask_id_number, mask_numbers, mask_phone
from storage import jobs, outbox, people, staff
from storage import tickets as store
from storage.jobs import NewJob
from storage.models import Account, OutboxMessage, Ticket
from storage.tickets import OPEN, REPLY, TOPIC

log = logging.getLogger(__name__)

DESK_LOCALE = DEFAULT_LOCALE
WAITING = "ticket_waiting"
MAX_ANNOUNCEMENTS = 8
CLAIM, RATE, END = (f"{payloads.TICKET}{action}" for action in ("claim:", "rate:", "end"))
CONTEXT_MESSAGES = 5
CONTEXT_CHARACTERS = 160
BOT_ACTOR = "bot"
_GAVE_UP = ("failed", "blocked", "dropped", "cancelled")
_LOST = "lost"  # desk_mode of a ticket whose header could not be posted at all


@dataclass(frozen=True)
class Desk:
    """Where support staff work, and how long a ticket may wait unclaimed."""

    chat: ChatRef
    claim_after: timedelta


def group_of(ticket_id: int) -> str:
    """The job group of a ticket's re-announcements."""
    return f"ticket:{ticket_id}"


def topic_link(ticket: Ticket) -> str | None:
    """A link to the ticket's forum topic (supergroups only), for the ticket list."""
    chat = ticket.desk_chat_id
    if ticket.desk_mode != TOPIC or not ticket.desk_thread or not chat.startswith("-100"):
        return None
    return f"https://t.me/c/{chat.removeprefix('-100')}/{ticket.desk_thread}"


# ---------------------------------------------------------------- opening


async def describe_citizen(
    session: AsyncSession, account: Account, protector: DataProtector
) -> str:
    """Who wrote, for the desk: channel, language, registered people (ID and phone masked)."""
    registered = await people.people_of(session, account.holder_id or account.id)
    lines = [
        _("Channel: {channel} · language: {language}").format(
            channel=_(CHANNEL_NAMES.get(account.channel, account.channel)),
            language=LANGUAGE_NAMES.get(account.locale, account.locale),
        )
    ]
    if account.phone_sealed:
        lines.append(
            _("Phone: {phone}").format(phone=mask_phone(protector.open(account.phone_sealed)))
        )
    for person in registered[:5]:
        lines.append(
            _("Registered: {name}, born {year}, ID {number}").format(
                name=person.full_name,
                year=person.birth_date.year,
                number=mask_id_number(protector.open(person.id_sealed)),
            )
        )
    if not registered:
        lines.append(_("Nobody registered on this account yet."))
    return "\n".join(lines)


async def recent_context(session: AsyncSession, account: Account, typed: str) -> list[str]:
    """The last messages of the conversation, numbers masked, shortened."""

    def short(text: str) -> str:
        text = " ".join(mask_numbers(text).split())
        return text if len(text) <= CONTEXT_CHARACTERS else text[: CONTEXT_CHARACTERS - 1] + "…"

    rows = await outbox.recent_for_chat(
        session, channel=account.channel, chat_id=account.chat_id, limit=CONTEXT_MESSAGES
    )
    lines = [
        _("Bot: {text}").format(text=short(row.body["text"]))
        for row in rows
        if row.body.get("text")
    ]
    if typed.strip():
        lines.append(_("Citizen: {text}").format(text=short(typed)))
    return lines


async def open_ticket(
    session: AsyncSession,
    *,
    account: Account,
    reason: str,
    who: str,
    context: Sequence[str],
    desk: Desk | None,
    now: datetime,
    typed: str = "",
) -> Ticket:
    """Open a ticket, shown in the console's inbox.

    With a desk, its header waits for the desk thread and its re-announcement is scheduled;
    without one, the console alone has it.
    """
    registered = await people.people_of(session, account.holder_id or account.id)
    ticket = await store.add_ticket(
        session,
        Ticket(
            account_id=account.id,
            status=OPEN,
            reason=reason[:200],
            opened_at=now,
            desk_channel=desk.chat.channel if desk else "",
            desk_chat_id=desk.chat.chat_id if desk else "",
            ward_code=next((p.ward_code for p in registered if p.ward_code), None),
        ),
    )
    if typed.strip():
        await store.add_entry(
            session, ticket.id, kind=store.CITIZEN, author="citizen", text=typed.strip(), now=now
        )
    if desk is not None:
        await _to_desk_first(session, ticket, who, context, desk, now=now)
    await staff.audit(
        session,
        actor=BOT_ACTOR,
        action="ticket_opened",
        subject=f"ticket:{ticket.id}",
        now=now,
        detail={"account": account.id, "reason": ticket.reason},
    )
    return ticket


async def _to_desk_first(
    session: AsyncSession,
    ticket: Ticket,
    who: str,
    context: Sequence[str],
    desk: Desk,
    *,
    now: datetime,
) -> None:
    """The ticket's header, waiting for its desk thread, and its first re-announcement."""
    with use_locale(DESK_LOCALE):
        parts = [
            _("🆕 Support ticket #{id}").format(id=ticket.id),
            _("Reason: {reason}").format(reason=ticket.reason),
            who,
        ]
        if context:
            parts.append(_("Last messages:") + "\n" + "\n".join(f"• {line}" for line in context))
        parts.append(
            _(
                "Write in this topic, or reply to this ticket's messages, to answer the citizen. "
                "/close ends the ticket."
            )
        )
        header = Outgoing(desk.chat, "\n\n".join(parts), buttons=((_claim_button(ticket.id),),))
    await store.add_waiting(session, ticket.id, header.to_body(), now)
    announce = NewJob(
        WAITING, now + desk.claim_after, {"ticket": ticket.id, "round": 1}, group_of(ticket.id)
    )
    await jobs.schedule(session, [announce], now=now)


def _claim_button(ticket_id: int) -> Button:
    return Button(_("Take ticket #{id}").format(id=ticket_id), f"{CLAIM}{ticket_id}")


# ---------------------------------------------------------------- the desk thread


def placed(ticket: Ticket, message: Outgoing) -> Outgoing:
    """A desk message put into the ticket's thread (the thread must be known)."""
    if ticket.desk_mode == TOPIC:
        return replace(message, thread_id=ticket.desk_thread)
    return replace(message, reply_to=ticket.desk_thread)


async def to_desk(
    session: AsyncSession, ticket: Ticket, message: Outgoing, *, now: datetime
) -> None:
    """Write a message into the ticket's desk thread, or keep it until the thread exists.

    A ticket opened with no desk configured lives in the console alone: nothing is written.
    """
    if not ticket.desk_chat_id:
        return
    if ticket.desk_thread is None:
        await store.add_waiting(session, ticket.id, message.to_body(), now)
        return
    ids = await outbox.enqueue(session, [_desk_row(placed(ticket, message))], now=now)
    await store.link_messages(session, ticket.id, ids, now)


def _desk_row(message: Outgoing) -> outbox.NewMessage:
    chat = message.chat
    return outbox.NewMessage(chat.channel, chat.chat_id, message.to_body(), image=message.image)


def desk_note(ticket: Ticket, text: str) -> Outgoing:
    """A short line from the bot in the ticket's thread (or, unlinked, the desk itself)."""
    chat = ChatRef(ticket.desk_channel, ticket.desk_chat_id)
    message = Outgoing(chat, text)
    return placed(ticket, message) if ticket.desk_thread else message


async def link_desk(session: AsyncSession, *, desk: ChatRef, forum: bool, now: datetime) -> int:
    """Anchor new tickets on the desk and put waiting messages into known threads.

    Returns:
        How many tickets moved on.
    """
    moved = 0
    for ticket in await store.unlinked(session, desk_chat_id=desk.chat_id):
        if ticket.desk_mode == _LOST:
            continue
        if ticket.anchor_outbox_id is None:
            await _anchor(session, ticket, forum=forum, now=now)
            moved += 1
            continue
        anchor = await session.get(OutboxMessage, ticket.anchor_outbox_id)
        if anchor is None:
            continue
        if anchor.status == "sent" and anchor.external_id:
            ticket.desk_thread = anchor.external_id
            await _flush(session, ticket, now=now)
            moved += 1
        elif anchor.status in _GAVE_UP and ticket.desk_mode == TOPIC:
            log.warning(
                "could not open a forum topic in the support chat (%s); using reply threads",
                anchor.last_error,
            )
            await _anchor(session, ticket, forum=False, now=now)
            moved += 1
        elif anchor.status in _GAVE_UP:
            log.error(
                "ticket %s could not be posted to the support chat: %s",
                ticket.id,
                anchor.last_error,
            )
            ticket.desk_mode = _LOST
    return moved


async def _anchor(session: AsyncSession, ticket: Ticket, *, forum: bool, now: datetime) -> None:
    """Write the ticket's first desk message: a new topic, or its header as a thread's root."""
    chat = ChatRef(ticket.desk_channel, ticket.desk_chat_id)
    if forum:
        with use_locale(DESK_LOCALE):
            name = _("#{id} {reason}").format(id=ticket.id, reason=ticket.reason)
        (row,) = await outbox.enqueue(
            session, [_desk_row(Outgoing(chat, name, new_topic=True))], now=now
        )
        ticket.desk_mode, ticket.anchor_outbox_id = TOPIC, row
        return
    first = (await store.waiting(session, ticket.id))[:1]
    if not first or first[0].body is None:
        return
    header = Outgoing.from_body(chat, first[0].body, None)
    (row,) = await outbox.enqueue(session, [_desk_row(header)], now=now)
    first[0].desk_outbox_id, first[0].body = row, None
    ticket.desk_mode, ticket.anchor_outbox_id = REPLY, row


async def _flush(session: AsyncSession, ticket: Ticket, *, now: datetime) -> None:
    chat = ChatRef(ticket.desk_channel, ticket.desk_chat_id)
    for message in await store.waiting(session, ticket.id):
        if message.body is None:
            continue
        out = placed(ticket, Outgoing.from_body(chat, message.body, None))
        (row,) = await outbox.enqueue(session, [_desk_row(out)], now=now)
        message.desk_outbox_id, message.body = row, None


# ---------------------------------------------------------------- claiming and closing


def holder_key(channel: str, user_id: str) -> str:
    """Who holds a ticket, whichever place they work in (desk or console): their chat identity."""
    return f"{channel}:{user_id}"[:80]


async def claim(
    session: AsyncSession,
    ticket: Ticket,
    *,
    actor: str,
    now: datetime,
    holder: str | None = None,
) -> bool:
    """Give the ticket to `actor` if nobody has it (audited); False if taken or closed."""
    if not await store.claim(session, ticket.id, actor=actor, holder=holder, now=now):
        return False
    await jobs.cancel_group(session, group_of(ticket.id), now=now)
    await staff.audit(
        session, actor=actor, action="ticket_claimed", subject=f"ticket:{ticket.id}", now=now
    )
    await store.add_entry(
        session, ticket.id, kind=store.EVENT, author=actor, text="claimed", now=now
    )
    return True


async def assign(
    session: AsyncSession,
    ticket: Ticket,
    *,
    actor: str,
    to_label: str,
    to_holder: str,
    now: datetime,
) -> bool:
    """Give an open ticket to a staff member, taken or not (audited, the desk told)."""
    if not await store.assign(session, ticket.id, label=to_label, holder=to_holder, now=now):
        return False
    await jobs.cancel_group(session, group_of(ticket.id), now=now)
    await staff.audit(
        session,
        actor=actor,
        action="ticket_assigned",
        subject=f"ticket:{ticket.id}",
        now=now,
        detail={"to": to_label},
    )
    await store.add_entry(
        session, ticket.id, kind=store.EVENT, author=actor, text=f"assigned: {to_label}", now=now
    )
    with use_locale(DESK_LOCALE):
        text = _("👉 Ticket #{id} is now with {holder}.").format(id=ticket.id, holder=to_label)
    await to_desk(session, ticket, desk_note(ticket, text), now=now)
    return True


async def answered(
    session: AsyncSession, ticket: Ticket, *, author: str, text: str, now: datetime
) -> None:
    """Record a staff answer (from the desk or the console) in the ticket's conversation."""
    await store.add_entry(session, ticket.id, kind=store.STAFF, author=author, text=text, now=now)
    if ticket.first_response_at is None:
        ticket.first_response_at = now


def staff_words(account: Account, text: str) -> Outgoing:
    """A staff member's words as the citizen reads them, in their language."""
    with use_locale(account.locale):
        words = _("💬 Support staff: {text}").format(text=text.strip())
    return Outgoing(ChatRef(account.channel, account.chat_id), words)


async def reply(
    session: AsyncSession,
    ticket: Ticket,
    account: Account,
    *,
    actor: str,
    holder: str,
    name: str,
    text: str,
    now: datetime,
) -> None:
    """Answer the citizen from the console, through the outbox on their channel.

    The sender paces it as any message; it is recorded, audited and shown on the desk. The
    first answer claims an unclaimed ticket.
    """
    if ticket.claimed_by is None:
        await claim(session, ticket, actor=actor, holder=holder, now=now)
    message = staff_words(account, text)
    row = outbox.NewMessage(
        message.chat.channel, message.chat.chat_id, message.to_body(), account.id
    )
    await outbox.enqueue(session, [row], now=now)
    await answered(session, ticket, author=name, text=text, now=now)
    await staff.audit(
        session,
        actor=actor,
        action="ticket_replied",
        subject=f"ticket:{ticket.id}",
        now=now,
        detail={"from": "console"},
    )
    with use_locale(DESK_LOCALE):
        line = _("💬 {name} (console): {text}").format(name=name, text=text)
    await to_desk(session, ticket, desk_note(ticket, line), now=now)


async def note(
    session: AsyncSession, ticket: Ticket, *, actor: str, name: str, text: str, now: datetime
) -> None:
    """An internal note: for staff only (the console and the desk), never sent to the citizen."""
    await store.add_entry(session, ticket.id, kind=store.NOTE, author=name, text=text, now=now)
    await staff.audit(
        session, actor=actor, action="ticket_noted", subject=f"ticket:{ticket.id}", now=now
    )
    with use_locale(DESK_LOCALE):
        line = _("📝 Note by {name} (not sent to the citizen): {text}").format(
            name=name, text=text
        )
    await to_desk(session, ticket, desk_note(ticket, line), now=now)


async def close(
    session: AsyncSession,
    ticket: Ticket,
    *,
    actor: str,
    note: str | None,
    now: datetime,
    reason: str | None = None,
) -> bool:
    """Close an open ticket (audited, the desk told); False if it was closed already."""
    if not await store.close(session, ticket.id, actor=actor, note=note, reason=reason, now=now):
        return False
    await jobs.cancel_group(session, group_of(ticket.id), now=now)
    detail = {key: value for key, value in (("note", note), ("reason", reason)) if value}
    await staff.audit(
        session,
        actor=actor,
        action="ticket_closed",
        subject=f"ticket:{ticket.id}",
        now=now,
        detail=detail,
    )
    await store.add_entry(
        session, ticket.id, kind=store.EVENT, author=actor, text=f"closed: {reason or ''}", now=now
    )
    with use_locale(DESK_LOCALE):
        text = (
            _("🔒 Ticket #{id} is closed by the citizen.")
            if actor.startswith("citizen")
            else _("🔒 Ticket #{id} is closed.")
        ).format(id=ticket.id)
    await to_desk(session, ticket, desk_note(ticket, text), now=now)
    return True


async def close_for_account(
    session: AsyncSession, account: Account, *, why: str, now: datetime
) -> None:
    """Close the account's open ticket (erasure, consent withdrawn), telling the desk why."""
    ticket = await store.open_ticket_of(session, account.id)
    if ticket is not None:
        await close(session, ticket, actor=f"citizen ({why})", note=None, now=now)


def closing(ticket: Ticket, chat: ChatRef, *, first: str, kept: bool) -> Outgoing:
    """The message a citizen gets when a ticket closes: `first`, then the rating question."""
    text = (
        first + " " + _("How was the help you got? Please rate it from 1 (poor) to 5 (very good).")
    )
    if kept:
        text += " " + _("What you entered is kept: answer the last question to go on.")
    rating = tuple(Button(str(n), f"{RATE}{ticket.id}:{n}") for n in range(1, 6))
    return Outgoing(chat, text, buttons=(rating,))


def closed_by_staff(ticket: Ticket, account: Account, *, kept: bool) -> Outgoing:
    """What the citizen is told when staff close the ticket, in their language."""
    with use_locale(account.locale):
        first = _("The support staff member has closed this conversation. Thank you for writing.")
        return closing(ticket, ChatRef(account.channel, account.chat_id), first=first, kept=kept)


# ---------------------------------------------------------------- re-announcement


async def announce_waiting(run: Run) -> Verdict:
    """Tell the desk again about a ticket nobody took; schedule the next reminder."""
    ticket = await store.get_ticket(run.session, int(run.job.payload["ticket"]))
    if ticket is None or ticket.status != OPEN or ticket.claimed_by is not None:
        return Verdict.SKIPPED
    rounds = int(run.job.payload.get("round", 1))
    waited = int((run.now - ticket.opened_at).total_seconds() // 60)
    chat = ChatRef(ticket.desk_channel, ticket.desk_chat_id)
    with use_locale(DESK_LOCALE):
        lines = [
            _("⏰ Ticket #{id} has waited {minutes} minutes and nobody has taken it.").format(
                id=ticket.id, minutes=waited
            ),
            _("Reason: {reason}").format(reason=ticket.reason),
        ]
        if link := topic_link(ticket):
            lines.append(link)
        message = Outgoing(chat, "\n".join(lines), buttons=((_claim_button(ticket.id),),))
    if ticket.desk_mode == REPLY and ticket.desk_thread:
        message = placed(ticket, message)  # quoted under its header
    await outbox.enqueue(run.session, [_desk_row(message)], now=run.now)
    if rounds < MAX_ANNOUNCEMENTS:
        minutes = run.settings.support_claim_minutes
        again = NewJob(
            WAITING,
            run.now + timedelta(minutes=minutes),
            {"ticket": ticket.id, "round": rounds + 1},
            group_of(ticket.id),
        )
        await jobs.schedule(run.session, [again], now=run.now)
    return Verdict.DONE


def ticket_line(ticket: Ticket, *, now: datetime) -> str:
    """One open ticket in the desk's list: number, age, who has it, why."""
    minutes = int((now - ticket.opened_at).total_seconds() // 60)
    age = (
        _("{minutes} min").format(minutes=minutes)
        if minutes < 120
        else _("{hours} h").format(hours=minutes // 60)
    )
    holder = ticket.claimed_by or _("nobody yet")
    line = _("#{id} · open {age} · {holder} · {reason}").format(
        id=ticket.id, age=age, holder=holder, reason=ticket.reason
    )
    link = topic_link(ticket)
    return f"{line}\n{link}" if link else line


KINDS = {WAITING: JobKind(announce_waiting)}
