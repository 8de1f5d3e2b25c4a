"""People registered by an account (the holder and relatives), looked up by blind index."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Account, Person


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


async def find_by_id_index(session: AsyncSession, id_index: str) -> tuple[Person, Account] | None:
    """The person registered under an ID number's blind index, and the account holding them."""
    row = (
        await session.execute(
            select(Person, Account)
            .join(Account, Account.id == Person.account_id)
            .where(Person.id_index == id_index)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def add_person(session: AsyncSession, person: Person) -> Person:
    """Store a new person and give them an id."""
    session.add(person)
    await session.flush()
    return person
