"""Half the taps (issue 16 item 3): each flow walked on Telegram, the citizen's answers counted.

Walked the same way before the change: a first registration with a booking took 22 answers,
a relative 22, the next dose of a registered person 14; a certificate sent again 2.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.config import Settings
from storage.models import Booking, Person
from tests.chat import consent
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.quiet import quiet
from tests.registration_fixtures import give_first_dose
from tests.taps import Person as Answers
from tests.taps import Walker, walk_registration

CHAT = 1616
CODE = re.compile(r"\b([2-9A-HJKMNP-Z]{7})\b")
AN = Answers("Nguyễn Văn An", "02/01/1990", "Nam", "079090012345", "+84912345678")
BINH = Answers("Trần Thị Bình", "15/03/1958", "Nữ", "079158000123", "0912345678")


@pytest.fixture
async def service(telegram_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    settings = replace(telegram_settings, chat_rate_per_s=100.0, chat_burst=100)
    svc = build_service(settings, clock=clock)
    async with running(svc):  # start-up seeds the demo sites and slots in HCMC
        yield svc


@pytest.fixture
async def walker(service: Service, emulator: TelegramEmulator) -> Walker:
    await consent(emulator, CHAT)
    return Walker(service, emulator, CHAT)


async def dose_given(service: Service, walker: Walker, given: date) -> None:
    """Dose 1 recorded for An, and its notice and certificate sent before the walk goes on."""
    await give_first_dose(service, service.clock(), given, "hcm-benthanh", name=AN.name)
    service.renderer.wake()
    await service.renderer.idle()
    await quiet(service, walker.emu)


async def bookings_of(service: Service, name: str) -> list[Booking]:
    async with service.db.read_scope() as session:
        person = await session.scalar(select(Person).where(Person.full_name == name))
        assert person is not None
        return list(await session.scalars(select(Booking).where(Booking.person_id == person.id)))


async def test_first_registration_with_a_booking(walker: Walker, service: Service) -> None:
    last = await walk_registration(walker, AN, "Bản thân tôi")
    assert CODE.search(walker.text()) and "Đặt lịch thành công" in walker.text(), last
    assert len(await bookings_of(service, AN.name)) == 1

    assert walker.answers <= 16, walker.answers
    # One message per step (the echo joins the next question); the card comes with its QR.
    assert walker.messages == [1] * (walker.answers - 1) + [2], walker.messages


async def test_a_relative(walker: Walker, service: Service) -> None:
    await walk_registration(walker, AN, "Bản thân tôi")
    walker.answers, walker.messages = 0, []
    await walk_registration(walker, BINH, "Người thân")
    assert "Đặt lịch thành công" in walker.text()
    async with service.db.read_scope() as session:
        binh = await session.scalar(select(Person).where(Person.full_name == BINH.name))
    assert binh is not None and (binh.province_code, binh.ward_code) == (79, 26743)

    assert walker.answers <= 12, walker.answers
    assert walker.messages == [1] * (walker.answers - 1) + [2], walker.messages


async def test_next_dose_of_a_registered_person(
    walker: Walker, service: Service, clock: Clock
) -> None:
    await walk_registration(walker, AN, "Bản thân tôi")
    given = clock().date() - timedelta(days=90)
    await dose_given(service, walker, given)
    walker.answers, walker.messages = 0, []
    await walk_registration(walker, AN, AN.name)
    assert "Đặt lịch thành công" in walker.text() and "mũi 2" in walker.text()

    assert walker.answers <= 6, walker.answers
    assert walker.messages == [1] * (walker.answers - 1) + [2], walker.messages


async def test_a_certificate_sent_again(walker: Walker, service: Service, clock: Clock) -> None:
    await walk_registration(walker, AN, "Bản thân tôi")
    given = clock().date() - timedelta(days=90)
    await dose_given(service, walker, given)
    walker.answers, walker.messages = 0, []
    await walker.say("giấy chứng nhận")
    sent = await walker.press("Gửi lại: 1")
    assert [m["method"] for m in sent] == ["sendPhoto"]  # the certificate itself

    assert walker.answers <= 2, walker.answers
