"""The support inbox in Chromium: answers reach the citizen, new tickets appear by themselves.

A ticket answered from the console reaches the citizen over the Telegram emulator, and a new
ticket (or a citizen's new message) appears in the open page without a reload.

With `CONSOLE_SCREENSHOTS=docs/screenshots` the inbox's pages are saved there (1366×768, phone).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser

from bot.app import Service, build_service, running
from bot.config import Settings
from storage.models import CannedResponse
from tests.browser.test_console_pages import OFFICE, PHONE, open_page, shot, sign_in_by_keyboard
from tests.chat import consent, say
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.inbox import OTHER_WARD, add_ticket

CHAT, SECOND = 6201, 6202
OPENED = "Tôi đã nhờ nhân viên hỗ trợ giúp bạn"


@pytest.fixture
async def served(telegram_settings: Settings, clock: Clock) -> AsyncIterator[tuple[Service, str]]:
    """The whole service on the emulator, no Telegram desk (the console has the tickets)."""
    svc = build_service(telegram_settings, clock=clock)
    async with running(svc) as runner:
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        yield svc, f"http://{host}:{port}"


async def _seed(svc: Service) -> None:
    """A queue worth looking at: a late ticket, a name with HTML in it, a canned response."""
    await add_ticket(
        svc,
        name="Trần Thị Bình",
        text="Tôi đặt nhầm ngày tiêm cho mẹ, sửa giúp tôi được không ạ?",
        chat_id="7001",
        reason="Cần giúp khi đang đặt lịch tiêm",
        ago=timedelta(minutes=52),
    )
    await add_ticket(
        svc,
        name="<b>Lê Văn Cường</b>",
        text="Mã đặt lịch của tôi không hiện",
        chat_id="7002",
        ward=OTHER_WARD,
        ago=timedelta(minutes=12),
    )
    async with svc.db.session_scope() as session:
        session.add(
            CannedResponse(
                title="Xác nhận lịch hẹn",
                body="Chào {name}, lịch hẹn {booking_code} tại {site} vẫn giữ nguyên ạ.",
                updated_by="admin",
                updated_at=svc.clock(),
            )
        )


@pytest.mark.parametrize(("viewport", "suffix"), [(OFFICE, "office"), (PHONE, "phone")])
async def test_a_ticket_answered_from_the_console_reaches_the_citizen(
    chromium: Browser,
    served: tuple[Service, str],
    emulator: TelegramEmulator,
    viewport: dict[str, int],
    suffix: str,
) -> None:
    svc, site = served
    await _seed(svc)
    await consent(emulator, CHAT)
    assert (await say(emulator, CHAT, "Hỗ trợ"))["text"].startswith(OPENED)
    emulator.user_text(CHAT, "Cho tôi hỏi lịch tiêm nhắc lại của con <script>x</script>")
    page, problems = await open_page(chromium, viewport)
    await sign_in_by_keyboard(page, site, "admin")
    await page.get_by_role("link", name="Hộp thư hỗ trợ", exact=True).first.click()
    await page.get_by_role("heading", name="Hộp thư hỗ trợ").wait_for()
    await page.get_by_role("link", name="#3", exact=True).wait_for()
    assert "&lt;script&gt;x&lt;/script&gt;" in await page.content()  # shown as text, escaped
    await shot(page, f"console-inbox-{suffix}")

    # a new ticket appears without a reload
    await page.evaluate("window.notReloaded = true")
    await consent(emulator, SECOND)
    emulator.user_text(SECOND, "gap nhan vien")
    await page.get_by_text("Chưa đăng ký").nth(1).wait_for(timeout=10_000)
    assert await page.evaluate("window.notReloaded") is True

    await page.get_by_role("link", name="#3", exact=True).click()
    await page.get_by_role("heading", name="Phiếu #3").wait_for()
    before = len(emulator.sent(CHAT))
    await page.get_by_label("Tin nhắn (gửi qua kênh của người dân)").fill(
        "Chào bạn, con bạn tiêm nhắc lại lúc 18 tháng tuổi ạ."
    )
    await page.get_by_role("button", name="Gửi", exact=True).click()
    answer = (await emulator.wait_for_sent(CHAT, before + 1))[-1]
    assert (
        answer["text"]
        == "💬 Nhân viên hỗ trợ: Chào bạn, con bạn tiêm nhắc lại lúc 18 tháng tuổi ạ."
    )
    await page.get_by_label("Ghi chú nội bộ (không bao giờ gửi cho người dân)").fill(
        "Đã kiểm tra sổ tiêm, chưa cần gọi lại."
    )
    await page.get_by_role("button", name="Thêm ghi chú").click()
    await page.get_by_text("Đã kiểm tra sổ tiêm").wait_for()
    # the citizen writes again: the conversation shows it without a reload
    await page.evaluate("window.notReloaded = true")
    emulator.user_text(CHAT, "Cảm ơn bạn nhiều!")
    await page.get_by_text("Cảm ơn bạn nhiều!").wait_for(timeout=10_000)
    assert await page.evaluate("window.notReloaded") is True
    await shot(page, f"console-inbox-ticket-{suffix}")
    assert len(emulator.sent(CHAT)) == before + 1  # the note went to nobody
    assert problems == []  # no CSP violation, no script error


async def test_canned_responses_page(chromium: Browser, served: tuple[Service, str]) -> None:
    svc, site = served
    await _seed(svc)
    page, problems = await open_page(chromium, OFFICE)
    await sign_in_by_keyboard(page, site, "admin")
    await page.goto(f"{site}/console/inbox/1?canned=1")
    text = await page.get_by_label("Tin nhắn (gửi qua kênh của người dân)").input_value()
    assert text == "Chào Trần Thị Bình, lịch hẹn  tại  vẫn giữ nguyên ạ."
    await page.goto(f"{site}/console/canned")
    await shot(page, "console-inbox-canned-office")
    assert problems == []
