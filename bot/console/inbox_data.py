"""What the inbox's pages show: folders, rows of the queue, a ticket's citizen and conversation.

Read-only queries; the actions are in `bot.domain.tickets`. The citizen's people are shown as
the desk shows them (ID and phone masked), the bot's last messages with numbers masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.access import ADMIN, SUPPORT, Staff
from bot.crypto import DataProtector
from bot.domain.tickets import holder_key
from bot.vn.phone import mask_id_number, mask_numbers, mask_phone
from storage import outbox
from storage import tickets as store
from storage.models import (
    Account,
    Booking,
    CannedResponse,
    Person,
    Sample,
    SampleMember,
    Site,
    Slot,
    StaffMember,
    Ticket,
    TicketEntry,
)

PAGE_SIZE = 50
CONTEXT_MESSAGES = 5
SHOWN = 5  # bookings and results shown per citizen
VARIABLES = ("name", "booking_code", "site")


def may_see_ticket(who: Staff, ticket: Ticket) -> bool:
    """Whether `who` may open and act on `ticket`."""
    wards = who.ticket_wards()
    return who.may_see_inbox() and (wards is None or ticket.ward_code in wards)


def holder_of(who: Staff) -> str:
    """The signed-in staff member as a ticket's holder (the same identity as on the desk)."""
    return holder_key(who.channel, who.user_id)


@dataclass
class Row:
    """One ticket in the queue."""

    ticket: Ticket
    name: str
    last: str
    breach: bool


def breached(ticket: Ticket, *, target: timedelta, now: datetime) -> bool:
    """Whether the first answer came (or, still awaited, is) later than the target."""
    answered = ticket.first_response_at
    if answered is None:
        return ticket.status == store.OPEN and now - ticket.opened_at > target
    return answered - ticket.opened_at > target


async def first_names(session: AsyncSession, account_ids: Sequence[int]) -> dict[int, str]:
    """The first registered person's name of each account."""
    rows = await session.execute(
        select(Person.account_id, Person.full_name)
        .where(Person.account_id.in_(list(account_ids)))
        .order_by(Person.id.desc())
    )
    return {account: name for account, name in rows.all() if account is not None}


async def rows_of(
    session: AsyncSession, tickets: Sequence[Ticket], *, target: timedelta, now: datetime
) -> list[Row]:
    """The queue's rows: the citizen's name, the last line of the conversation, breaches."""
    names = await first_names(session, [t.account_id for t in tickets if t.account_id])
    newest = (
        select(func.max(TicketEntry.id))
        .where(TicketEntry.ticket_id.in_([t.id for t in tickets]))
        .where(TicketEntry.kind.in_((store.CITIZEN, store.STAFF)))
        .group_by(TicketEntry.ticket_id)
    )
    lasts = {
        entry.ticket_id: entry.text or ""
        for entry in (await session.scalars(select(TicketEntry).where(TicketEntry.id.in_(newest))))
    }
    return [
        Row(
            ticket=t,
            name=names.get(t.account_id or 0, ""),
            last=lasts.get(t.id, ""),
            breach=breached(t, target=target, now=now),
        )
        for t in tickets
    ]


@dataclass
class Citizen:
    """A ticket's citizen as staff see them: people masked, bookings, results, last messages."""

    channel: str = ""
    locale: str = ""
    phone: str = ""
    people: list[dict[str, str]] = field(default_factory=list)
    bookings: list[dict[str, str]] = field(default_factory=list)
    results: list[dict[str, str]] = field(default_factory=list)
    bot_said: list[str] = field(default_factory=list)
    erased: bool = True


async def citizen_of(
    session: AsyncSession, account: Account | None, protector: DataProtector
) -> Citizen:
    """The context of a ticket's citizen (empty once their data is erased)."""
    if account is None:
        return Citizen()
    people = list(
        (
            await session.scalars(
                select(Person)
                .where(Person.account_id == (account.holder_id or account.id))
                .order_by(Person.id)
            )
        ).all()
    )
    found = Citizen(channel=account.channel, locale=account.locale, erased=False)
    if account.phone_sealed:
        found.phone = mask_phone(protector.open(account.phone_sealed))
    found.people = [
        {
            "name": p.full_name,
            "born": str(p.birth_date.year),
            "id": mask_id_number(protector.open(p.id_sealed)),
            "ward": str(p.ward_code),
        }
        for p in people
    ]
    ids = [p.id for p in people]
    found.bookings = await _bookings(session, ids)
    found.results = await _results(session, ids)
    rows = await outbox.recent_for_chat(
        session, channel=account.channel, chat_id=account.chat_id, limit=CONTEXT_MESSAGES
    )
    found.bot_said = [mask_numbers(r.body["text"]) for r in rows if r.body.get("text")]
    return found


async def _bookings(session: AsyncSession, people: list[int]) -> list[dict[str, str]]:
    rows = await session.execute(
        select(Booking.code, Booking.status, Slot.starts_at, Site.name)
        .join(Slot, Slot.id == Booking.slot_id)
        .join(Site, Site.id == Slot.site_id)
        .where(Booking.person_id.in_(people))
        .order_by(Booking.id.desc())
        .limit(SHOWN)
    )
    return [
        {"code": code, "status": status, "when": f"{starts:%d/%m/%Y %H:%M}", "site": site}
        for code, status, starts, site in rows.all()
    ]


async def _results(session: AsyncSession, people: list[int]) -> list[dict[str, str]]:
    rows = await session.execute(
        select(Sample.tube_code, Sample.taken_at, Sample.result)
        .join(SampleMember, SampleMember.sample_id == Sample.id)
        .where(SampleMember.person_id.in_(people))
        .order_by(Sample.id.desc())
        .limit(SHOWN)
    )
    return [
        {"tube": tube, "taken": f"{taken:%d/%m/%Y}", "result": result or ""}
        for tube, taken, result in rows.all()
    ]


def fill(canned: CannedResponse, citizen: Citizen) -> str:
    """A canned response with its variables filled in: {name}, {booking_code}, {site}."""
    values = {
        "name": citizen.people[0]["name"] if citizen.people else "",
        "booking_code": citizen.bookings[0]["code"] if citizen.bookings else "",
        "site": citizen.bookings[0]["site"] if citizen.bookings else "",
    }
    text = canned.body
    for name in VARIABLES:
        text = text.replace("{" + name + "}", values[name])
    return text


async def assignees(session: AsyncSession) -> list[tuple[str, str]]:
    """Who a ticket may be given to: support agents and admins, as (holder, label)."""
    members = await session.scalars(
        select(StaffMember)
        .where(StaffMember.role.in_((SUPPORT, ADMIN)))
        .order_by(StaffMember.name, StaffMember.id)
    )
    seen: dict[str, str] = {}
    for member in members:
        key = holder_key(member.channel, member.user_id)
        seen.setdefault(key, member.name or key)
    return list(seen.items())


@dataclass
class Claimed:
    """The person a recovery ticket's citizen says is theirs, for staff to check."""

    name: str
    born: str
    id: str
    phone: str
    ward: str
    chats: list[str]  # the channels of the account holding them now (none: kept alone)
    moved: bool  # on the citizen's account already


async def claimed_of(
    session: AsyncSession, ticket: Ticket, account: Account | None, protector: DataProtector
) -> Claimed | None:
    """The person of a recovery ticket (`recovery_person_id`), masked; None for other tickets."""
    person = (
        await session.get(Person, ticket.recovery_person_id) if ticket.recovery_person_id else None
    )
    if person is None:
        return None
    chats: list[str] = []
    if person.account_id is not None:
        chats = sorted(
            await session.scalars(
                select(Account.channel).where(
                    (Account.id == person.account_id) | (Account.holder_id == person.account_id)
                )
            )
        )
    owner = (account.holder_id or account.id) if account else None
    return Claimed(
        name=person.full_name,
        born=f"{person.birth_date:%d/%m/%Y}",
        id=mask_id_number(protector.open(person.id_sealed)),
        phone=mask_phone(protector.open(person.phone_sealed)) if person.phone_sealed else "",
        ward=str(person.ward_code),
        chats=chats,
        moved=owner is not None and person.account_id == owner,
    )
