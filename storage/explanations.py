"""The facts a "why" answer is built from (issue 16.7).

The latest tube, a site's usual turnaround, appointments that passed without a recorded dose.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Booking, Sample, SampleMember, Slot

TURNAROUND_SAMPLE = 50  # the site's latest results the usual turnaround is taken from


async def latest_tube(session: AsyncSession, person_id: int) -> Sample | None:
    """The person's most recently taken tube, with a result or not."""
    return await session.scalar(
        select(Sample)
        .join(SampleMember, SampleMember.sample_id == Sample.id)
        .where(SampleMember.person_id == person_id)
        .order_by(Sample.taken_at.desc(), Sample.id.desc())
        .limit(1)
    )


async def usual_turnaround(session: AsyncSession, site_id: str | None) -> timedelta | None:
    """The median time from sampling to result over the site's latest results; None if none."""
    query = select(Sample.taken_at, Sample.tested_at).where(Sample.tested_at.is_not(None))
    if site_id is not None:
        query = query.where(Sample.site_id == site_id)
    rows = (
        await session.execute(query.order_by(Sample.tested_at.desc()).limit(TURNAROUND_SAMPLE))
    ).all()
    spans = sorted(tested - taken for taken, tested in rows if tested is not None)
    return spans[len(spans) // 2] if spans else None


async def passed_unrecorded(
    session: AsyncSession, person_ids: Sequence[int], *, now: datetime
) -> Sequence[tuple[Booking, Slot]]:
    """Appointments whose time has passed and whose dose nobody recorded (still `booked`)."""
    if not person_ids:
        return []
    result = await session.execute(
        select(Booking, Slot)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(
            Booking.person_id.in_(list(person_ids)),
            Booking.status.in_(("booked", "missed")),
            Slot.starts_at <= now,
        )
        .order_by(Slot.starts_at.desc())
    )
    return [(booking, slot) for booking, slot in result]
