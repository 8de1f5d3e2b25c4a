"""People registered by an account (the holder and relatives), looked up by blind index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.bookings import ACTIVE, CANCELLED, release_place
from storage.models import (
    Account,
    Booking,
    CampaignInvitation,
    Child,
    Person,
    SampleMember,
    Vaccination,
)


async def people_of(session: AsyncSession, account_id: int) -> Sequence[Person]:
    """The people an account registered, oldest registration first."""
    result = await session.scalars(
        select(Person).where(Person.account_id == account_id).order_by(Person.id)
    )
    return result.all()


async def count_people(session: AsyncSession, account_id: int) -> int:
    """How many people an account registered."""
    count = await session.scalar(
        select(func.count()).select_from(Person).where(Person.account_id == account_id)
    )
    return int(count or 0)


async def get_person(session: AsyncSession, person_id: int) -> Person | None:
    """A person by id."""
    return await session.get(Person, person_id)


async def find_by_id_index(
    session: AsyncSession, id_index: str
) -> tuple[Person, Account | None] | None:
    """The person registered under an ID number's blind index, and the account holding them.

    The account is None for a person kept after their account was erased.
    """
    row = (
        await session.execute(
            select(Person, Account)
            .outerjoin(Account, Account.id == Person.account_id)
            .where(Person.id_index == id_index)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def move_person(session: AsyncSession, person: Person, *, to_account: int) -> None:
    """Give a person, their children and invitations to another account (a recovery case)."""
    await session.execute(
        update(Child).where(Child.parent_person_id == person.id).values(account_id=to_account)
    )
    await session.execute(
        update(CampaignInvitation)
        .where(CampaignInvitation.person_id == person.id)
        .values(account_id=to_account)
    )
    person.account_id = to_account
    await session.flush()


async def add_person(session: AsyncSession, person: Person) -> Person:
    """Store a new person and give them an id."""
    session.add(person)
    await session.flush()
    return person


async def erase_for_account(session: AsyncSession, account_id: int, *, now: datetime) -> None:
    """What erasing an account does to the people it registered.

    Active bookings are cancelled and their places freed; people without any dose or sample on
    record are deleted with their bookings; the others are kept for the medical record,
    detached from the account and without their contact phone.
    """
    registered = [p.id for p in await people_of(session, account_id)]
    if not registered:
        return
    active = (
        await session.execute(
            select(Booking.id, Booking.slot_id).where(
                Booking.person_id.in_(registered), Booking.status == ACTIVE
            )
        )
    ).all()
    for _booking_id, slot_id in active:
        await release_place(session, slot_id)
    await session.execute(
        update(Booking)
        .where(Booking.id.in_([booking_id for booking_id, _slot in active]))
        .values(status=CANCELLED, updated_at=now)
    )
    vaccinated = set(
        await session.scalars(
            select(Vaccination.person_id).where(Vaccination.person_id.in_(registered))
        )
    ) | set(
        await session.scalars(  # PCR samples are medical records too
            select(SampleMember.person_id).where(SampleMember.person_id.in_(registered))
        )
    )
    await session.execute(
        delete(Person).where(Person.id.in_([p for p in registered if p not in vaccinated]))
    )
    await session.execute(
        update(Person)
        .where(Person.id.in_(vaccinated))
        .values(account_id=None, phone_sealed=None, phone_index=None)
    )
