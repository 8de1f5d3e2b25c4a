"""Ward announcements: their recipients, their deliveries and what became of them.

Recipients are accounts, not people: an account that registered three people in a ward gets one
message. They are walked in account id order from a cursor, a batch at a time, over the
people indexes `(ward_code, account_id)` and `(province_code, account_id)`; each is written
once (`broadcast_deliveries` is keyed by broadcast and account), so a batch repeated after a
crash sends nobody a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Account, Broadcast, BroadcastDelivery, OutboxMessage, Person, table
from storage.outbox import CANCELLED as OUTBOX_CANCELLED
from storage.outbox import WAITING

SCHEDULED, SENDING, DONE, CANCELLED = "scheduled", "sending", "done", "cancelled"
IN_FLIGHT = ("pending", "sending")  # outbox statuses of a message not yet settled

_DELIVERIES = table(BroadcastDelivery)


@dataclass(frozen=True)
class Audience:
    """Whom a broadcast reaches: the people of some wards or of a province, in some groups.

    Attributes:
        wards: Current ward codes (empty when a whole province is targeted).
        province: A province code, for a province-wide announcement (admins only).
        groups: Priority-group codes; empty means every group.
    """

    wards: tuple[int, ...] = ()
    province: int | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recipient:
    """An account to write to, with what the message needs."""

    account_id: int
    channel: str
    chat_id: str
    locale: str


def _reachable() -> ColumnElement[bool]:
    return (
        Account.consent_version.is_not(None)
        & Account.unreachable_at.is_(None)
        & Account.announcements_off_at.is_(None)
    )


def _people_in(audience: Audience) -> ColumnElement[bool]:
    where = (
        Person.province_code == audience.province
        if audience.province is not None
        else Person.ward_code.in_(list(audience.wards))
    )
    if audience.groups:
        where = where & Person.priority_group.in_(list(audience.groups))
    return where


async def count_recipients(session: AsyncSession, audience: Audience) -> int:
    """How many accounts an audience reaches now (consenting, reachable, not opted out)."""
    accounts = (
        select(Person.account_id)
        .join(Account, Account.id == Person.account_id)
        .where(_people_in(audience), _reachable())
        .distinct()
        .subquery()
    )
    return int(await session.scalar(select(func.count()).select_from(accounts)) or 0)


async def recipients_after(
    session: AsyncSession, audience: Audience, *, after: int, limit: int
) -> list[Recipient]:
    """The next `limit` recipients with an account id above `after`, in id order."""
    # A citizen's linked chat, if they wrote from it last (see `Account.reach_channel`).
    channel = func.coalesce(Account.reach_channel, Account.channel)
    chat_id = func.coalesce(Account.reach_chat_id, Account.chat_id)
    rows = await session.execute(
        select(Account.id, channel, chat_id, Account.locale)
        .join(Person, Person.account_id == Account.id)
        .where(_people_in(audience), _reachable(), Person.account_id > after)
        .group_by(Account.id, channel, chat_id, Account.locale)
        .order_by(Account.id)
        .limit(limit)
    )
    return [Recipient(*row) for row in rows]


async def record_deliveries(
    session: AsyncSession, broadcast_id: int, deliveries: Sequence[tuple[int, int]]
) -> None:
    """Remember (account id, outbox id) of each message written, in one statement."""
    if deliveries:
        await session.execute(
            insert(_DELIVERIES),
            [
                {"broadcast_id": broadcast_id, "account_id": account, "outbox_id": row}
                for account, row in deliveries
            ],
        )


async def outcome_counts(session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    """Deliveries by their outbox status; `erased` for those whose account is gone."""
    rows = await session.execute(
        select(func.coalesce(OutboxMessage.status, "erased"), func.count())
        .select_from(BroadcastDelivery)
        .outerjoin(OutboxMessage, OutboxMessage.id == BroadcastDelivery.outbox_id)
        .where(BroadcastDelivery.broadcast_id == broadcast_id)
        .group_by(OutboxMessage.status)
    )
    counts: dict[str, int] = {}
    for status, count in rows:
        counts[str(status)] = counts.get(str(status), 0) + int(count)
    return counts


async def in_flight_between(session: AsyncSession, first: int, last: int) -> int:
    """How many outbox rows with ids in [first, last] are not settled yet.

    The rows of one batch are written in one statement; on PostgreSQL a concurrent writer's rows
    may fall in between, which only makes the count a little high (it paces the next batch).
    """
    count = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.id.between(first, last), OutboxMessage.status.in_(IN_FLIGHT))
    )
    return int(count or 0)


async def cancel_unsent(session: AsyncSession, broadcast_id: int) -> set[int]:
    """Withdraw the broadcast's messages not yet sent; their outbox ids."""
    rows = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(
                select(BroadcastDelivery.outbox_id).where(
                    BroadcastDelivery.broadcast_id == broadcast_id
                )
            ),
            OutboxMessage.status.in_((*IN_FLIGHT, WAITING)),
        )
        .values(status=OUTBOX_CANCELLED, lease_until=None)
        .returning(OutboxMessage.id)
    )
    return set(rows.scalars())


async def get_broadcast(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    """A broadcast by id."""
    return await session.get(Broadcast, broadcast_id)


async def lock_broadcast(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    """A broadcast by id, row-locked on PostgreSQL (staff cancelling while a batch is written)."""
    return await session.scalar(
        select(Broadcast).where(Broadcast.id == broadcast_id).with_for_update()
    )


async def list_broadcasts(session: AsyncSession, *, limit: int) -> Sequence[Broadcast]:
    """The newest broadcasts first."""
    result = await session.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(limit))
    return result.all()
