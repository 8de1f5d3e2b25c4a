"""Registration and booking end to end: over the Telegram emulator, and over the web chat API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.domain.ratelimit import KeyedLimiter
from bot.web.app_keys import POSTING
from storage.models import Booking, Person
from tests.chat import consent, labels, press_all, say_all, settle
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.registration_fixtures import add_sites
from tests.webchat import Browser, payload
from tests.webchat import labels as web_labels

CHAT = 4242
CODE = re.compile(r"\b([2-9A-HJKMNP-Z]{7})\b")


@pytest.fixture
async def service(telegram_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    # A generous per-chat rate: a form step answers with up to three messages.
    settings = replace(telegram_settings, chat_rate_per_s=100.0, chat_burst=100)
    svc = build_service(settings, clock=clock)
    async with running(svc):  # start-up seeds the demo sites and slots in HCMC
        yield svc


async def test_relative_registered_and_booked_over_telegram(
    service: Service, emulator: TelegramEmulator
) -> None:
    await consent(emulator, CHAT)
    (who,) = await say_all(service, emulator, CHAT, "đăng ký tiêm")
    assert labels(who) == ["Bản thân tôi", "Người thân"]
    await press_all(service, emulator, CHAT, who, "Người thân")
    await say_all(service, emulator, CHAT, "Trần Thị Bình")
    # One message per step: each echo opens the next question.
    (id_question,) = await say_all(service, emulator, CHAT, "15.03.1958")
    assert "Thứ Bảy, 15/03/1958" in id_question["text"] and "định danh" in id_question["text"]
    (phone_question,) = await say_all(service, emulator, CHAT, "079158000123")
    assert "Giới tính: Nữ (theo số định danh" in phone_question["text"]  # from the 4th digit
    # A relative's number is typed; a contact shared by someone else would be refused.
    replies = await say_all(service, emulator, CHAT, "(+84) 912 345 678")
    assert "+84 91* *** 678" in replies[0]["text"]
    await say_all(service, emulator, CHAT, "Sài Gòn")
    (group,) = await say_all(service, emulator, CHAT, "P. Bến Thành")
    # Buttons with the groups' names, the one her age suggests first (68: group 5).
    assert labels(group)[0].startswith("✓ ") and "65" in labels(group)[0]
    (screening,) = await press_all(service, emulator, CHAT, group, labels(group)[0])
    listed = [line for line in screening["text"].splitlines() if line.startswith("• ")]
    assert len(listed) == 8 and "mang thai" not in screening["text"]  # 68: not asked
    replies = await press_all(
        service, emulator, CHAT, screening, "Có hoặc không rõ: trả lời từng câu"
    )
    assert replies[-1]["text"].startswith("Câu 1/8")
    for _ in range(7):
        replies = await press_all(service, emulator, CHAT, replies[-1], "Không")
    replies = await press_all(service, emulator, CHAT, replies[-1], "Không rõ")
    assert any("khám sàng lọc kỹ" in r["text"] for r in replies)
    site = replies[-1]
    replies = await press_all(service, emulator, CHAT, site, labels(site)[0])
    replies = await press_all(service, emulator, CHAT, replies[-1], labels(replies[-1])[0])
    replies = await press_all(service, emulator, CHAT, replies[-1], labels(replies[-1])[0])
    summary = replies[-1]
    assert "Trần Thị Bình" in summary["text"] and "khám sàng lọc kỹ" in summary["text"]
    replies = await press_all(service, emulator, CHAT, summary, "Xác nhận")
    card, qr = replies
    code = CODE.search(card["text"])
    assert code and card["method"] == "sendMessage"
    assert qr["method"] == "sendPhoto" and qr["photo_bytes"].startswith(b"\x89PNG")
    assert code.group(1) in qr["caption"]
    async with service.db.read_scope() as session:
        person = await session.scalar(select(Person))
        booking = await session.scalar(select(Booking))
    assert person is not None and not person.is_holder and person.full_name == "Trần Thị Bình"
    assert booking is not None and booking.code == code.group(1) and booking.needs_screening


async def test_shared_contact_of_someone_else_is_refused(
    service: Service, emulator: TelegramEmulator
) -> None:
    await consent(emulator, CHAT)
    (who,) = await say_all(service, emulator, CHAT, "/dangky")
    await press_all(service, emulator, CHAT, who, "Bản thân tôi")
    await say_all(service, emulator, CHAT, "Nguyễn Văn An")
    await say_all(service, emulator, CHAT, "02/01/1990")
    replies = await say_all(service, emulator, CHAT, "079090012345")
    assert len(replies) == 1  # the question and its "share" keyboard in one message
    assert replies[-1]["params"]["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    before = len(emulator.sent(CHAT))
    emulator.user_contact(CHAT, "+84912345678", contact_user_id=999)
    (refusal,) = (await emulator.wait_for_sent(CHAT, before + 1))[before:]
    assert "của chính bạn" in refusal["text"]
    before = len(emulator.sent(CHAT))
    emulator.user_contact(CHAT, "+84912345678")
    replies = await settle(service, emulator, CHAT, before)
    assert len(replies) == 1 and "+84 91* *** 678" in replies[0]["text"]  # with the next question
    assert "tỉnh" in replies[0]["text"]


async def test_whole_journey_over_the_web_chat_api(svc: Service, clock: Clock) -> None:
    await add_sites(svc.db, clock())
    svc.web_app[POSTING] = KeyedLimiter(rate=1000.0, burst=1000)  # a fast typist, for the test
    async with TestClient(TestServer(svc.web_app)) as client:
        browser = Browser(client)
        await browser.open()
        await browser.say(text="/start")
        messages = await browser.say(payload=payload((await _last(browser)), "Tôi đồng ý"))
        for text in (
            "dang ky",
            None,
            "Le Van Cuong",
            None,  # keep the name as typed, without diacritics
            "1/1/1980",
            "079080001234",
            "0912345678",
            "ha noi",
        ):
            if text is None:  # the first button of the last message
                last = await _last(browser)
                messages = await browser.say(payload=payload(last, web_labels(last)[0]))
            else:
                messages = await browser.say(text=text)
        assert "Hà Nội" in messages[-1]["text"]
        messages = await browser.say(text="hoan kiem")
        assert "Phường Hoàn Kiếm" in messages[0]["text"]
        await browser.say(text="9")
        messages = await browser.say(text="ko")  # none of the 8 (a man: no pregnancy) apply
        assert "mang thai" not in messages[0]["text"]
        # No site in Hà Nội: the registration is saved without an appointment.
        summary = messages[-1]
        assert "chưa đặt được lịch hẹn" in summary["text"]
        messages = await browser.say(payload=payload(summary, "Xác nhận"))
        assert "Le Van Cuong" in messages[0]["text"]
    async with svc.db.read_scope() as session:
        person = await session.scalar(select(Person))
        assert person is not None and person.province_code == 1
        assert await session.scalar(select(Booking)) is None


async def _last(browser: Browser) -> dict:
    response = await browser.client.get("/api/chat/messages?after=0", headers=browser.headers)
    messages = (await response.json())["messages"]
    return messages[-1]


async def test_booking_over_the_web_chat_api_shows_the_qr_image(
    svc: Service, clock: Clock
) -> None:
    await add_sites(svc.db, clock())
    svc.web_app[POSTING] = KeyedLimiter(rate=1000.0, burst=1000)
    # No cookie jar: the browser carries its own cookie, and a request without it is a stranger.
    async with TestClient(TestServer(svc.web_app), cookie_jar=DummyCookieJar()) as client:
        browser = Browser(client)
        await browser.open()
        await browser.say(text="/start")
        await browser.say(payload=payload(await _last(browser), "Tôi đồng ý"))
        await browser.say(text="dk")
        await browser.say(payload=payload(await _last(browser), "Bản thân tôi"))
        for text in ("Pham Thi Dao", "co", "3/4/1985"):
            await browser.say(text=text)
        for text in ("079185000321", "0987654321", "sai gon", "ben thanh", "7", "khong"):
            await browser.say(text=text)
        for _ in range(3):  # the first site, day and time
            last = await _last(browser)
            await browser.say(payload=payload(last, web_labels(last)[0]))
        messages = await browser.say(payload=payload(await _last(browser), "Xác nhận"))
        card, qr = messages
        code = CODE.search(card["text"])
        assert code and code.group(1) in qr["text"]
        response = await client.get(qr["image"], headers=browser.headers)
        assert response.status == 200 and response.content_type == "image/png"
        assert (await response.read()).startswith(b"\x89PNG")
        stranger = await client.get(qr["image"])  # no cookie: not this chat's image
        assert stranger.status in (401, 403, 404)
