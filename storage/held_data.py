"""What is held about a citizen, for `/xemdulieu`: tubes, reaction reports, support requests."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Reaction, Sample, SampleMember, Ticket


async def samples_of(
    session: AsyncSession, person_ids: Sequence[int]
) -> Sequence[tuple[int, Sample]]:
    """(person id, tube) for every tube these people were sampled in, oldest first."""
    if not person_ids:
        return []
    rows = await session.execute(
        select(SampleMember.person_id, Sample)
        .join(Sample, Sample.id == SampleMember.sample_id)
        .where(SampleMember.person_id.in_(person_ids))
        .order_by(Sample.taken_at, Sample.id)
    )
    return [(person_id, sample) for person_id, sample in rows]


async def reactions_of(session: AsyncSession, account_id: int) -> Sequence[Reaction]:
    """The reactions an account reported, oldest first."""
    rows = await session.scalars(
        select(Reaction).where(Reaction.account_id == account_id).order_by(Reaction.id)
    )
    return list(rows)


async def tickets_of(session: AsyncSession, account_ids: Sequence[int]) -> Sequence[Ticket]:
    """The support requests opened from these chats, oldest first."""
    if not account_ids:
        return []
    rows = await session.scalars(
        select(Ticket).where(Ticket.account_id.in_(account_ids)).order_by(Ticket.id)
    )
    return list(rows)
