"""Reactions after vaccination reported by citizens, and their counts per site and product."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Person, Reaction, Vaccination


@dataclass(frozen=True, slots=True)
class ReactionCount:
    """How many reactions were reported for doses of one product given at one site."""

    site_id: str | None
    product: str | None
    total: int
    severe: int


async def add_reaction(session: AsyncSession, reaction: Reaction) -> Reaction:
    """Store a report."""
    session.add(reaction)
    await session.flush()
    return reaction


async def recent_doses(
    session: AsyncSession, account_id: int, *, since: date, limit: int = 5
) -> Sequence[tuple[Vaccination, Person]]:
    """Doses given on or after `since` to the people of an account, newest first."""
    rows = await session.execute(
        select(Vaccination, Person)
        .join(Person, Person.id == Vaccination.person_id)
        .where(Person.account_id == account_id, Vaccination.given_on >= since)
        .order_by(Vaccination.given_on.desc(), Vaccination.id.desc())
        .limit(limit)
    )
    return [(dose, person) for dose, person in rows]


async def counts(session: AsyncSession, *, since: datetime | None = None) -> list[ReactionCount]:
    """Reports per site and product (those without a dose count under None), most first."""
    severe = func.sum(case((Reaction.severity == "severe", 1), else_=0))
    query = select(Reaction.site_id, Reaction.product, func.count(), severe).group_by(
        Reaction.site_id, Reaction.product
    )
    if since is not None:
        query = query.where(Reaction.reported_at >= since)
    rows = await session.execute(query)
    found = [
        ReactionCount(site, product, int(total), int(heavy or 0))
        for site, product, total, heavy in rows
    ]
    return sorted(found, key=lambda c: (-c.total, c.site_id or "", c.product or ""))
