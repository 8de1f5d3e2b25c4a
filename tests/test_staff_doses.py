"""Site staff record a dose from the booking code, over the Telegram emulator."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.config import Settings
from storage import staff
from storage.models import AuditEvent, Booking, Slot, Vaccination
from tests.chat import consent, labels, press_all, say_all
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.quiet import quiet
from tests.registration_fixtures import book_first, fill_person
from tests.webchat import Citizen

STAFF_CHAT = 777
CODE = re.compile(r"\b([2-9A-HJKMNP-Z]{7})\b")


@pytest.fixture
async def service(telegram_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    settings = replace(telegram_settings, chat_rate_per_s=100.0, chat_burst=100)
    svc = build_service(settings, clock=clock)
    async with running(svc):  # start-up seeds the demo sites and slots in HCMC
        yield svc


async def booked_citizen(service: Service) -> tuple[Citizen, str]:
    citizen = Citizen(service)
    await citizen.consent()
    await fill_person(citizen)
    texts = await book_first(citizen)
    code = CODE.search(texts[0])
    assert code
    return citizen, code.group(1)


async def notices(citizen: Citizen) -> list[str]:
    """What the citizen was sent without writing, once the bot is done."""
    await quiet(citizen.svc)
    return [body["text"] for body in await citizen.replies()]


async def booked_site(service: Service) -> str:
    async with service.db.read_scope() as session:
        booking = await session.scalar(select(Booking))
        assert booking is not None
        slot = await session.get(Slot, booking.slot_id)
        assert slot is not None
        return slot.site_id


async def make_staff(service: Service, *sites: str) -> None:
    async with service.db.session_scope() as session:
        await staff.add_staff(
            session,
            channel="telegram",
            user_id=str(STAFF_CHAT),
            role="site_staff",
            name="Chị Lan",
            wards=[],
            sites=list(sites),
            now=service.clock(),
        )


async def test_site_staff_records_a_dose_and_the_citizen_is_told(
    service: Service, emulator: TelegramEmulator
) -> None:
    citizen, code = await booked_citizen(service)
    await make_staff(service, await booked_site(service))
    await consent(emulator, STAFF_CHAT)
    (identity,) = await say_all(service, emulator, STAFF_CHAT, f"/tiem {code.lower()}")
    assert "Nguyen Van An" in identity["text"] and "1990" in identity["text"]
    assert "0790******45" in identity["text"] and "079090012345" not in identity["text"]
    (products,) = await press_all(service, emulator, STAFF_CHAT, identity, "Đúng người")
    assert "AstraZeneca (Vaxzevria)" in labels(products)
    await press_all(service, emulator, STAFF_CHAT, products, "Pfizer-BioNTech (Comirnaty)")
    (done,) = await say_all(service, emulator, STAFF_CHAT, "FK1234")
    assert "Nguyen Van An" in done["text"] and "FK1234" in done["text"]
    async with service.db.read_scope() as session:
        dose = await session.scalar(select(Vaccination))
        booking = await session.scalar(select(Booking))
        audit = (await session.scalars(select(AuditEvent))).all()
    assert dose is not None and dose.dose_number == 1 and dose.product == "pfizer"
    assert booking is not None and booking.status == "attended"
    assert [a.action for a in audit] == ["dose_recorded"] and "Chị Lan" in audit[0].actor
    told = await notices(citizen)
    assert any("Mũi 1" in text and "Pfizer" in text for text in told), told
    # The same code again: nothing to record twice.
    (again,) = await say_all(service, emulator, STAFF_CHAT, code)
    assert "đã tiêm" in again["text"] or "đã được ghi nhận" in again["text"]


async def test_a_citizen_cannot_record_doses(service: Service, emulator: TelegramEmulator) -> None:
    _citizen, code = await booked_citizen(service)
    await consent(emulator, STAFF_CHAT)
    (reply,) = await say_all(service, emulator, STAFF_CHAT, f"/tiem {code}")
    assert "/tiem" in reply["text"] and code not in reply["text"]
    async with service.db.read_scope() as session:
        assert await session.scalar(select(Vaccination)) is None


async def test_staff_of_another_site_cannot_record(
    service: Service, emulator: TelegramEmulator
) -> None:
    _citizen, code = await booked_citizen(service)
    site = await booked_site(service)
    await make_staff(service, next(s for s in ("hcm-benthanh", "hcm-saigon") if s != site))
    await consent(emulator, STAFF_CHAT)
    (reply,) = await say_all(service, emulator, STAFF_CHAT, f"/tiem {code}")
    assert "Nguyen Van An" not in reply["text"]
    (wrong,) = await say_all(service, emulator, STAFF_CHAT, "ABCDEFG")
    assert "ABCDEFG" in wrong["text"]


async def test_site_staff_without_a_site_cannot_record(
    service: Service, emulator: TelegramEmulator
) -> None:
    _citizen, code = await booked_citizen(service)
    await make_staff(service)  # a role with no site in scope (only possible outside the CLI)
    await consent(emulator, STAFF_CHAT)
    (reply,) = await say_all(service, emulator, STAFF_CHAT, f"/tiem {code}")
    assert "Nguyen Van An" not in reply["text"]
