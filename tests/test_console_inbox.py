"""The support inbox over real HTTP: folders, claiming, replies reaching the citizen, notes,
canned responses, closing, escaping, a 10,000-ticket queue, scope and CSRF.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert, select

from bot.app import Service, build_service, running
from bot.config import ConfigError, Settings
from storage import staff
from storage import tickets as tickets_store
from storage.models import AuditEvent, OutboxMessage, Ticket
from tests.chat import consent, press, say
from tests.clock import Clock
from tests.console import StaffBrowser, add_sites, add_staff
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator
from tests.inbox import OTHER_WARD, WARD, add_ticket
from tests.quiet import quiet
from tests.remote import Remote
from tests.test_zalo_e2e import USER as ZALO_USER
from tests.test_zalo_e2e import consent as zalo_consent
from tests.test_zalo_e2e import say as zalo_say
from tests.test_zalo_e2e import serving as zalo_serving
from tests.webchat import Citizen

FORBIDDEN = "Ngoài phạm vi của bạn"
CHAT = 6101
# login -> (role, wards, sites)
STAFF = {
    "admin": ("admin", (), ()),
    "ward": ("ward_staff", (WARD,), ()),
    "other": ("ward_staff", (OTHER_WARD,), ()),
    "support": ("support", (), ()),
    "site": ("site_staff", (), ("hcm-benthanh",)),
    "lab": ("lab", (), ("hcm-saigon",)),
}


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    await add_sites(svc)
    for login, (role, wards, sites) in STAFF.items():
        await add_staff(svc, login, role, wards=wards, sites=sites)
    async with TestClient(TestServer(svc.web_app)) as client:
        yield client


async def signed_in(client: TestClient, login: str) -> StaffBrowser:
    browser = StaffBrowser(client)
    assert await browser.sign_in(login) == 303
    return browser


async def test_every_inbox_route_for_every_role(svc: Service, client: TestClient) -> None:
    ours = await add_ticket(svc)
    theirs = await add_ticket(svc, ward=OTHER_WARD, chat_id="5002")
    nobody = await add_ticket(svc, ward=None, chat_id="5003")
    routes = {
        "/console/inbox": {"admin", "ward", "other", "support"},
        "/console/inbox?folder=mine": {"admin", "ward", "other", "support"},
        f"/console/inbox/{ours}": {"admin", "ward", "support"},
        f"/console/inbox/{theirs}": {"admin", "other", "support"},
        f"/console/inbox/{nobody}": {"admin", "support"},
        "/console/canned": {"admin"},
    }
    for login in STAFF:
        browser = await signed_in(client, login)
        for path, allowed in routes.items():
            status = await browser.get(path)
            assert status == (200 if login in allowed else 403), (login, path)
            if status == 403:
                assert FORBIDDEN in browser.page
        await browser.get("/console/")
        assert ('href="/console/inbox"' in browser.page) == (login in routes["/console/inbox"])
        for action in ("claim", "note", "reply", "close", "assign"):
            await browser.get("/console/")
            status = await browser.post(f"/console/inbox/{theirs}/{action}", text="x")
            if login not in {"admin", "other", "support"}:
                assert status == 403, action
            else:  # the first of them closes the ticket: later replies are refused, kindly
                assert status in ((303, 409) if action == "reply" else (303,)), action
        await browser.get("/console/")
        assert await browser.post("/console/canned", title="t", body="b") == (
            303 if login == "admin" else 403
        )
    assert await StaffBrowser(client).get("/console/inbox") == 303  # nobody signed in


async def test_ward_staff_see_only_their_wards_tickets(svc: Service, client: TestClient) -> None:
    await add_ticket(svc, name="Người Phường Một")
    await add_ticket(svc, name="Người Phường Hai", ward=OTHER_WARD, chat_id="5002")
    ward = await signed_in(client, "ward")
    assert await ward.get("/console/inbox?folder=all") == 200
    assert "Người Phường Một" in ward.page and "Người Phường Hai" not in ward.page
    support = await signed_in(client, "support")
    await support.get("/console/inbox?folder=all")
    assert "Người Phường Một" in support.page and "Người Phường Hai" in support.page


async def test_folders_claim_and_assign(svc: Service, client: TestClient) -> None:
    first = await add_ticket(svc, name="Trần Thị Bình")
    late = await add_ticket(svc, name="Đỗ Văn Muộn", chat_id="5009", ago=timedelta(minutes=31))
    browser = await signed_in(client, "support")
    await browser.get("/console/inbox")
    assert "Trần Thị Bình" in browser.page  # unassigned
    # past the first-response target (30 minutes by default): marked, in the list and the page
    assert browser.page.count('class="breach"') == 1 and "Quá hạn" in browser.page
    assert f'<tr class="breach">\n<td><a href="/console/inbox/{late}">' in browser.page
    await browser.get(f"/console/inbox/{late}")
    assert "chậm hơn 30 phút" in browser.page
    await browser.get(f"/console/inbox/{first}")
    assert await browser.post(f"/console/inbox/{first}/claim") == 303
    await browser.get("/console/inbox")
    assert "Trần Thị Bình" not in browser.page
    await browser.get("/console/inbox?folder=mine")
    assert "Trần Thị Bình" in browser.page
    await browser.get(f"/console/inbox/{first}")
    assert await browser.post(f"/console/inbox/{first}/assign", to="console:admin") == 303
    await browser.get("/console/inbox?folder=mine")
    assert "Trần Thị Bình" not in browser.page
    admin = await signed_in(client, "admin")
    await admin.get("/console/inbox?folder=mine")
    assert "Trần Thị Bình" in admin.page
    async with svc.db.read_scope() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
        ticket = await session.get(Ticket, first)
    assert ticket is not None and ticket.holder == "console:admin"
    assert "ticket_claimed" in actions and "ticket_assigned" in actions


async def test_note_stays_inside_and_close_with_reason(svc: Service, client: TestClient) -> None:
    number = await add_ticket(svc)
    browser = await signed_in(client, "support")
    await browser.get(f"/console/inbox/{number}")
    assert await browser.post(f"/console/inbox/{number}/note", text="Gọi lại sau 14h") == 303
    await browser.get(f"/console/inbox/{number}")
    assert "Gọi lại sau 14h" in browser.page and "Ghi chú nội bộ" in browser.page
    async with svc.db.read_scope() as session:
        assert (await session.scalars(select(OutboxMessage))).all() == []  # nothing sent
    assert (
        await browser.post(f"/console/inbox/{number}/close", reason="duplicate", note="trùng")
        == 303
    )
    async with svc.db.read_scope() as session:
        ticket = await session.get(Ticket, number)
        (told,) = (await session.scalars(select(OutboxMessage))).all()
    assert ticket is not None
    assert (ticket.status, ticket.close_reason, ticket.close_note) == (
        "closed",
        "duplicate",
        "trùng",
    )
    assert told.body["text"].startswith("Nhân viên hỗ trợ đã kết thúc cuộc trò chuyện.")
    await browser.get(f"/console/inbox/{number}")
    assert "Trùng lặp" in browser.page
    async with svc.db.session_scope() as session:  # the citizen rates the help
        assert await tickets_store.rate(
            session, number, account_id=ticket.account_id or 0, rating=4, now=svc.clock()
        )
    await browser.get(f"/console/inbox/{number}")
    assert "★★★★☆ 4/5" in browser.page
    await browser.get("/console/inbox?folder=all")
    assert "★4" in browser.page
    # a reply to a closed ticket is refused, nothing sent
    await browser.get("/console/inbox")
    assert await browser.post(f"/console/inbox/{number}/reply", text="muộn") == 409


async def test_canned_responses_with_variables(svc: Service, client: TestClient) -> None:
    number = await add_ticket(svc, name="Lê Văn Cường")
    admin = await signed_in(client, "admin")
    await admin.get("/console/canned")
    body = "Chào {name}, mã lịch hẹn {booking_code} tại {site}."
    assert await admin.post("/console/canned", title="Chào hỏi", body=body) == 303
    await admin.get("/console/canned")
    assert await admin.post("/console/canned", title="Chào hỏi", body="again") == 422  # taken
    assert await admin.post("/console/canned", title="", body="x") == 422
    await admin.get(f"/console/inbox/{number}")
    option = admin.page.split('<option value="')[1].split('"')[0]
    await admin.get(f"/console/inbox/{number}?canned={option}")
    assert "Chào Lê Văn Cường, mã lịch hẹn  tại ." in admin.page  # no booking yet
    await admin.get("/console/canned")
    assert await admin.post("/console/canned", id=option, title="x", body="y", delete="1") == 303
    await admin.get("/console/canned")
    assert "Chào hỏi" not in admin.page


async def test_html_in_a_name_or_message_is_shown_escaped(
    svc: Service, client: TestClient
) -> None:
    number = await add_ticket(
        svc, name="<script>alert(1)</script>", text="<img src=x onerror=alert(2)>"
    )
    browser = await signed_in(client, "support")
    for path in ("/console/inbox", f"/console/inbox/{number}"):
        await browser.get(path)
        assert "<script>alert" not in browser.page and "<img src=x" not in browser.page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in browser.page
        assert "&lt;img src=x onerror=alert(2)&gt;" in browser.page


async def test_missing_or_wrong_csrf_is_refused(svc: Service, client: TestClient) -> None:
    number = await add_ticket(svc)
    browser = await signed_in(client, "support")
    await browser.get(f"/console/inbox/{number}")
    assert await browser.post(f"/console/inbox/{number}/note", csrf="", text="x") == 403
    assert await browser.post(f"/console/inbox/{number}/claim", csrf="forged") == 403
    async with svc.db.read_scope() as session:
        ticket = await session.get(Ticket, number)
    assert ticket is not None and ticket.claimed_by is None
    assert await browser.get("/console/inbox/999999") == 404
    assert await browser.get("/console/inbox/abc") == 404


async def test_ten_thousand_tickets_are_paged_fast(svc: Service, client: TestClient) -> None:
    now = svc.clock()
    rows: list[dict[str, Any]] = [
        {
            "status": "open" if n % 3 else "closed",
            "reason": f"Hỏi số {n}",
            "opened_at": now - timedelta(minutes=n),
            "desk_channel": "",
            "desk_chat_id": "",
            "ward_code": WARD,
        }
        for n in range(10_000)
    ]
    async with svc.db.session_scope() as session:
        await session.execute(insert(Ticket), rows)
    browser = await signed_in(client, "support")
    started = time.perf_counter()
    assert await browser.get("/console/inbox?folder=all") == 200
    assert "10000" in browser.page.replace(".", "")
    seen = browser.page.count('<tr class="breach">') + browser.page.count("<tr>\n<td>")
    assert seen == 50
    older = browser.page.split("before=")[1].split('"')[0]
    assert await browser.get(f"/console/inbox?folder=all&before={older}") == 200
    assert f"#{int(older) - 1}<" in browser.page and f"#{older}<" not in browser.page
    assert await browser.get("/console/inbox?folder=all&before=1") == 200
    assert "Chưa có phiếu nào ở đây." in browser.page
    assert time.perf_counter() - started < 5  # three pages, a generous bound for a slow CI


# ---------------------------------------------------------------- over the Telegram emulator


@pytest.fixture
async def remote(
    telegram_settings: Settings, clock: Clock
) -> AsyncIterator[tuple[Service, Remote]]:
    """The whole service, polling the emulator (no desk), and a client of its HTTP server."""
    svc = build_service(telegram_settings, clock=clock)
    async with running(svc) as runner:
        await add_staff(svc, "support", "support", name="Chị Hoa")
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        async with Remote(f"http://{host}:{port}") as client:
            yield svc, client


async def test_support_without_a_desk_reaches_the_console_and_the_reply_the_citizen(
    remote: tuple[Service, Remote], emulator: TelegramEmulator
) -> None:
    svc, client = remote
    await consent(emulator, CHAT)
    opened = await say(emulator, CHAT, "Hỗ trợ")
    assert opened["text"].startswith("Tôi đã nhờ nhân viên hỗ trợ giúp bạn (yêu cầu số 1).")
    emulator.user_text(CHAT, "Tôi muốn đổi lịch <b>tiêm</b>")
    await quiet(svc, emulator)
    browser = StaffBrowser(client)
    assert await browser.sign_in("support") == 303
    await browser.get("/console/inbox")
    assert "Tôi muốn đổi lịch &lt;b&gt;tiêm&lt;/b&gt;" in browser.page
    await browser.get("/console/inbox/1")
    before = len(emulator.sent(CHAT))
    assert await browser.post("/console/inbox/1/reply", text="Chào bạn, tôi giúp ngay.") == 303
    answer = (await emulator.wait_for_sent(CHAT, before + 1))[-1]
    assert answer["text"] == "💬 Nhân viên hỗ trợ: Chào bạn, tôi giúp ngay."
    await browser.get("/console/inbox/1")
    assert "Chào bạn, tôi giúp ngay." in browser.page and "Chị Hoa" in browser.page
    assert await browser.get("/console/inbox/1?lang=en") == 200
    assert "Reply to the citizen" in browser.page and "Support inbox" in browser.page
    assert await browser.get("/console/inbox?lang=vi") == 200
    assert await browser.post("/console/inbox/1/note", text="chỉ nội bộ") == 303
    await quiet(svc, emulator)
    assert len(emulator.sent(CHAT)) == before + 1  # the note was not sent
    async with svc.db.read_scope() as session:
        ticket = await session.get(Ticket, 1)
    assert ticket is not None and ticket.first_response_at is not None
    assert ticket.claimed_by and ticket.claimed_by.startswith("console:support Chị Hoa")
    await browser.get("/console/inbox/1")
    before = len(emulator.sent(CHAT))
    assert await browser.post("/console/inbox/1/close", reason="answered") == 303
    closing = (await emulator.wait_for_sent(CHAT, before + 1))[-1]
    assert closing["text"].startswith("Nhân viên hỗ trợ đã kết thúc cuộc trò chuyện.")
    thanks = await press(emulator, CHAT, closing, "5")
    assert thanks["text"] == "Cảm ơn bạn đã đánh giá!"
    await browser.get("/console/inbox/1")
    assert "★★★★★ 5/5" in browser.page and "Người dân đánh giá sự hỗ trợ 5/5" in browser.page


async def test_live_updates_stream_and_end_at_shutdown(
    telegram_settings: Settings, clock: Clock, emulator: TelegramEmulator
) -> None:
    svc = build_service(telegram_settings, clock=clock)
    async with running(svc) as runner:
        await add_staff(svc, "support", "support")
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        async with Remote(f"http://{host}:{port}") as client:
            browser = StaffBrowser(client)
            assert await browser.sign_in("support") == 303
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        session = ClientSession()
        stream = await session.get(
            f"http://{host}:{port}/console/inbox/events", headers={"Cookie": cookie}
        )
        assert stream.headers["Content-Type"] == "text/event-stream"
        assert (await stream.content.readline()).startswith(b"retry:")
        await stream.content.readline()
        assert (await stream.content.readline()).startswith(b"event: change")
        await stream.content.readline()
        await stream.content.readline()
        await add_ticket(svc)
        assert (await stream.content.readline()).startswith(b"event: change")
        started = time.perf_counter()
    assert time.perf_counter() - started < 3  # the open stream did not hold the stop up
    stream.close()
    await session.close()


# ---------------------------------------------------------------- with a Telegram desk

DESK = -1009990003
AGENT = 779


@pytest.fixture
async def desk_remote(
    telegram_settings: Settings, clock: Clock, emulator: TelegramEmulator
) -> AsyncIterator[tuple[Service, Remote]]:
    """The service with a forum desk, and a console agent who is also on the desk."""
    emulator.make_forum(DESK)
    settings = replace(
        telegram_settings, support_chat_id=str(DESK), telegram_group_rate_per_min=600
    )
    svc = build_service(settings, clock=clock)
    async with running(svc) as runner:
        await add_staff(svc, "support", "support", name="Chị Hoa")
        async with svc.db.session_scope() as session:
            await staff.add_staff(session, channel="telegram", user_id=str(AGENT), role="support",
                                  name="Anh Tú", wards=[], sites=[], now=svc.clock())  # fmt: skip
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        async with Remote(f"http://{host}:{port}") as client:
            yield svc, client


async def test_answered_in_one_place_shows_in_the_other(
    desk_remote: tuple[Service, Remote], emulator: TelegramEmulator
) -> None:
    svc, client = desk_remote
    await consent(emulator, CHAT)
    await say(emulator, CHAT, "gap nhan vien")
    topic, _header = (await emulator.wait_for_sent(DESK, 2, timeout=10))[:2]
    thread = topic["message_id"]
    browser = StaffBrowser(client)
    assert await browser.sign_in("support") == 303
    await browser.get("/console/inbox/1")
    before = len(emulator.sent(CHAT))
    assert await browser.post("/console/inbox/1/reply", text="Từ trình duyệt") == 303
    answer = (await emulator.wait_for_sent(CHAT, before + 1))[-1]
    assert answer["text"] == "💬 Nhân viên hỗ trợ: Từ trình duyệt"
    (mirrored,) = (await emulator.wait_for_sent(DESK, 3, timeout=10))[2:]
    assert mirrored["text"] == "💬 Chị Hoa (trang quản lý): Từ trình duyệt"
    assert mirrored["params"]["message_thread_id"] == thread
    before = len(emulator.sent(CHAT))
    emulator.group_message(DESK, user_id=AGENT, text="Từ Telegram", thread_id=thread)
    await emulator.wait_for_sent(CHAT, before + 1)
    await quiet(svc, emulator)
    await browser.get("/console/inbox/1")
    assert "Từ Telegram" in browser.page and "Anh Tú" in browser.page


# ---------------------------------------------------------------- web chat and Zalo, no desk


async def test_support_from_the_web_chat_reaches_the_console(
    settings: Settings, clock: Clock
) -> None:
    svc = build_service(settings, clock=clock)
    async with running(svc) as runner:
        await add_staff(svc, "support", "support", name="Chị Hoa")
        citizen = Citizen(svc, "web-citizen")
        await citizen.consent()
        (opened,) = await citizen.press("Hỗ trợ")
        assert opened.startswith("Tôi đã nhờ nhân viên hỗ trợ giúp bạn (yêu cầu số 1).")
        assert await citizen.say("Cho tôi hỏi về mũi 3") == []  # for staff, not the bot
        (host, port) = next(a for a in runner.addresses if len(a) == 2)
        async with Remote(f"http://{host}:{port}") as client:
            browser = StaffBrowser(client)
            assert await browser.sign_in("support") == 303
            await browser.get("/console/inbox")
            assert "Cho tôi hỏi về mũi 3" in browser.page
            await browser.get("/console/inbox/1")
            reply = "Mũi 3 cách mũi 2 sáu tháng."
            assert await browser.post("/console/inbox/1/reply", text=reply) == 303
        await quiet(svc)
        texts = [body["text"] for body in await citizen.replies()]
    assert texts == ["💬 Nhân viên hỗ trợ: Mũi 3 cách mũi 2 sáu tháng."]


async def test_support_from_zalo_reaches_the_console(
    zalo_settings: Settings, clock: Clock, zemu: ZaloEmulator
) -> None:
    async with zalo_serving(zalo_settings, clock, zemu) as svc:
        await add_staff(svc, "support", "support", name="Chị Hoa")
        await zalo_consent(svc, zemu)
        (opened,) = await zalo_say(svc, zemu, "Hỗ trợ")
        assert opened["text"].startswith("Tôi đã nhờ nhân viên hỗ trợ giúp bạn (yêu cầu số 1).")
        async with TestClient(TestServer(svc.web_app)) as client:
            browser = await signed_in(client, "support")
            await browser.get("/console/inbox")
            assert 'href="/console/inbox/1"' in browser.page
            await browser.get("/console/inbox/1")
            assert "zalo" in browser.page
            before = len(zemu.sent(ZALO_USER))
            assert await browser.post("/console/inbox/1/reply", text="Chào bạn") == 303
        await zemu.wait_for_sent(ZALO_USER, before + 1)
        assert zemu.sent(ZALO_USER)[-1]["text"] == "💬 Nhân viên hỗ trợ: Chào bạn"


@pytest.mark.parametrize(("value", "expected"), [("45", 45.0), (None, 30.0)])
def test_the_first_response_target_is_read(value: str | None, expected: float) -> None:
    env = {"CONSOLE_FIRST_RESPONSE_MINUTES": value} if value else {}
    assert Settings.from_env(env).console_first_response_minutes == expected


@pytest.mark.parametrize("value", ["0", "soon", "-5", "nan", "99999"])
def test_a_bad_first_response_target_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"CONSOLE_FIRST_RESPONSE_MINUTES": value})
    assert str(raised.value).startswith("CONSOLE_FIRST_RESPONSE_MINUTES")
