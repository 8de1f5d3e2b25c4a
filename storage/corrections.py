"""Citizens' requests to correct a recorded dose: written by the chat, decided by site staff."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DoseCorrection

OPEN, ACCEPTED, REFUSED = "open", "accepted", "refused"


async def add(session: AsyncSession, request: DoseCorrection) -> DoseCorrection:
    """Write a new request; its id is set on return."""
    session.add(request)
    await session.flush()
    return request


async def get(session: AsyncSession, request_id: int) -> DoseCorrection | None:
    """One request, locked for update where the database can (a decision is taken once)."""
    result = await session.scalars(
        select(DoseCorrection).where(DoseCorrection.id == request_id).with_for_update()
    )
    return result.first()


async def queue(
    session: AsyncSession, *, sites: Sequence[str] | None, status: str = OPEN, limit: int = 100
) -> Sequence[DoseCorrection]:
    """Requests in a status for these sites (None: every site), oldest first."""
    query = select(DoseCorrection).where(DoseCorrection.status == status)
    if sites is not None:
        query = query.where(DoseCorrection.site_id.in_(list(sites)))
    result = await session.scalars(query.order_by(DoseCorrection.created_at).limit(limit))
    return result.all()


async def open_for_dose(session: AsyncSession, vaccination_id: int) -> DoseCorrection | None:
    """The open request about this dose, if there is one (one at a time)."""
    result = await session.scalars(
        select(DoseCorrection).where(
            DoseCorrection.vaccination_id == vaccination_id, DoseCorrection.status == OPEN
        )
    )
    return result.first()


async def erase_for_account(session: AsyncSession, account_id: int) -> None:
    """Forget the requests an account made, words and photos (the citizen erased their data)."""
    await session.execute(delete(DoseCorrection).where(DoseCorrection.account_id == account_id))


async def of_people(session: AsyncSession, person_ids: Sequence[int]) -> Sequence[DoseCorrection]:
    """The requests about these people's doses, newest first."""
    if not person_ids:
        return []
    result = await session.scalars(
        select(DoseCorrection)
        .where(DoseCorrection.person_id.in_(list(person_ids)))
        .order_by(DoseCorrection.created_at.desc(), DoseCorrection.id.desc())
    )
    return result.all()
