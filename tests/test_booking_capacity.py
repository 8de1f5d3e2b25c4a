"""Slot capacity holds under concurrency, on every engine: never a place more than there is.

Each booking attempt is its own `session_scope()` transaction, as in the bot. On PostgreSQL the
attempts really run side by side (the engine's pool hands out up to 20 connections, see
`storage.db`) and wait on the slot's row lock; on SQLite they queue on the write lock.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from bot.domain import booking as booking_service
from storage import bookings
from storage.db import Database
from storage.models import Account, Booking, Person, Site, Slot

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def make_slots(database: Database, capacities: list[int]) -> list[int]:
    """One site with one slot per capacity; the slots' ids."""
    async with database.session_scope() as session:
        session.add(
            Site(
                id="S1",
                name="Trạm y tế",
                address="1 Đường Láng",
                province_code=1,
                ward_code=1,
                active=True,
            )
        )
        slots = [
            Slot(
                site_id="S1",
                starts_at=NOW + timedelta(days=1, hours=i),
                ends_at=NOW + timedelta(days=1, hours=i, minutes=30),
                capacity=capacity,
                booked=0,
            )
            for i, capacity in enumerate(capacities)
        ]
        session.add_all(slots)
        await session.flush()
        return [slot.id for slot in slots]


async def make_people(database: Database, count: int) -> list[int]:
    """`count` people on one account, with dummy sealed values; their ids."""
    async with database.session_scope() as session:
        account = Account(channel="test", chat_id="1")
        session.add(account)
        await session.flush()
        people = [
            Person(
                account_id=account.id,
                full_name=f"Người {i}",
                birth_date=date(1990, 1, 1),
                gender="female",
                id_sealed=b"sealed",
                id_index=f"index-{i}",
                province_code=1,
                ward_code=1,
                divisions_version="2025",
                priority_group="none",
                is_holder=i == 0,
            )
            for i in range(count)
        ]
        session.add_all(people)
        await session.flush()
        return [person.id for person in people]


async def attempt(database: Database, person_id: int, slot_id: int) -> Booking | None:
    async with database.session_scope() as session:
        return await booking_service.book(
            session,
            person_id=person_id,
            slot_id=slot_id,
            dose_number=1,
            screening={},
            needs_screening=False,
            now=NOW,
        )


async def booked(database: Database, slot_id: int) -> int:
    async with database.read_scope() as session:
        return int(await session.scalar(select(Slot.booked).where(Slot.id == slot_id)) or 0)


async def active_count(database: Database, slot_id: int) -> int:
    async with database.read_scope() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.slot_id == slot_id, Booking.status == bookings.ACTIVE)
        )
        return int(count or 0)


def track_connections(database: Database) -> dict[str, int]:
    """The most pooled connections checked out at once, from now on."""
    counts = {"now": 0, "peak": 0}

    @event.listens_for(database.engine.sync_engine, "checkout")
    def checkout(*_: object) -> None:
        counts["now"] += 1
        counts["peak"] = max(counts["peak"], counts["now"])

    @event.listens_for(database.engine.sync_engine, "checkin")
    def checkin(*_: object) -> None:
        counts["now"] -= 1

    return counts


async def test_500_concurrent_attempts_fill_50_places_exactly(database: Database) -> None:
    [slot_id] = await make_slots(database, [50])
    people = await make_people(database, 500)
    connections = track_connections(database)

    results = await asyncio.gather(*(attempt(database, p, slot_id) for p in people))

    if not database.is_sqlite:  # the attempts really overlapped, on several connections
        assert connections["peak"] > 1

    made = [b for b in results if b is not None]
    assert len(made) == 50
    assert results.count(None) == 450
    assert len({b.code for b in made}) == 50
    assert await booked(database, slot_id) == 50
    assert await active_count(database, slot_id) == 50


async def test_cancelling_frees_the_place_at_once(database: Database) -> None:
    [slot_id] = await make_slots(database, [2])
    first, second, third = await make_people(database, 3)
    kept = await attempt(database, first, slot_id)
    await attempt(database, second, slot_id)
    assert kept is not None
    assert await attempt(database, third, slot_id) is None

    async with database.session_scope() as session:
        row = await session.get(Booking, kept.id)
        assert row is not None
        assert await booking_service.cancel(session, row, now=NOW)
    assert await booked(database, slot_id) == 1

    assert await attempt(database, third, slot_id) is not None
    assert await booked(database, slot_id) == 2
    assert await active_count(database, slot_id) == 2


async def test_moving_to_a_full_slot_fails_and_keeps_the_booking(database: Database) -> None:
    here, full, roomy = await make_slots(database, [5, 1, 3])
    mover, other = await make_people(database, 2)
    made = await attempt(database, mover, here)
    assert made is not None
    assert await attempt(database, other, full) is not None

    async with database.session_scope() as session:
        row = await session.get(Booking, made.id)
        assert row is not None
        assert not await booking_service.move(session, row, slot_id=full, now=NOW)

    async with database.read_scope() as session:
        row = await session.get(Booking, made.id)
        assert row is not None
        assert (row.slot_id, row.status, row.code) == (here, bookings.ACTIVE, made.code)
    assert [await booked(database, s) for s in (here, full, roomy)] == [1, 1, 0]

    # A move to a slot with room carries the place with it.
    async with database.session_scope() as session:
        row = await session.get(Booking, made.id)
        assert row is not None
        assert await booking_service.move(session, row, slot_id=roomy, now=NOW)
    assert [await booked(database, s) for s in (here, full, roomy)] == [0, 1, 1]
    assert await active_count(database, roomy) == 1


async def test_one_active_booking_per_person_and_dose(database: Database) -> None:
    first, second = await make_slots(database, [5, 5])
    [person] = await make_people(database, 1)
    made = await attempt(database, person, first)
    assert made is not None

    # The storage layer itself refuses a second active booking for the same dose, and the
    # place taken in the same transaction is rolled back with it.
    with pytest.raises(IntegrityError):
        await attempt(database, person, second)
    assert await booked(database, second) == 0

    # Another dose, or the same dose once the first booking is cancelled, is fine.
    async with database.session_scope() as session:
        assert await bookings.take_place(
            session, second, starts_after=datetime(2000, 1, 1, tzinfo=UTC)
        )
        await bookings.add_booking(
            session,
            Booking(
                code="DOSE2XX",
                person_id=person,
                slot_id=second,
                dose_number=2,
                status=bookings.ACTIVE,
                created_at=NOW,
                updated_at=NOW,
            ),
        )
    async with database.session_scope() as session:
        row = await session.get(Booking, made.id)
        assert row is not None
        assert await booking_service.cancel(session, row, now=NOW)
    assert await attempt(database, person, second) is not None
    assert await booked(database, first) == 0
    assert await booked(database, second) == 2


async def test_the_check_constraint_refuses_an_overbooking(database: Database) -> None:
    [slot_id] = await make_slots(database, [3])
    with pytest.raises(IntegrityError):
        async with database.session_scope() as session:
            await session.execute(
                text("UPDATE slots SET booked = capacity + 1 WHERE id = :id"), {"id": slot_id}
            )
    with pytest.raises(IntegrityError):
        async with database.session_scope() as session:
            await session.execute(
                text("UPDATE slots SET booked = -1 WHERE id = :id"), {"id": slot_id}
            )
    assert await booked(database, slot_id) == 0
