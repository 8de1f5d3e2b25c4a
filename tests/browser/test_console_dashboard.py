"""The live dashboard in Chromium: it updates after a booking without a reload, under the CSP.

With `CONSOLE_SCREENSHOTS=docs/screenshots` the dashboard is saved there, at 1366×768 and at
phone width, for docs/console.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest
from playwright.async_api import Browser
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.domain import booking
from bot.domain.booking import LEAD_TIME
from storage.models import (
    Account,
    Booking,
    Person,
    Sample,
    SampleMember,
    Slot,
    Ticket,
    Vaccination,
)
from tests.browser.test_console_pages import OFFICE, PHONE, open_page, shot, sign_in_by_keyboard
from tests.conftest import Clock
from tests.test_console_dashboard import BT, SG, person

PRODUCTS = (("Comirnaty", 38), ("Vaxigrip Tetra", 21), ("Gardasil 9", 12), ("Hexaxim", 7))


@pytest.fixture
async def served(settings: Settings, clock: Clock) -> AsyncIterator[tuple[Service, str]]:
    """The whole service (with its demo staff and sites), some figures, and its address."""
    svc: Service = build_service(settings, clock=clock)
    async with running(svc) as runner:
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        await seed_figures(svc)
        yield svc, f"http://{host}:{port}"


async def seed_figures(svc: Service) -> None:
    """A week of registrations, busy days ahead, doses, samples and tickets in two wards."""
    now = svc.clock()
    async with svc.db.session_scope() as session:
        people = [
            person(BT if i % 3 else SG, now - timedelta(days=i % 7, minutes=i)) for i in range(90)
        ]
        session.add_all(people)
        await session.flush()
        for i, (product, count) in enumerate(PRODUCTS):
            session.add_all(
                Vaccination(
                    person_id=people[j].id,
                    dose_number=1 + i,
                    product=product,
                    lot="L1",
                    given_on=date(2026, 12, 1),
                    site_id="hcm-benthanh",
                    source="site",
                )
                for j in range(count)
            )
        session.add_all(
            Sample(tube_code=f"T{i}", site_id="hcm-benthanh", taken_at=now - timedelta(hours=i))
            for i in range(6)
        )
        await add_results(session, people, now)
        await add_tickets(session, people, now)
        await add_past_day(session, people, now)
        slots = (await session.scalars(select(Slot).order_by(Slot.starts_at))).all()
        for slot in slots:
            share = (0.9, 0.75, 0.6, 1.0, 0.45, 0.3, 0.2)[slot.starts_at.toordinal() % 7]
            await session.execute(
                update(Slot)
                .where(Slot.id == slot.id)
                .values(booked=max(0, int(slot.capacity * share) - (share < 1)))
            )


async def add_results(session: AsyncSession, people: list[Person], now: datetime) -> None:
    """Four tubes with their result, their citizen told a little later."""
    for i in range(4):
        taken = now - timedelta(days=1, hours=i)
        tube = Sample(
            tube_code=f"R{i}",
            site_id="hcm-benthanh",
            taken_at=taken,
            result="negative",
            tested_at=taken + timedelta(hours=5 + i),
            lab="Lab",
            result_version=1,
        )
        session.add(tube)
        await session.flush()
        told = taken + timedelta(hours=5 + i, minutes=12)
        session.add(
            SampleMember(
                sample_id=tube.id,
                person_id=people[i + 1].id,
                token_id=f"r{i}",
                notified_version=1,
                notified_at=told,
            )
        )


async def add_tickets(session: AsyncSession, people: list[Person], now: datetime) -> None:
    """Three open tickets of Bến Thành citizens, one taken after 7 minutes."""
    for i, who in enumerate([p for p in people if p.ward_code == BT][:3]):
        account = Account(channel="telegram", chat_id=f"77{i}")
        session.add(account)
        await session.flush()
        who.account_id = account.id
        opened = now - timedelta(minutes=30 + i)
        claimed = opened + timedelta(minutes=7) if i == 0 else None
        session.add(
            Ticket(
                account_id=account.id,
                reason="?",
                opened_at=opened,
                claimed_at=claimed,
                claimed_by="An" if claimed else None,
                desk_channel="telegram",
                desk_chat_id="-1",
            )
        )


async def add_past_day(session: AsyncSession, people: list[Person], now: datetime) -> None:
    """A day last week: 20 appointments, 3 missed."""
    start = now - timedelta(days=5)
    slot = Slot(
        site_id="hcm-benthanh",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        capacity=30,
        booked=0,
    )
    session.add(slot)
    await session.flush()
    session.add_all(
        Booking(
            code=f"PAST{i:04d}",
            person_id=people[i].id,
            slot_id=slot.id,
            dose_number=1,
            status="missed" if i % 7 == 0 else "attended",
            created_at=start,
            updated_at=start,
        )
        for i in range(20)
    )


async def book_one(svc: Service) -> None:
    """A new person books a place, through the booking service."""
    async with svc.db.session_scope() as session:
        now = svc.clock()
        someone = person(BT, now)
        session.add(someone)
        await session.flush()
        slot = await session.scalar(
            select(Slot)
            .where(
                Slot.site_id == "hcm-benthanh",  # in the ward officer's ward
                Slot.starts_at > now + LEAD_TIME,
                Slot.booked < Slot.capacity,
            )
            .order_by(Slot.starts_at)
        )
        assert slot is not None
        made = await booking.book(
            session,
            person_id=someone.id,
            slot_id=slot.id,
            dose_number=1,
            screening={},
            needs_screening=False,
            now=now,
        )
        assert made is not None


@pytest.mark.parametrize(("viewport", "suffix"), [(OFFICE, "office"), (PHONE, "phone")])
async def test_the_dashboard_updates_after_a_booking_without_a_reload(
    chromium: Browser, served: tuple[Service, str], viewport: dict[str, int], suffix: str
) -> None:
    svc, base = served
    page, problems = await open_page(chromium, viewport)
    await sign_in_by_keyboard(page, base, "ward")
    await page.click("text=Số liệu trực tiếp trong phạm vi của bạn")
    await page.wait_for_url(f"{base}/console/dashboard")
    booked = int(await page.get_attribute("[data-booked]", "data-booked") or "0")
    await page.wait_for_selector("#figures[data-updates]", state="attached")  # the stream is live
    await shot(page, f"console-dashboard-{suffix}")
    await book_one(svc)
    await page.wait_for_selector(f"[data-booked='{booked + 1}']", timeout=10_000)
    assert "Sài Gòn" not in await page.inner_text("main")  # the ward officer's ward only
    await page.click("a.tile[href='/console/dashboard/pending']")
    await page.wait_for_url(f"{base}/console/dashboard/pending")
    assert await page.locator("tbody tr").count() == 6
    await shot(page, f"console-dashboard-pending-{suffix}")
    assert problems == []
