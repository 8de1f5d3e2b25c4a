"""Children registered by their parents, and their routine immunisation doses.

Like every storage module, nothing here commits: the caller's unit of work does. ID numbers
arrive sealed with their blind index (bot.domain.identity), never in clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import bookings
from storage.models import Child, ChildBooking, ChildDose, Job, Site, Slot, table

REPORTED = "reported"  # entered by a parent, not confirmed by a site
GIVEN = "given"  # recorded or confirmed by a vaccination site


async def add_child(session: AsyncSession, child: Child) -> Child:
    """Store a new child and give them an id."""
    session.add(child)
    await session.flush()
    return child


async def children_of(session: AsyncSession, account_id: int) -> Sequence[Child]:
    """The children an account registered, oldest registration first."""
    result = await session.scalars(
        select(Child).where(Child.account_id == account_id).order_by(Child.id)
    )
    return result.all()


async def count_children(session: AsyncSession, account_id: int) -> int:
    """How many children an account registered."""
    count = await session.scalar(
        select(func.count()).select_from(Child).where(Child.account_id == account_id)
    )
    return int(count or 0)


async def erase_for_account(session: AsyncSession, account_id: int) -> None:
    """What erasing a parent's account does to the children it registered.

    What the parent entered goes: booked children's sessions are cancelled (their places freed),
    children without a dose a site confirmed are deleted with their reported doses; the others
    are kept for the medical record (as adults with a dose are), detached from the account and
    the parent, with only the doses a site gave.
    """
    registered = select(Child.id).where(Child.account_id == account_id)
    booked = await session.execute(
        update(ChildBooking)
        .where(ChildBooking.child_id.in_(registered), ChildBooking.status == BOOKED)
        .values(status=CANCELLED)
        .returning(ChildBooking.slot_id)
        .execution_options(synchronize_session=False)
    )
    for slot_id in booked.scalars().all():  # their places go back to other children
        await bookings.release_place(session, slot_id)
    confirmed = select(ChildDose.child_id).where(
        ChildDose.child_id.in_(registered), ChildDose.status == GIVEN
    )
    await session.execute(
        delete(ChildDose).where(ChildDose.child_id.in_(registered), ChildDose.status == REPORTED)
    )
    await session.execute(
        delete(Child).where(Child.account_id == account_id, Child.id.not_in(confirmed))
    )
    await session.execute(
        update(Child)
        .where(Child.account_id == account_id)
        .values(account_id=None, parent_person_id=None)
    )


async def get_child(session: AsyncSession, child_id: int) -> Child | None:
    """A child by id."""
    return await session.get(Child, child_id)


async def find_by_id_index(session: AsyncSession, id_index: str) -> Child | None:
    """The child registered under an ID number's blind index."""
    return await session.scalar(select(Child).where(Child.id_index == id_index))


async def add_dose(
    session: AsyncSession,
    *,
    child_id: int,
    vaccine: str,
    dose_number: int,
    given_on: date,
    now: datetime,
    status: str = REPORTED,
    date_approximate: bool = False,
    site_id: str | None = None,
    recorded_by: int | None = None,
) -> ChildDose:
    """Record a dose: `reported` by a parent, or `given` by a site (with its site and staff).

    Raises:
        ValueError: an unknown status, or a site dose without its site.
    """
    if status not in (REPORTED, GIVEN):
        raise ValueError(f"unknown dose status {status!r}")
    if status == GIVEN and site_id is None:
        raise ValueError("a dose given by a site names the site")
    dose = ChildDose(
        child_id=child_id,
        vaccine=vaccine,
        dose_number=dose_number,
        given_on=given_on,
        date_approximate=date_approximate,
        status=status,
        site_id=site_id,
        recorded_by=recorded_by,
        confirmed_at=now if status == GIVEN else None,
        created_at=now,
    )
    session.add(dose)
    await session.flush()
    return dose


async def confirm_dose(
    session: AsyncSession,
    dose_id: int,
    *,
    site_id: str,
    recorded_by: int | None,
    now: datetime,
    given_on: date | None = None,
) -> ChildDose | None:
    """A site confirms a reported dose (optionally with the exact day); None if there is none."""
    dose = await session.get(ChildDose, dose_id)
    if dose is None:
        return None
    dose.status, dose.site_id, dose.recorded_by, dose.confirmed_at = (
        GIVEN,
        site_id,
        recorded_by,
        now,
    )
    if given_on is not None:
        dose.given_on, dose.date_approximate = given_on, False
    await session.flush()
    return dose


async def doses_of(session: AsyncSession, child_id: int) -> Sequence[ChildDose]:
    """A child's doses, by vaccine then date."""
    result = await session.scalars(
        select(ChildDose)
        .where(ChildDose.child_id == child_id)
        .order_by(ChildDose.vaccine, ChildDose.given_on, ChildDose.dose_number)
    )
    return result.all()


async def ward_children(
    session: AsyncSession, ward_code: int, *, born_after: date | None = None
) -> Sequence[Child]:
    """The children living in a ward (born after `born_after`, when given), oldest first."""
    query = select(Child).where(Child.ward_code == ward_code)
    if born_after is not None:
        query = query.where(Child.birth_date > born_after)
    result = await session.scalars(query.order_by(Child.birth_date, Child.id))
    return result.all()


async def doses_of_children(
    session: AsyncSession, child_ids: Sequence[int]
) -> dict[int, list[ChildDose]]:
    """The doses of several children, each list by vaccine then date."""
    found: dict[int, list[ChildDose]] = {child_id: [] for child_id in child_ids}
    for start in range(0, len(child_ids), 1000):  # keep IN lists short on every engine
        batch = list(child_ids[start : start + 1000])
        result = await session.scalars(
            select(ChildDose)
            .where(ChildDose.child_id.in_(batch))
            .order_by(ChildDose.child_id, ChildDose.vaccine, ChildDose.given_on)
        )
        for dose in result:
            found[dose.child_id].append(dose)
    return found


async def area_rows(
    session: AsyncSession,
    ward_code: int | None,
    *,
    born_after: date,
    born_before: date | None = None,
) -> tuple[Sequence[Any], Sequence[Any]]:
    """The children of a ward (every ward: None) born after `born_after`, and their doses.

    With `born_before`, only those born before that day too (a city is read a window at a time).

    Plain rows (Core, no ORM objects): `(id, full_name, birth_date)` by birth date, and
    `(child_id, vaccine, dose_number, given_on, status)`; for due lists over many children.
    """
    kids, doses = table(Child), table(ChildDose)
    where = [kids.c.birth_date > born_after]
    if born_before is not None:
        where.append(kids.c.birth_date < born_before)
    if ward_code is not None:
        where.append(kids.c.ward_code == ward_code)
    found = await session.execute(
        select(kids.c.id, kids.c.full_name, kids.c.birth_date)
        .where(*where)
        .order_by(kids.c.birth_date, kids.c.id)
    )
    given = await session.execute(
        select(
            doses.c.child_id,
            doses.c.vaccine,
            doses.c.dose_number,
            doses.c.given_on,
            doses.c.status,
        )
        .join(kids, kids.c.id == doses.c.child_id)
        .where(*where)
    )
    return found.all(), given.all()


# ---------------------------------------------------------------- children's sessions

CHILDREN_SESSION = "children"  # `Slot.purpose` of a children's immunisation session
BOOKED, CANCELLED, ATTENDED = "booked", "cancelled", "attended"


async def sessions_with_places(
    session: AsyncSession, *, ward_code: int, since: datetime, until: datetime, limit: int = 6
) -> Sequence[tuple[Slot, Site]]:
    """Children's sessions at the active sites of a ward with a free place, in time order."""
    rows = await session.execute(
        select(Slot, Site)
        .join(Site, Site.id == Slot.site_id)
        .where(
            Site.ward_code == ward_code,
            Site.active.is_(True),
            Slot.purpose == CHILDREN_SESSION,
            Slot.starts_at >= since,
            Slot.starts_at < until,
            Slot.booked < Slot.capacity,
        )
        .order_by(Slot.starts_at, Slot.id)
        .limit(limit)
    )
    return [(slot, site) for slot, site in rows]


async def active_booking(session: AsyncSession, child_id: int) -> ChildBooking | None:
    """The child's booked session, if any."""
    return await session.scalar(
        select(ChildBooking).where(
            ChildBooking.child_id == child_id, ChildBooking.status == BOOKED
        )
    )


async def book_session(
    session: AsyncSession, child_id: int, slot: Slot, *, now: datetime
) -> ChildBooking | None:
    """Take a place in a children's session for the child; None if it is full or has started.

    A booking the child already had is cancelled and its place given back, in this
    transaction.
    """
    if slot.purpose != CHILDREN_SESSION or not await bookings.take_place(
        session, slot.id, starts_after=now
    ):
        return None
    held = await active_booking(session, child_id)
    if held is not None:
        held.status = CANCELLED
        await session.flush()
        await bookings.release_place(session, held.slot_id)
    booking = ChildBooking(child_id=child_id, slot_id=slot.id, status=BOOKED, created_at=now)
    session.add(booking)
    await session.flush()
    return booking


async def attend_booking(session: AsyncSession, child_id: int) -> None:
    """The child was vaccinated: a booked session counts as attended."""
    await session.execute(
        update(ChildBooking)
        .where(ChildBooking.child_id == child_id, ChildBooking.status == BOOKED)
        .values(status=ATTENDED)
        .execution_options(synchronize_session=False)
    )


async def sent_job_payloads(
    session: AsyncSession, group_key: str, kind: str
) -> Sequence[dict[str, Any]]:
    """The payloads of a job group's jobs of `kind` that fired (to send nothing twice)."""
    result = await session.scalars(
        select(Job.payload).where(
            Job.group_key == group_key, Job.kind == kind, Job.status == "done"
        )
    )
    return result.all()
