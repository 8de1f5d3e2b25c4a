"""The outbox: messages promised in a transaction, delivered afterwards by the sender.

Statuses: `pending` (due at `not_before`), `sending` (claimed by a sender until `lease_until`),
`sent`, `failed` (gave up, `last_error` says why), `blocked` (the platform says the recipient
blocked us or is gone), `dropped` (not tried: the recipient was known to be unreachable),
`cancelled` (withdrawn before it was sent, e.g. a broadcast stopped by staff), `waiting` (the
platform takes it only once the recipient writes again, Zalo's interaction window: due when
they do, or at `not_before`, e.g. when the night ban on template messages ends).
A claim whose lease ran out (the process died mid-send) becomes due again.

Rows are kept as the delivery record (reports, deduplication, replies to a message by its
platform id); once settled and older than the retention period, or when their citizen's data is
erased, they are stripped (`strip`): their text, buttons and picture are gone. Later still the
records nothing refers to are deleted (`prune`).

Each row has a lane (`REPLY`, `NOTICE`, `BULK`): the sender claims the lower lanes first, and
the bulk lane only with the room they leave.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    case,
    delete,
    exists,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import supports_row_locks
from storage.models import (
    OUTBOX_UNSENT,
    Account,
    Broadcast,
    BroadcastDelivery,
    CampaignInvitation,
    OutboxMessage,
    Ticket,
    TicketMessage,
    table,
)

CANCELLED = "cancelled"
WAITING = "waiting"
_UNSENT = ("pending", WAITING, "sending")  # every other status is settled: never tried again

# Lanes: a lower one leaves first; the bulk lane waits while the others have a backlog.
REPLY = 0  # answers to what a citizen just wrote (and staff's answers to them)
NOTICE = 1  # results, reminders, certificates: news for one person
BULK = 2  # broadcasts and campaign waves


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to write to the outbox."""

    channel: str
    chat_id: str
    body: dict[str, Any]
    account_id: int | None = None
    image: bytes | None = None
    bulk: bool = False
    not_before: datetime | None = None
    lane: int = NOTICE


async def enqueue(
    session: AsyncSession,
    messages: Sequence[NewMessage],
    *,
    now: datetime,
    lease_until: datetime | None = None,
) -> list[int]:
    """Write `messages`; with `lease_until` they are claimed for immediate delivery by the caller.

    Rows claimed by the caller are replies: they go in the `REPLY` lane.

    Returns:
        The new row ids, in the order given.
    """
    if not messages:
        return []
    status = "sending" if lease_until else "pending"
    rows = [
        {
            "channel": m.channel,
            "chat_id": m.chat_id,
            "account_id": m.account_id,
            "bulk": m.bulk,
            "lane": REPLY if lease_until else m.lane,
            "body": m.body,
            "image": m.image,
            "status": status,
            "attempts": 0,
            "not_before": m.not_before or now,
            "lease_until": lease_until,
            "created_at": now,
        }
        for m in messages
    ]
    return list((await session.execute(_INSERT, rows)).scalars())


_OUTBOX = table(OutboxMessage)
_INSERT = insert(_OUTBOX).returning(_OUTBOX.c.id, sort_by_parameter_order=True)


async def enqueue_replies(
    session: AsyncSession,
    messages: Sequence[NewMessage],
    *,
    now: datetime,
    lease_until: datetime,
    held_here: Collection[int] = (),
) -> list[tuple[int, bool]]:
    """Write replies claimed by the caller for delivery at once, in the `REPLY` lane.

    In a chat where an earlier message waits for a retry, they wait their turn in the table
    instead, due now, so the chat's messages leave in order. Rows in `held_here` (the
    caller's sender has them in hand and keeps each chat's order itself) hold nothing back.
    Nor does a row another worker has claimed: it is on its way now, and its worker may have
    died with it (its lease ends within a minute), which must not hold a citizen's reply up
    that long. Nor, for now, a notice due and not yet claimed: the reply the citizen waits
    for goes first (the test harness of the conversations runs without a sender, and their
    notices would hold every reply back there).

    Returns:
        For each message, in the order given: its row id and whether the caller claimed it.
    """
    chats = {(m.channel, m.chat_id) for m in messages}
    waiting = await _chats_waiting(session, chats, now, held_here)
    mine = [(m.channel, m.chat_id) not in waiting for m in messages]
    claimed = iter(
        await enqueue(
            session,
            [m for m, ok in zip(messages, mine, strict=True) if ok],
            now=now,
            lease_until=lease_until,
        )
    )
    queued = [replace(m, lane=REPLY) for m, ok in zip(messages, mine, strict=True) if not ok]
    later = iter(await enqueue(session, queued, now=now))
    return [(next(claimed), True) if ok else (next(later), False) for ok in mine]


async def _chats_waiting(
    session: AsyncSession, chats: set[tuple[str, str]], now: datetime, held_here: Collection[int]
) -> set[tuple[str, str]]:
    """The chats among `chats` with a message still to leave before anything new."""
    if not chats:
        return set()
    return {
        row.chat
        for row in await _unsent_in_chats(session, chats)
        if row.status == "pending" and row.last_error is not None and row.id not in held_here
    }


@dataclass(frozen=True, slots=True)
class _Unsent:
    id: int
    chat: tuple[str, str]
    status: str
    not_before: datetime
    lease_until: datetime | None
    last_error: str | None

    def holding(self, now: datetime) -> bool:
        """Whether it holds its chat's later rows back: claimed, due, or to be retried.

        A message scheduled for later (a reminder) holds nothing, nor one kept for its
        citizen to write (`waiting`).
        """
        if self.status == "sending":
            return True
        return self.status == "pending" and (self.not_before <= now or self.last_error is not None)

    def due(self, now: datetime) -> bool:
        """Whether a claim may take it now (as `_due`)."""
        if self.status == "sending":
            return self.lease_until is not None and self.lease_until < now
        return self.not_before <= now


def chat_rows(chats: set[tuple[str, str]]) -> Select[int, str, str, str, datetime, Any, Any]:
    """Every row of `chats` (and of the same ids on their other channels): what to look at."""
    o = OutboxMessage
    return select(
        o.id, o.channel, o.chat_id, o.status, o.not_before, o.lease_until, o.last_error
    ).where(
        o.channel.in_({channel for channel, _ in chats}),
        o.chat_id.in_({chat_id for _, chat_id in chats}),
    )


async def _unsent_in_chats(
    session: AsyncSession, chats: set[tuple[str, str]], before: int | None = None
) -> list[_Unsent]:
    """The unsent rows of `chats` (with ids below `before`).

    Only the channels and chat ids are in the WHERE clause, so both engines seek each chat in
    `ix_outbox_chat` (a status or id filter leads them to walk every pending row of the
    backlog, or every row below an id, instead); the rest is sorted out here. A chat's rows
    are pruned after `OUTBOX_PRUNE_DAYS`, which bounds what is read.
    """
    rows = await session.execute(chat_rows(chats))
    return [
        _Unsent(row_id, (channel, chat_id), status, not_before, lease_until, last_error)
        for row_id, channel, chat_id, status, not_before, lease_until, last_error in rows
        if status in _UNSENT
        and (channel, chat_id) in chats
        and (before is None or row_id < before)
    ]


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    lease_until: datetime,
    limit: int,
    channels: Sequence[str],
    bulk_limit: int | None = None,
) -> list[tuple[OutboxMessage, bool]]:
    """Claim up to `limit` due messages on `channels`, by lane then age, skipping locked rows.

    The bulk lane gets what room the others leave, `bulk_limit` at most: it pauses while they
    have a backlog. A message is claimed only with (or after) every earlier message to its chat
    that is still to leave, so a chat's messages leave in order whichever worker sends them:
    one behind a message another worker holds, or one held for a retry, stays in the table.
    Each comes with whether its recipient is known to be unreachable; they come in id order.
    """
    claimed = await _lock_due(session, now, limit, channels, OutboxMessage.lane < BULK)
    room = limit - len(claimed)
    if bulk_limit is not None:
        room = min(room, bulk_limit)
    if room > 0:
        claimed += await _lock_due(session, now, room, channels, OutboxMessage.lane == BULK)
    claimed = await _in_chat_order(session, claimed, now)
    for message, _ in claimed:
        message.status = "sending"
        message.lease_until = lease_until
    return claimed


def _due(now: datetime) -> Any:
    return or_(
        OutboxMessage.status.in_(("pending", WAITING)) & (OutboxMessage.not_before <= now),
        (OutboxMessage.status == "sending") & (OutboxMessage.lease_until < now),
    )


async def _lock_due(
    session: AsyncSession, now: datetime, limit: int, channels: Sequence[str], *where: Any
) -> list[tuple[OutboxMessage, bool]]:
    """Due rows matching `where`, by lane then id, locked (skipping rows locked elsewhere)."""
    statement = due_rows(now, channels, limit, *where)
    if supports_row_locks(session):
        statement = statement.with_for_update(skip_locked=True, of=OutboxMessage)
    rows = await session.execute(statement)
    return [(message, bool(unreachable)) for message, unreachable in rows]


def due_rows(
    now: datetime, channels: Sequence[str], limit: int, *where: Any
) -> Select[OutboxMessage, bool]:
    """The first `limit` due rows matching `where` and their recipients' reachability.

    `OUTBOX_UNSENT` is spelt literally: it lets both engines walk `ix_outbox_pending` (by
    channel, lane and id) over the unsent rows only, rather than every row ever sent.
    """
    return (
        select(OutboxMessage, Account.unreachable_at.is_not(None))
        .outerjoin(Account, Account.id == OutboxMessage.account_id)
        .where(_UNSENT_ROWS, OutboxMessage.channel.in_(channels), _due(now), *where)
        .order_by(OutboxMessage.lane, OutboxMessage.id)
        .limit(limit)
    )


_UNSENT_ROWS = text(f"outbox.{OUTBOX_UNSENT}")


async def _in_chat_order(
    session: AsyncSession, claimed: list[tuple[OutboxMessage, bool]], now: datetime
) -> list[tuple[OutboxMessage, bool]]:
    """`claimed` less the rows that must wait behind an earlier message to their chat.

    Earlier rows that are due and free are claimed along (a reply behind its chat's earlier
    announcement pulls that forward); those held elsewhere or waiting for a retry hold back
    the chat's later rows. Rows kept for their citizen to write (`waiting`) hold nothing.
    """
    if not claimed:
        return claimed
    ours = {message.id for message, _ in claimed}
    earlier = await _earlier_unsent(session, claimed, now)
    pull = [row_id for row_id, _chat, due in earlier if due and row_id not in ours]
    if pull:
        channels = tuple({message.channel for message, _ in claimed})
        claimed += await _lock_due(session, now, len(pull), channels, OutboxMessage.id.in_(pull))
        ours = {message.id for message, _ in claimed}
    first_held: dict[tuple[str, str], int] = {}
    for row_id, chat, _due_now in earlier:
        if row_id not in ours:
            first_held[chat] = min(row_id, first_held.get(chat, row_id))
    kept = [
        (message, unreachable)
        for message, unreachable in claimed
        if message.id < first_held.get((message.channel, message.chat_id), message.id + 1)
    ]
    return sorted(kept, key=lambda row: row[0].id)  # each chat's in order


async def _earlier_unsent(
    session: AsyncSession, claimed: list[tuple[OutboxMessage, bool]], now: datetime
) -> list[tuple[int, tuple[str, str], bool]]:
    """The chats' rows before the last claimed that hold later ones back: (id, chat, due)."""
    chats = {(message.channel, message.chat_id) for message, _ in claimed}
    top = max(message.id for message, _ in claimed)
    rows = await _unsent_in_chats(session, chats, before=top)
    return [(row.id, row.chat, row.due(now)) for row in rows if row.holding(now)]


async def mark_sent(
    session: AsyncSession, *, outcomes: Sequence[tuple[int, str | None]], at: datetime
) -> None:
    """Record deliveries: (row id, platform message id)."""
    if outcomes:
        await session.execute(
            _MARK_SENT,
            [
                {"row_id": message_id, "sent_at": at, "external_id": external_id}
                for message_id, external_id in outcomes
            ],
        )


_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(status="sent", lease_until=None)
)


async def mark_retry(
    session: AsyncSession, *, message_id: int, not_before: datetime, error: str, attempt: bool
) -> None:
    """Make a message due again at `not_before`; `attempt` counts this try against the limit.

    A message cancelled meanwhile stays cancelled.
    """
    values: dict[str, Any] = {
        "status": "pending",
        "not_before": not_before,
        "last_error": error[:500],
        "lease_until": None,
    }
    if attempt:
        values["attempts"] = OutboxMessage.attempts + 1
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status != CANCELLED)
        .values(**values)
    )


async def mark_waiting(
    session: AsyncSession, *, message_id: int, not_before: datetime, error: str
) -> None:
    """Keep a message until its recipient writes to us, or until `not_before`."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status != CANCELLED)
        .values(status=WAITING, not_before=not_before, last_error=error[:500], lease_until=None)
    )


async def mark_final(session: AsyncSession, *, message_id: int, status: str, error: str) -> None:
    """Stop trying a message: `failed` (gave up), `blocked` or `dropped` (unreachable)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status=status,
            last_error=error[:500],
            lease_until=None,
            attempts=OutboxMessage.attempts + 1,
        )
    )


async def mark_interrupted(session: AsyncSession, *, message_id: int, error: str) -> None:
    """Note on a claimed row that its send was cut off; it stays claimed until its lease ends."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "sending")
        .values(last_error=error[:500])
    )


async def release_waiting(
    session: AsyncSession, *, channel: str, chat_ids: Sequence[str], now: datetime
) -> int:
    """The recipients wrote to us: their messages kept `waiting` are due now; how many."""
    if not chat_ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id.in_(chat_ids),
            OutboxMessage.status == WAITING,
        )
        .values(status="pending", not_before=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def transcript(
    session: AsyncSession, *, channel: str, chat_id: str, after: int, limit: int = 200
) -> list[OutboxMessage]:
    """Messages to a chat after row `after` that were handed to the channel, not stripped.

    The web chat reads its history here.
    """
    result = await session.execute(
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.id > after,
            OutboxMessage.status.in_(("sending", "sent")),
            OutboxMessage.stripped_at.is_(None),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return list(result.scalars())


async def get_for_chat(
    session: AsyncSession, *, message_id: int, channel: str, chat_id: str
) -> OutboxMessage | None:
    """One message, only if it was addressed to this chat."""
    result = await session.execute(
        select(OutboxMessage).where(
            OutboxMessage.id == message_id,
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
        )
    )
    return result.scalar_one_or_none()


async def recent_for_chat(
    session: AsyncSession, *, channel: str, chat_id: str, limit: int
) -> list[OutboxMessage]:
    """The last `limit` messages written to a chat, oldest first (edits included)."""
    result = await session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return list(reversed(result.scalars().all()))


async def settled_before(session: AsyncSession, *, before: datetime, limit: int) -> list[int]:
    """Up to `limit` settled rows written before `before` and not stripped yet, oldest first."""
    result = await session.scalars(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.stripped_at.is_(None),
            OutboxMessage.created_at < before,
            # NOT IN, not IN (SETTLED): SQLite would then walk every sent row of ix_outbox_due.
            OutboxMessage.status.not_in(_UNSENT),
        )
        .order_by(OutboxMessage.created_at)
        .limit(limit)
    )
    return list(result)


async def prune(session: AsyncSession, *, before: datetime, limit: int) -> int:
    """Delete up to `limit` settled rows written before `before` that nothing refers to.

    Rows a broadcast's or campaign's report counts, or a ticket answers by, stay (stripped).

    Returns:
        How many rows were deleted.
    """
    o = _OUTBOX.c
    referenced = (
        exists().where(BroadcastDelivery.outbox_id == o.id),
        exists().where(CampaignInvitation.outbox_id == o.id),
        exists().where(Broadcast.progress_outbox_id == o.id),
        exists().where(Ticket.anchor_outbox_id == o.id),
        exists().where(TicketMessage.desk_outbox_id == o.id),
    )
    ids = list(
        await session.scalars(
            select(o.id)
            .where(o.created_at < before, o.status.not_in(_UNSENT), *(~ref for ref in referenced))
            .order_by(o.id)
            .limit(limit)
        )
    )
    if ids:
        await session.execute(delete(_OUTBOX).where(o.id.in_(ids)))
    return len(ids)


async def strip(
    session: AsyncSession,
    ids: Sequence[int],
    *,
    shape: Callable[[dict[str, Any]], dict[str, Any]],
    now: datetime,
) -> set[int]:
    """Replace the rows' bodies by `shape(body)` and drop their pictures, for good.

    A row not sent yet is cancelled: it has nothing left to say.

    Returns:
        The rows cancelled (a sender may hold copies of them: withdraw those).
    """
    if not ids:
        return set()
    rows = (
        await session.execute(
            select(_OUTBOX.c.id, _OUTBOX.c.body, _OUTBOX.c.status).where(_OUTBOX.c.id.in_(ids))
        )
    ).all()
    if rows:
        await session.execute(
            _STRIP,
            [
                {"row_id": row_id, "shape": shape(body), "stripped": now}
                for row_id, body, _ in rows
            ],
        )
    return {row_id for row_id, _body, status in rows if status in _UNSENT}


_STRIP = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(
        body=bindparam("shape", type_=_OUTBOX.c.body.type),
        image=None,
        lease_until=None,
        stripped_at=bindparam("stripped", type_=_OUTBOX.c.stripped_at.type),
        # Not IN (...): an expanding list cannot be part of an executemany.
        status=case(
            (or_(*(_OUTBOX.c.status == unsent for unsent in _UNSENT)), CANCELLED),
            else_=_OUTBOX.c.status,
        ),
    )
)


async def delete_for_chats(session: AsyncSession, chats: Sequence[tuple[str, str]]) -> None:
    """Delete every message to these (channel, chat id) pairs, sent or not."""
    for channel, chat_id in chats:
        await session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id
            )
        )
