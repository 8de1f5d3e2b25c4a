"""Post-vaccination check-ins: asked, answered, and their answers counted per site and product."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CheckIn

FINE, MILD, HELP = "fine", "mild", "help"
ANSWERS = (FINE, MILD, HELP)


@dataclass(frozen=True, slots=True)
class CheckInCount:
    """Check-ins about doses of one product given at one site: asked, and each answer."""

    site_id: str | None
    product: str
    asked: int
    fine: int
    mild: int
    help: int

    @property
    def unanswered(self) -> int:
        """Asked and not answered (yet)."""
        return self.asked - self.fine - self.mild - self.help


async def ask(session: AsyncSession, checkin: CheckIn) -> CheckIn | None:
    """Store a check-in being asked; None if this dose's check-in of that day was asked already."""
    found = await session.scalar(
        select(CheckIn.id).where(
            CheckIn.vaccination_id == checkin.vaccination_id, CheckIn.day == checkin.day
        )
    )
    if found is not None:
        return None
    session.add(checkin)
    await session.flush()
    return checkin


async def record_answer(
    session: AsyncSession, checkin_id: int, *, account_id: int, answer: str, now: datetime
) -> CheckIn | None:
    """Record (or change) the answer to one of the account's check-ins; None if not theirs."""
    if answer not in ANSWERS:
        return None
    checkin = await session.get(CheckIn, checkin_id)
    if checkin is None or checkin.account_id != account_id:
        return None
    checkin.answer, checkin.answered_at = answer, now
    await session.flush()
    return checkin


async def of_people(session: AsyncSession, person_ids: Sequence[int]) -> list[CheckIn]:
    """The check-ins about these people's doses, oldest first."""
    if not person_ids:
        return []
    rows = await session.scalars(
        select(CheckIn).where(CheckIn.person_id.in_(person_ids)).order_by(CheckIn.id)
    )
    return list(rows)


def _answered(answer: str) -> ColumnElement[int]:
    return func.sum(case((CheckIn.answer == answer, 1), else_=0))


async def counts(session: AsyncSession, *, since: datetime | None = None) -> list[CheckInCount]:
    """Check-ins per site and product (asked since `since`), most asked first."""
    query = select(
        CheckIn.site_id,
        CheckIn.product,
        func.count(),
        _answered(FINE),
        _answered(MILD),
        _answered(HELP),
    ).group_by(CheckIn.site_id, CheckIn.product)
    if since is not None:
        query = query.where(CheckIn.asked_at >= since)
    found = [
        CheckInCount(site, product, int(asked), int(fine or 0), int(mild or 0), int(help_ or 0))
        for site, product, asked, fine, mild, help_ in await session.execute(query)
    ]
    return sorted(found, key=lambda c: (-c.asked, c.site_id or "", c.product))
