"""A way back in: "this ID number is mine", from a chat that does not hold it.

A citizen who lost their chat (a web chat is a browser cookie) types their ID number again and
is told it cannot be registered here (bot.handlers.registration). They may say it is theirs:

- a six-digit code goes to every chat of the account holding the number that we may write to
  (a Zalo chat outside its interaction window gets it as the `recovery_code` ZBS template, by
  the phone on record, where ZALO_TEMPLATES has one). The citizen is told the same words
  whether such chats exist or not, so the answer reveals nothing new to a stranger. The code is
  kept hashed, works once, for RECOVERY_CODE_MINUTES, with `MAX_TRIES` tries; a chat may ask
  for `MAX_CODES` codes a day and an ID number be sent as many, then only staff can help.
- With the right code the two accounts are linked (`storage.accounts.link`): the holder's
  people, bookings, results and certificates show in the new chat too. Audited.
- Otherwise (no code, wrong codes, too many requests) a support ticket opens naming the person
  (`Ticket.recovery_person_id`). Staff check the person (by phone, papers) and move them to the
  ticket's chat from the console's inbox (`move`). Audited.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import DataProtector
from bot.domain import notices
from bot.domain import tickets as ticket_rules
from bot.i18n import DEFAULT_LOCALE, _, use_locale
from bot.messages import ChatRef, Outgoing
from bot.vn.phone import mask_id_number
from storage import accounts, outbox, people, samples, staff
from storage import tickets as store
from storage.models import Account, Person, Ticket
from storage.outbox import NewMessage

MAX_CODES = 3  # codes a chat may ask for, and an ID number be sent, within `WINDOW`
WINDOW = timedelta(days=1)
MAX_TRIES = 3  # wrong codes before the case goes to staff
CODE_INDEX = "recover-code"  # blind-index kinds: the code, the asking chat, the ID number
_CHAT_INDEX, _ID_INDEX = "recover-chat", "recover-id"
# audit actions
CODE_SENT, LINKED, MOVED = "recovery_code_sent", "recovery_linked", "recovery_moved"
MOVED_ENTRY = "recovered"  # the ticket entry of a move (the console shows it)
TEMPLATE = "recovery_code"  # kind of the Zalo template (bot.config.TEMPLATE_FIELDS)


def code_hash(protector: DataProtector, person_id: int, code: str) -> str:
    """The code as kept in the conversation: a keyed hash, bound to the person."""
    return protector.blind_index(CODE_INDEX, f"{person_id}:{code}")


def code_matches(protector: DataProtector, person_id: int, typed: str, kept: str) -> bool:
    """Whether a typed code is the one kept (compared in constant time)."""
    return len(typed) == 6 and hmac.compare_digest(code_hash(protector, person_id, typed), kept)


async def may_send_code(
    session: AsyncSession, protector: DataProtector, *, chat: ChatRef, id_index: str, now: datetime
) -> bool:
    """Whether this chat and this ID number are under the day's codes; counts one if so."""
    chat_key = protector.blind_index(_CHAT_INDEX, f"{chat.channel}:{chat.chat_id}")
    target = protector.blind_index(_ID_INDEX, id_index)
    since = now - WINDOW
    asked = await samples.failed_lookups_since(session, since=since, chat_key=chat_key)
    aimed = await samples.failed_lookups_since(session, since=since, target=target)
    if len(asked) >= MAX_CODES or len(aimed) >= MAX_CODES:
        return False
    await samples.record_failed_lookup(session, chat_key=chat_key, target=target, now=now)
    return True


async def send_code(
    session: AsyncSession, asking: Account, person: Person, code: str, *, now: datetime
) -> int:
    """Queue the code to every chat of the person's account we may write to; how many.

    The number is for the audit log, never for the asking citizen.
    """
    chats = await accounts.linked_chats(session, person.account_id) if person.account_id else []
    rows = [_code_row(chat, person, code) for chat in chats if notices.can_tell(chat)]
    if rows:
        await outbox.enqueue(session, rows, now=now)
    await staff.audit(
        session,
        actor=f"citizen:{asking.channel}",
        action=CODE_SENT,
        subject=f"person:{person.id}",
        now=now,
        detail={"chats": len(rows), "asked_from": asking.id},
    )
    return len(rows)


def _code_row(chat: Account, person: Person, code: str) -> NewMessage:
    with use_locale(chat.locale):
        text = _(
            "Your code to open the records of {name} in another chat: {code}. Someone typed "
            "this ID number in a chat that does not hold it and said it is theirs. If that was "
            "not you, do not give the code to anyone: whoever has it sees these records."
        ).format(name=person.full_name, code=code)
    zalo = chat.channel == "zalo"  # outside the window, as a template by phone
    message = Outgoing(
        ChatRef(chat.channel, chat.chat_id),
        text,
        template=TEMPLATE if zalo else None,
        template_data={"code": code} if zalo else None,
    )
    return NewMessage(chat.channel, chat.chat_id, message.to_body(), chat.id, bulk=zalo)


async def join(session: AsyncSession, chat: Account, person: Person, *, now: datetime) -> bool:
    """Link the account holding `person` to `chat`'s (the code was right); audited.

    The holder becomes one of the citizen's chats, so its people come along; messages come
    to the chat that typed the code. False if the person's account is gone meanwhile.
    """
    owner = await session.get(Account, chat.holder_id or chat.id)
    holder = await session.get(Account, person.account_id) if person.account_id else None
    if owner is None or holder is None:
        return False
    if holder.id != owner.id:
        await accounts.link(session, holder, owner)
        here = chat.id != owner.id
        owner.reach_channel = chat.channel if here else None
        owner.reach_chat_id = chat.chat_id if here else None
    await staff.audit(
        session,
        actor=f"citizen:{chat.channel}",
        action=LINKED,
        subject=f"person:{person.id}",
        now=now,
        detail={"from": holder.id, "to": owner.id, "by": "code"},
    )
    return True


@dataclass(frozen=True)
class Case:
    """What a recovery ticket opens with: who asks (for the desk) and what they last saw."""

    who: str
    context: list[str]


async def open_case(
    session: AsyncSession,
    account: Account,
    person: Person | None,
    case: Case,
    *,
    protector: DataProtector,
    desk: ticket_rules.Desk | None,
    now: datetime,
) -> Ticket:
    """A support ticket naming the person the citizen says is theirs, for staff to check."""
    with use_locale(DEFAULT_LOCALE):
        number = mask_id_number(protector.open(person.id_sealed)) if person else "?"
        reason = _("Account recovery: says ID number {number} is theirs").format(number=number)
    ticket = await ticket_rules.open_ticket(
        session,
        account=account,
        reason=reason,
        who=case.who,
        context=case.context,
        desk=desk,
        now=now,
    )
    ticket.recovery_person_id = person.id if person else None
    return ticket


class Moved(StrEnum):
    """What staff's "verified: move" did."""

    MOVED = "moved"
    ALREADY = "already"  # the person is on the citizen's account already
    GONE = "gone"  # the person or the citizen's account no longer exists


async def move(session: AsyncSession, ticket: Ticket, *, actor: str, now: datetime) -> Moved:
    """Staff checked the person: give them to the ticket's citizen; tell them; audited."""
    person = (
        await people.get_person(session, ticket.recovery_person_id)
        if ticket.recovery_person_id
        else None
    )
    chat = await session.get(Account, ticket.account_id) if ticket.account_id else None
    if person is None or chat is None:
        return Moved.GONE
    owner = chat.holder_id or chat.id
    if person.account_id == owner:
        return Moved.ALREADY
    before = person.account_id
    await _tell_old_chat(session, before, person, now=now)
    await people.move_person(session, person, to_account=owner)
    await staff.audit(
        session,
        actor=actor,
        action=MOVED,
        subject=f"person:{person.id}",
        now=now,
        detail={"from": before, "to": owner, "ticket": ticket.id},
    )
    await store.add_entry(
        session, ticket.id, kind=store.EVENT, author=actor, text=MOVED_ENTRY, now=now
    )
    with use_locale(chat.locale):
        text = _(
            "A support staff member has checked your ID number: the records of {name} are now "
            "in this chat. Type /lichhen for the appointments, or “menu” for everything else."
        ).format(name=person.full_name)
    message = Outgoing(ChatRef(chat.channel, chat.chat_id), text)
    row = NewMessage(chat.channel, chat.chat_id, message.to_body(), chat.id)
    await outbox.enqueue(session, [row], now=now)
    return Moved.MOVED


async def _tell_old_chat(
    session: AsyncSession, account_id: int | None, person: Person, *, now: datetime
) -> None:
    """Tell the account the person leaves (if we may write to it) where they went, and why."""
    account = await session.get(Account, account_id) if account_id else None

    def compose() -> str:
        return _(
            "At the request of the holder of the ID number of {name}, checked by a support "
            "staff member, their records have moved to another chat and no longer show here. "
            "If this is a mistake, please choose “Support”."
        ).format(name=person.full_name)

    await notices.tell(session, account, compose, now=now, bulk=False)
