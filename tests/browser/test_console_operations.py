"""The console's operations in Chromium, each received by a citizen over the Telegram emulator.

A day closed at a site, an announcement sent, a dose recorded from a photo of the booking QR.

With `CONSOLE_SCREENSHOTS=docs/screenshots` the pages are saved there (docs/console.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.domain.booking import code_qr
from bot.i18n import local_day
from storage.models import Booking, Slot
from tests.browser.test_console_pages import OFFICE, PHONE, open_page, shot, sign_in_by_keyboard
from tests.conftest import Clock
from tests.console import book_resident
from tests.fakes.telegram_api import TelegramEmulator

CHAT = 7001


@pytest.fixture
async def served(telegram_settings: Settings, clock: Clock) -> AsyncIterator[tuple[Service, str]]:
    """The whole service (demo staff and sites) polling the Telegram emulator, and its address."""
    svc = build_service(telegram_settings, clock=clock)
    async with running(svc) as runner:
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        yield svc, f"http://{host}:{port}"


async def test_a_ward_officer_closes_a_day_and_the_citizen_is_told(
    chromium: Browser, served: tuple[Service, str], emulator: TelegramEmulator
) -> None:
    svc, base = served
    person = await book_resident(svc, "hcm-benthanh", chat=CHAT)
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(Booking).where(Booking.person_id == person))
        assert booking is not None
        slot = await session.get(Slot, booking.slot_id)
    assert slot is not None
    day = local_day(slot.starts_at)
    page, problems = await open_page(chromium, OFFICE)
    await sign_in_by_keyboard(page, base, "ward")
    await page.goto(f"{base}/console/sites/hcm-benthanh")
    await page.get_by_role("heading", name="Thêm lịch theo mẫu").wait_for()
    await shot(page, "console-site-office")
    await page.locator(f"a[href='/console/sites/hcm-benthanh/days/{day.isoformat()}']").click()
    await page.get_by_text("1 lịch hẹn sẽ bị hủy").wait_for()
    await shot(page, "console-site-day-office")
    await page.get_by_role("button", name="Tạm ngừng ngày này").click()
    assert page.url.endswith(f"/days/{day.isoformat()}")  # the box must be ticked first
    await page.get_by_label("Đúng, điểm tiêm tạm ngừng trong ngày này").check()
    await page.get_by_role("button", name="Tạm ngừng ngày này").click()
    await page.get_by_text("1 lịch hẹn đã hủy, 1 người dân đã được báo").wait_for()
    await shot(page, "console-site-day-closed-office")
    (told,) = await emulator.wait_for_sent(CHAT, 1)
    assert f"lịch hẹn {booking.code} của Trần Thị Bình đã được hủy" in told["text"]
    assert problems == []


@pytest.mark.parametrize(("viewport", "suffix"), [(OFFICE, "office"), (PHONE, "phone")])
async def test_an_announcement_is_previewed_sent_and_reported(
    chromium: Browser,
    served: tuple[Service, str],
    emulator: TelegramEmulator,
    viewport: dict[str, int],
    suffix: str,
) -> None:
    svc, base = served
    await book_resident(svc, "hcm-benthanh", chat=CHAT)
    page, problems = await open_page(chromium, viewport)
    await sign_in_by_keyboard(page, base, "ward")
    await page.get_by_role("link", name="Thông báo", exact=True).click()
    await page.get_by_role("link", name="Soạn thông báo").click()
    text = "Chủ Nhật này trạm y tế tiêm vắc xin từ 7 giờ 30."
    await page.get_by_label("Nội dung (tối đa 1.000 ký tự)").fill(text)
    await page.get_by_role("button", name="Đếm người nhận và xem trước").click()
    await page.get_by_text("1 người sẽ nhận được thông báo này.").wait_for()
    assert await page.locator(".phone").count() == 2
    await shot(page, f"console-announcement-preview-{suffix}")
    await page.get_by_role("button", name="Gửi cho 1 người").click()
    await page.get_by_role("heading", name="Thông báo #").wait_for()
    (received,) = await emulator.wait_for_sent(CHAT, 1)
    assert text in received["text"]
    # the page reloads itself while sending (every 5 s), until the report is final
    await page.get_by_text("Đã gửi: 1", exact=True).wait_for(timeout=20_000)
    await shot(page, f"console-announcement-report-{suffix}")
    assert problems == []


async def test_a_dose_is_recorded_from_a_photo_of_the_qr_and_the_certificate_sent(
    chromium: Browser,
    served: tuple[Service, str],
    emulator: TelegramEmulator,
    tmp_path: Path,
) -> None:
    svc, base = served
    person = await book_resident(svc, "hcm-benthanh", chat=CHAT)
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(Booking).where(Booking.person_id == person))
    assert booking is not None
    photo = tmp_path / "qr.png"
    photo.write_bytes(code_qr(booking.code))
    page, problems = await open_page(chromium, OFFICE)
    await sign_in_by_keyboard(page, base, "desk")
    await page.get_by_role("link", name="Bàn tiêm", exact=True).click()
    await page.get_by_role("heading", name="Bàn tiêm · Trạm Y tế phường Bến Thành").wait_for()
    await shot(page, "console-desk-office")
    await page.get_by_label("Hoặc ảnh chụp mã QR đặt lịch").set_input_files(str(photo))
    await page.get_by_role("button", name="Đọc ảnh").click()
    await page.get_by_role("heading", name="Trần Thị Bình").wait_for()
    await page.get_by_label("Vắc xin đã tiêm").select_option("pfizer")
    await page.get_by_label("Số lô (in trên lọ vắc xin)").fill("FK1234")
    await shot(page, "console-desk-booking-office")
    await page.get_by_role("button", name="Ghi nhận mũi tiêm").click()
    await page.get_by_text("Đã ghi nhận mũi tiêm. Người dân đã được báo").wait_for()
    sent = await emulator.wait_for_sent(CHAT, 2, timeout=15)
    assert "Trần Thị Bình" in sent[0]["text"] and sent[1]["method"] == "sendPhoto"
    assert problems == []
