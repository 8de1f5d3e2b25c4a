"""Queries on signed certificates (see `storage.models.Certificate`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Certificate, Person

NEW, READY = "new", "ready"


async def current_for(session: AsyncSession, subject: str) -> Certificate | None:
    """The certificate in force for what it certifies (not replaced), revoked or not."""
    return await session.scalar(
        select(Certificate)
        .where(Certificate.subject == subject, Certificate.replaced_at.is_(None))
        .order_by(Certificate.id.desc())
        .limit(1)
    )


async def of_people(session: AsyncSession, person_ids: Sequence[int]) -> Sequence[Certificate]:
    """Certificates in force (not replaced) of these people, newest first."""
    if not person_ids:
        return []
    return (
        await session.scalars(
            select(Certificate)
            .where(Certificate.person_id.in_(person_ids), Certificate.replaced_at.is_(None))
            .order_by(Certificate.id.desc())
        )
    ).all()


async def by_uvci(session: AsyncSession, uvci: str) -> Certificate | None:
    """The certificate with this UVCI (as printed, check character included)."""
    return await session.scalar(select(Certificate).where(Certificate.uvci == uvci))


async def pending(session: AsyncSession, *, limit: int) -> Sequence[tuple[int, str]]:
    """(id, HC1 text) of certificates whose picture is not rendered yet, oldest first."""
    rows = await session.execute(
        select(Certificate.id, Certificate.hc1)
        .where(Certificate.status == NEW)
        .order_by(Certificate.id)
        .limit(limit)
    )
    return [(row_id, hc1) for row_id, hc1 in rows]


async def mark_rendered(session: AsyncSession, certificate_id: int, png: bytes) -> bool:
    """Store the picture; False if another process already did (then it sent it, too)."""
    done = await session.execute(
        update(Certificate)
        .where(Certificate.id == certificate_id, Certificate.status == NEW)
        .values(png=png, status=READY)
    )
    return bool(getattr(done, "rowcount", 0))


async def mark_replaced(session: AsyncSession, certificate_id: int, *, now: datetime) -> bool:
    """Mark a certificate replaced; False if another process already did (it renews it)."""
    done = await session.execute(
        update(Certificate)
        .where(Certificate.id == certificate_id, Certificate.replaced_at.is_(None))
        .values(replaced_at=now)
    )
    return bool(getattr(done, "rowcount", 0))


async def expired(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int,
    person_ids: Sequence[int] | None = None,
) -> Sequence[Certificate]:
    """Vaccination certificates to renew: in force, not revoked, past their expiry.

    Only each person's latest (a certificate of an earlier dose is superseded by the next
    one's) and only of people on an account (not of records kept after an erasure).
    """
    later = aliased(Certificate)
    statement = (
        select(Certificate)
        .join(Person, Person.id == Certificate.person_id)
        .where(
            Certificate.replaced_at.is_(None),
            Certificate.revoked_at.is_(None),
            Certificate.expires_at <= now,
            Certificate.kind == "v",
            Person.account_id.is_not(None),
            ~exists().where(
                later.person_id == Certificate.person_id,
                later.kind == "v",
                later.id > Certificate.id,
            ),
        )
        .order_by(Certificate.id)
        .limit(limit)
    )
    if person_ids is not None:
        statement = statement.where(Certificate.person_id.in_(person_ids))
    return (await session.scalars(statement)).all()
