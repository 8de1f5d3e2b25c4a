"""Doses given: the history that decides the next dose and feeds the certificates."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Vaccination


async def history(session: AsyncSession, person_id: int) -> Sequence[Vaccination]:
    """A person's doses in order."""
    result = await session.scalars(
        select(Vaccination)
        .where(Vaccination.person_id == person_id)
        .order_by(Vaccination.dose_number)
    )
    return result.all()


async def histories(
    session: AsyncSession, person_ids: Sequence[int]
) -> dict[int, list[Vaccination]]:
    """Doses of several people, each list in dose order."""
    found: dict[int, list[Vaccination]] = {pid: [] for pid in person_ids}
    if not person_ids:
        return found
    result = await session.scalars(
        select(Vaccination)
        .where(Vaccination.person_id.in_(person_ids))
        .order_by(Vaccination.person_id, Vaccination.dose_number)
    )
    for dose in result:
        found[dose.person_id].append(dose)
    return found


async def add_dose(session: AsyncSession, dose: Vaccination) -> Vaccination:
    """Record a dose."""
    session.add(dose)
    await session.flush()
    return dose
