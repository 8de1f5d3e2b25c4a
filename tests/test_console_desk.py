"""The dose desk in the console: finding, recording a dose, a no-show, a photo of the QR."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from sqlalchemy import select

from bot.app import Service
from bot.domain.booking import code_qr
from bot.i18n import TIMEZONE, local_day
from storage.models import AuditEvent, Booking, Certificate, Slot, Vaccination
from tests.console import StaffBrowser, add_staff, book_resident
from tests.fakes.telegram_api import TelegramEmulator
from tests.registration_fixtures import BEN_THANH, OTHER_SITE, SITE, add_sites

CHAT = 8001


async def desk_setup(svc: Service) -> None:
    """The two test sites, a slot at the Bến Thành site later today, and the desk's staff."""
    await add_sites(svc.db, svc.clock())
    today = local_day(svc.clock())
    async with svc.db.session_scope() as session:
        start = datetime.combine(today, time(15), TIMEZONE)
        session.add(
            Slot(
                site_id=SITE,
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                capacity=10,
                booked=0,
            )
        )
    await add_staff(svc, "desk", "site_staff", name="Chị Mai", sites=(SITE,))
    await add_staff(svc, "other", "site_staff", name="Anh Bảo", sites=(OTHER_SITE,))
    await add_staff(svc, "ward", "ward_staff", name="Chị Lan", wards=(BEN_THANH,))


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    await desk_setup(svc)
    async with TestClient(TestServer(svc.web_app)) as client:
        yield client


async def booking_of(svc: Service, person: int) -> Booking:
    async with svc.db.read_scope() as session:
        found = await session.scalar(select(Booking).where(Booking.person_id == person))
    assert found is not None
    return found


async def actions(svc: Service) -> list[str]:
    async with svc.db.read_scope() as session:
        return list(
            (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
        )


async def test_only_the_sites_staff_work_at_its_desk(client: TestClient) -> None:
    desk = StaffBrowser(client)
    await desk.sign_in("desk")
    assert await desk.get("/console/desk") == 303 and desk.location == f"/console/desk/{SITE}"
    assert await desk.get(f"/console/desk/{SITE}") == 200
    assert await desk.get(f"/console/desk/{OTHER_SITE}") == 403
    for login in ("ward", "other"):
        browser = StaffBrowser(client)
        await browser.sign_in(login)
        assert await browser.get(f"/console/desk/{SITE}") == 403, login
        assert await browser.get(f"/console/desk/{SITE}/bookings/K7Q9AB3") == 403, login


async def test_find_record_and_remember_the_lot(client: TestClient, svc: Service) -> None:
    person = await book_resident(svc, SITE, chat=None)
    booking = await booking_of(svc, person)
    desk = StaffBrowser(client)
    await desk.sign_in("desk")
    await desk.get(f"/console/desk/{SITE}")
    assert booking.code in desk.page and "Trần Thị Bình" in desk.page  # today's list
    for query in (
        booking.code.lower(),
        f"{booking.code[:3]} {booking.code[3:]}",
        "tran binh 1980",
        "BINH",
    ):
        assert await desk.get(f"/console/desk/{SITE}?q={query}") == 303, query
        assert desk.location == f"/console/desk/{SITE}/bookings/{booking.code}"
    await desk.get(f"/console/desk/{SITE}?q=binh 1990")
    assert "Không tìm thấy" in desk.page
    page = f"/console/desk/{SITE}/bookings/{booking.code}"
    assert await desk.get(page) == 200
    assert "Trần Thị Bình" in desk.page and "0791******34" in desk.page  # the ID number masked
    assert await desk.post(f"{page}/dose", product="no-such", lot="AB1234") == 422
    assert await desk.post(f"{page}/dose", product="astrazeneca", lot="<lot>") == 422
    assert 'role="alert"' in desk.page
    assert await desk.post(f"{page}/dose", product="astrazeneca", lot="AZ2026-01") == 303
    await desk.get(desk.location)
    assert "Đã ghi nhận mũi tiêm" in desk.page
    async with svc.db.read_scope() as session:
        dose = await session.scalar(select(Vaccination).where(Vaccination.person_id == person))
        certificate = await session.scalar(
            select(Certificate).where(Certificate.person_id == person)
        )
        attended = await session.get(Booking, booking.id)
    assert dose is not None and (dose.product, dose.lot, dose.dose_number) == (
        "astrazeneca",
        "AZ2026-01",
        1,
    )
    assert certificate is not None and attended is not None and attended.status == "attended"
    assert "dose_recorded" in await actions(svc)
    await desk.get(page)
    assert "Lịch hẹn này đã tiêm xong" in desk.page and "Ghi nhận mũi tiêm" not in desk.page
    assert await desk.post(f"{page}/dose", product="astrazeneca", lot="AZ2026-01") == 409
    second = await booking_of(svc, await book_resident(svc, SITE, chat=None, name="Lê Văn Cường"))
    await desk.get(f"/console/desk/{SITE}/bookings/{second.code}")
    assert 'value="AZ2026-01"' in desk.page  # the lot of the last dose at this desk


async def test_a_no_show_and_another_sites_booking(client: TestClient, svc: Service) -> None:
    booking = await booking_of(svc, await book_resident(svc, SITE, chat=None))
    elsewhere = await booking_of(
        svc, await book_resident(svc, OTHER_SITE, chat=None, name="Phạm Thu")
    )
    desk = StaffBrowser(client)
    await desk.sign_in("desk")
    await desk.get(f"/console/desk/{SITE}?q={elsewhere.code}")
    assert "dành cho điểm tiêm khác" in desk.page and "Phạm Thu" not in desk.page
    assert await desk.get(f"/console/desk/{SITE}/bookings/{elsewhere.code}") == 403
    await desk.get(f"/console/desk/{SITE}")
    path = f"/console/desk/{SITE}/bookings/{elsewhere.code}"
    assert await desk.post(f"{path}/dose", product="astrazeneca", lot="AB12") == 403
    await desk.get(f"/console/desk/{SITE}")
    assert await desk.post(f"{path}/no-show") == 403
    page = f"/console/desk/{SITE}/bookings/{booking.code}"
    await desk.get(page)
    assert await desk.post(f"{page}/no-show") == 303  # its time has not come yet
    await desk.get(desk.location)
    assert "chỉ khi đã đến giờ hẹn" in desk.page
    assert (await booking_of(svc, booking.person_id)).status == "booked"
    svc.clock.advance(timedelta(hours=7))  # type: ignore[attr-defined]  # past 15:00
    late = StaffBrowser(client)
    await late.sign_in("desk")
    await late.get(page)
    assert await late.post(f"{page}/no-show") == 303
    assert (await booking_of(svc, booking.person_id)).status == "missed"
    assert "booking_no_show" in await actions(svc)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def post_photo(desk: StaffBrowser, data: bytes) -> int:
    await desk.get(f"/console/desk/{SITE}")
    form = FormData()
    form.add_field("csrf", desk.csrf)
    form.add_field("photo", data, filename="qr.png", content_type="image/png")
    return await desk.request("POST", f"/console/desk/{SITE}/scan", data=form)


async def test_a_photo_of_the_booking_qr_opens_it(client: TestClient, svc: Service) -> None:
    booking = await booking_of(svc, await book_resident(svc, SITE, chat=None))
    desk = StaffBrowser(client)
    await desk.sign_in("desk")
    assert await post_photo(desk, code_qr(booking.code)) == 303
    assert desk.location == f"/console/desk/{SITE}/bookings/{booking.code}"
    assert await post_photo(desk, png(Image.new("RGB", (200, 200), "white"))) == 303
    await desk.get(desk.location)
    assert "Không tìm thấy mã đặt lịch trong ảnh này" in desk.page
    assert await post_photo(desk, b"%PDF-1.4 not a picture") == 303
    await desk.get(desk.location)
    assert "không phải ảnh" in desk.page


async def test_the_citizen_gets_the_dose_and_the_certificate_over_telegram(
    service: Service, emulator: TelegramEmulator
) -> None:
    await desk_setup(service)
    booking = await booking_of(service, await book_resident(service, SITE, chat=CHAT))
    async with TestClient(TestServer(service.web_app)) as client:
        desk = StaffBrowser(client)
        await desk.sign_in("desk")
        assert await post_photo(desk, code_qr(booking.code)) == 303
        await desk.get(desk.location)
        assert (
            await desk.post(
                f"/console/desk/{SITE}/bookings/{booking.code}/dose",
                product="pfizer",
                lot="FK1234",
            )
            == 303
        )
    sent = await emulator.wait_for_sent(CHAT, 2, timeout=15)
    assert "Mũi 1 của Trần Thị Bình đã được ghi nhận" in sent[0]["text"]
    assert sent[1]["method"] == "sendPhoto"  # the certificate's QR
