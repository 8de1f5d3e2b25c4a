"""Support tickets: open ones per account, their desk threads, and the messages waiting for one."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import supports_row_locks
from storage.models import CannedResponse, OutboxMessage, Ticket, TicketEntry, TicketMessage

OPEN, CLOSED = "open", "closed"
TOPIC, REPLY = "topic", "reply"  # how the desk shows a ticket: a forum topic, a reply thread


async def add_ticket(session: AsyncSession, ticket: Ticket) -> Ticket:
    """Store a new ticket and give it an id."""
    session.add(ticket)
    await session.flush()
    return ticket


async def get_ticket(session: AsyncSession, ticket_id: int) -> Ticket | None:
    """A ticket by id."""
    return await session.get(Ticket, ticket_id)


async def open_ticket_of(session: AsyncSession, account_id: int) -> Ticket | None:
    """The account's open ticket, if any."""
    return await session.scalar(
        select(Ticket).where(Ticket.account_id == account_id, Ticket.status == OPEN)
    )


async def open_tickets(session: AsyncSession, *, limit: int = 50) -> Sequence[Ticket]:
    """Open tickets, oldest first."""
    result = await session.scalars(
        select(Ticket).where(Ticket.status == OPEN).order_by(Ticket.opened_at).limit(limit)
    )
    return result.all()


async def by_thread(session: AsyncSession, *, desk_chat_id: str, thread: str) -> Ticket | None:
    """The ticket a desk thread (forum topic or header message) belongs to."""
    return await session.scalar(
        select(Ticket)
        .where(Ticket.desk_chat_id == desk_chat_id, Ticket.desk_thread == thread)
        .order_by(Ticket.id.desc())
        .limit(1)
    )


async def by_desk_message(
    session: AsyncSession, *, desk_chat_id: str, message_id: str, since: datetime
) -> Ticket | None:
    """The ticket whose desk message (header or relayed citizen message) has this platform id.

    Only tickets still open or opened since `since` are looked at, so the walk stays short.
    """
    return await session.scalar(
        select(Ticket)
        .join(TicketMessage, TicketMessage.ticket_id == Ticket.id)
        .join(OutboxMessage, OutboxMessage.id == TicketMessage.desk_outbox_id)
        .where(
            Ticket.desk_chat_id == desk_chat_id,
            or_(Ticket.status == OPEN, Ticket.opened_at >= since),
            OutboxMessage.chat_id == desk_chat_id,
            OutboxMessage.external_id == message_id,
        )
        .limit(1)
    )


async def unlinked(session: AsyncSession, *, desk_chat_id: str, limit: int = 50) -> list[Ticket]:
    """Open tickets whose desk thread is not known yet (locked on PostgreSQL, skipping others')."""
    statement = (
        select(Ticket)
        .where(
            Ticket.status == OPEN,
            Ticket.desk_chat_id == desk_chat_id,
            Ticket.desk_thread.is_(None),
        )
        .order_by(Ticket.id)
        .limit(limit)
    )
    if supports_row_locks(session):
        statement = statement.with_for_update(skip_locked=True)
    return list((await session.scalars(statement)).all())


async def add_waiting(
    session: AsyncSession, ticket_id: int, body: dict[str, Any], now: datetime
) -> None:
    """Keep a message for the desk until the ticket's thread is known."""
    session.add(TicketMessage(ticket_id=ticket_id, body=body, created_at=now))
    await session.flush()


async def waiting(session: AsyncSession, ticket_id: int) -> list[TicketMessage]:
    """A ticket's messages waiting for its thread, oldest first."""
    result = await session.scalars(
        select(TicketMessage)
        .where(TicketMessage.ticket_id == ticket_id, TicketMessage.desk_outbox_id.is_(None))
        .order_by(TicketMessage.id)
    )
    return list(result.all())


async def link_messages(
    session: AsyncSession, ticket_id: int, outbox_ids: Sequence[int], now: datetime
) -> None:
    """Remember the desk's outbox rows of a ticket, to know which ticket a reply answers."""
    session.add_all(
        TicketMessage(ticket_id=ticket_id, desk_outbox_id=row, created_at=now)
        for row in outbox_ids
    )
    await session.flush()


async def claim(
    session: AsyncSession, ticket_id: int, *, actor: str, holder: str | None, now: datetime
) -> bool:
    """Give an open, unclaimed ticket to `actor`; False if someone has it already."""
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == OPEN, Ticket.claimed_by.is_(None))
        .values(claimed_by=actor[:120], claimed_at=now, holder=holder)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))


async def assign(
    session: AsyncSession, ticket_id: int, *, label: str, holder: str, now: datetime
) -> bool:
    """Give an open ticket to someone, taken or not; False if it is closed."""
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == OPEN)
        .values(claimed_by=label[:120], claimed_at=now, holder=holder)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))


async def close(
    session: AsyncSession,
    ticket_id: int,
    *,
    actor: str,
    note: str | None,
    now: datetime,
    reason: str | None = None,
) -> bool:
    """Close an open ticket; False if it was closed already."""
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.status == OPEN)
        .values(
            status=CLOSED,
            closed_by=actor[:120],
            close_note=note,
            close_reason=reason,
            closed_at=now,
        )
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))


async def rate(
    session: AsyncSession, ticket_id: int, *, account_id: int, rating: int, now: datetime
) -> bool:
    """Record a closed ticket's rating by its own citizen, once."""
    result = await session.execute(
        update(Ticket)
        .where(
            Ticket.id == ticket_id,
            Ticket.account_id == account_id,
            Ticket.status == CLOSED,
            Ticket.rating.is_(None),
        )
        .values(rating=rating, rated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))


async def forget_citizen(session: AsyncSession, account_ids: Sequence[int]) -> list[int]:
    """Drop what the accounts' tickets hold of the citizen (messages waiting, staff notes).

    Returns:
        The tickets' desk outbox rows (headers and relayed messages), for the caller to strip.
    """
    ticket_ids = select(Ticket.id).where(Ticket.account_id.in_(account_ids))
    await session.execute(
        update(TicketMessage).where(TicketMessage.ticket_id.in_(ticket_ids)).values(body=None)
    )
    await session.execute(
        update(TicketEntry).where(TicketEntry.ticket_id.in_(ticket_ids)).values(text=None)
    )
    await session.execute(update(Ticket).where(Ticket.id.in_(ticket_ids)).values(close_note=None))
    relayed = await session.scalars(
        select(TicketMessage.desk_outbox_id).where(
            TicketMessage.ticket_id.in_(ticket_ids), TicketMessage.desk_outbox_id.is_not(None)
        )
    )
    anchors = await session.scalars(
        select(Ticket.anchor_outbox_id).where(
            Ticket.id.in_(ticket_ids), Ticket.anchor_outbox_id.is_not(None)
        )
    )
    return sorted({row for row in (*relayed, *anchors) if row is not None})


# ---------------------------------------------------------------- the console's inbox

CITIZEN, STAFF, NOTE, EVENT = "citizen", "staff", "note", "event"  # kinds of ticket entries
UNASSIGNED, MINE, ALL = "unassigned", "mine", "all"  # the inbox's folders


async def add_entry(
    session: AsyncSession, ticket_id: int, *, kind: str, author: str, text: str, now: datetime
) -> TicketEntry:
    """Add a line to a ticket's conversation (as the console shows it)."""
    entry = TicketEntry(
        ticket_id=ticket_id, kind=kind, author=author[:120], text=text[:4000], created_at=now
    )
    session.add(entry)
    await session.flush()
    return entry


async def entries(session: AsyncSession, ticket_id: int, *, limit: int = 200) -> list[TicketEntry]:
    """A ticket's last `limit` conversation lines, oldest first."""
    result = await session.scalars(
        select(TicketEntry)
        .where(TicketEntry.ticket_id == ticket_id)
        .order_by(TicketEntry.id.desc())
        .limit(limit)
    )
    return list(reversed(result.all()))


def _folder(statement: Select[Any], folder: str, holder: str) -> Select[Any]:
    if folder == UNASSIGNED:
        return statement.where(Ticket.status == OPEN, Ticket.holder.is_(None))
    if folder == MINE:
        return statement.where(Ticket.status == OPEN, Ticket.holder == holder)
    return statement


async def page_of(
    session: AsyncSession,
    *,
    folder: str,
    holder: str,
    wards: Collection[int] | None,
    before: int | None,
    size: int,
) -> list[Ticket]:
    """One page of a folder, newest first, by keyset (ids below `before`); `wards` None: all."""
    statement = _folder(select(Ticket), folder, holder)
    if wards is not None:
        statement = statement.where(Ticket.ward_code.in_(sorted(wards)))
    if before is not None:
        statement = statement.where(Ticket.id < before)
    result = await session.scalars(statement.order_by(Ticket.id.desc()).limit(size))
    return list(result.all())


async def count_in(
    session: AsyncSession, *, folder: str, holder: str, wards: Collection[int] | None
) -> int:
    """How many tickets a folder holds."""
    statement = _folder(select(func.count()).select_from(Ticket), folder, holder)
    if wards is not None:
        statement = statement.where(Ticket.ward_code.in_(sorted(wards)))
    return int(await session.scalar(statement) or 0)


async def latest_change(session: AsyncSession) -> tuple[int, int]:
    """The newest ticket id and the newest entry id: the inbox's live updates watch these."""
    ticket = await session.scalar(select(func.max(Ticket.id)))
    entry = await session.scalar(select(func.max(TicketEntry.id)))
    return int(ticket or 0), int(entry or 0)


async def canned(session: AsyncSession) -> list[CannedResponse]:
    """The canned responses, by title."""
    return list(
        (await session.scalars(select(CannedResponse).order_by(CannedResponse.title))).all()
    )
