"""Sample tubes, the people in them, their results, and failed result lookups."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import supports_row_locks
from storage.models import Account, LookupFailure, Person, Sample, SampleMember, SampleResult


async def by_tube(
    session: AsyncSession,
    tube_code: str,
    *,
    sites: Collection[str] | None = None,
    lock: bool = False,
) -> Sample | None:
    """A tube by its code; with `lock`, row-locked until commit (PostgreSQL).

    With `sites`, only a tube sampled at one of them: one query either way, so a tube taken
    elsewhere costs the same as a code that does not exist.
    """
    statement = select(Sample).where(Sample.tube_code == tube_code)
    if sites is not None:
        statement = statement.where(Sample.site_id.in_(list(sites)))
    if lock and supports_row_locks(session):
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def members(session: AsyncSession, sample_id: int) -> Sequence[SampleMember]:
    """The people in a tube."""
    result = await session.scalars(select(SampleMember).where(SampleMember.sample_id == sample_id))
    return result.all()


async def members_with_accounts(
    session: AsyncSession, sample_id: int
) -> Sequence[tuple[SampleMember, Person, Account | None]]:
    """The people in a tube, each with the account to tell (None once erased)."""
    rows = await session.execute(
        select(SampleMember, Person, Account)
        .join(Person, Person.id == SampleMember.person_id)
        .outerjoin(Account, Account.id == Person.account_id)
        .where(SampleMember.sample_id == sample_id)
        .order_by(Person.id)
    )
    return [(m, p, a) for m, p, a in rows]


async def open_tube_of(
    session: AsyncSession, person_id: int, *, since: datetime | None = None
) -> Sample | None:
    """The latest tube with this person still waiting for its result (taken since `since`)."""
    statement = (
        select(Sample)
        .join(SampleMember, SampleMember.sample_id == Sample.id)
        .where(SampleMember.person_id == person_id, Sample.result.is_(None))
        .order_by(Sample.taken_at.desc())
        .limit(1)
    )
    if since is not None:
        statement = statement.where(Sample.taken_at >= since)
    return await session.scalar(statement)


async def token_used(session: AsyncSession, token_id: str) -> bool:
    """Whether a token was already scanned into a tube."""
    found = await session.scalar(
        select(SampleMember.sample_id).where(SampleMember.token_id == token_id)
    )
    return found is not None


async def latest_of(session: AsyncSession, person_id: int) -> Sample | None:
    """The person's most recent tube that has a result."""
    return await session.scalar(
        select(Sample)
        .join(SampleMember, SampleMember.sample_id == Sample.id)
        .where(SampleMember.person_id == person_id, Sample.result.is_not(None))
        .order_by(Sample.tested_at.desc(), Sample.id.desc())
        .limit(1)
    )


async def history(session: AsyncSession, sample_id: int) -> Sequence[SampleResult]:
    """Every result recorded for a tube, first to last."""
    result = await session.scalars(
        select(SampleResult)
        .where(SampleResult.sample_id == sample_id)
        .order_by(SampleResult.version)
    )
    return result.all()


async def failed_lookups_since(
    session: AsyncSession,
    *,
    since: datetime,
    chat_key: str | None = None,
    client_key: str | None = None,
    target: str | None = None,
) -> list[datetime]:
    """When the failed lookups of a chat, of a client address, or against a target happened."""
    statement = select(LookupFailure.at).where(LookupFailure.at >= since)
    if chat_key is not None:
        statement = statement.where(LookupFailure.chat_key == chat_key)
    if client_key is not None:
        statement = statement.where(LookupFailure.client_key == client_key)
    if target is not None:
        statement = statement.where(LookupFailure.target == target)
    result = await session.scalars(statement.order_by(LookupFailure.at))
    return list(result)


async def failures_against(
    session: AsyncSession, *, target: str, since: datetime
) -> tuple[int, int]:
    """How many failed lookups a target drew since `since`, and from how many chats."""
    row = (
        await session.execute(
            select(func.count(), func.count(distinct(LookupFailure.chat_key))).where(
                LookupFailure.target == target, LookupFailure.at >= since
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def record_failed_lookup(
    session: AsyncSession,
    *,
    chat_key: str,
    target: str,
    now: datetime,
    client_key: str | None = None,
) -> None:
    """Count one failed lookup against the chat, the client address and the target."""
    session.add(LookupFailure(chat_key=chat_key, client_key=client_key, target=target, at=now))
    await session.flush()


async def forget_lookups_before(session: AsyncSession, before: datetime) -> None:
    """Drop failed-lookup records too old to count."""
    await session.execute(delete(LookupFailure).where(LookupFailure.at < before))
