"""The web chat over HTTP, with the sender running: what a browser sends and reads back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Service, build_service
from bot.config import Settings
from bot.web.chat import MAX_WAIT_S
from storage import outbox
from storage.outbox import NewMessage
from tests.conftest import Clock
from tests.quiet import eventually
from tests.webchat import MENU, THANKS, WELCOME, Browser, labels, payload


@pytest.fixture
async def svc(settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    service = build_service(settings, clock=clock)
    await service.db.migrate()
    sender = asyncio.create_task(service.sender.run())
    yield service
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sender
    await service.db.dispose()


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    # No cookie jar: each Browser below carries its own cookie, as separate browsers would.
    async with TestClient(TestServer(svc.web_app), cookie_jar=DummyCookieJar()) as test_client:
        yield test_client


async def test_chat_page_is_vietnamese_and_sets_a_private_cookie(client: TestClient) -> None:
    response = await client.get("/chat")
    page = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert '<html lang="vi">' in page and "Trợ lý sức khỏe công dân" in page
    assert "Nhập tin nhắn…" in page and "{{" not in page
    cookie = response.cookies["chat_session"]
    assert cookie["httponly"] is True and cookie["samesite"] == "Strict"
    assert len(cookie.value) >= 20
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    again = await client.get("/chat", headers={"Cookie": f"chat_session={cookie.value}"})
    assert "chat_session" not in again.cookies


@pytest.mark.parametrize("accept_language", ["en", "en-US,en;q=0.9", "fr-FR", "vi-VN,vi;q=0.9"])
async def test_chat_page_is_vietnamese_whatever_the_browser_language(
    client: TestClient, accept_language: str
) -> None:
    page = await Browser(client).open(**{"Accept-Language": accept_language})
    assert '<html lang="vi">' in page and "Trợ lý sức khỏe công dân" in page
    assert 'href="/chat?lang=en"' in page and ">English</a>" in page


async def test_language_switch_is_remembered(client: TestClient) -> None:
    response = await client.get("/chat?lang=en")
    page = await response.text()
    assert '<html lang="en">' in page and "Citizen health assistant" in page
    assert ">Tiếng Việt</a>" in page
    assert response.cookies["chat_lang"].value == "en"
    again = await client.get("/chat", headers={"Cookie": "chat_lang=en"})
    assert '<html lang="en">' in await again.text()
    back = await client.get("/chat?lang=vi")
    assert '<html lang="vi">' in await back.text()
    nonsense = await client.get("/chat?lang=xx", headers={"Cookie": "chat_lang=xx"})
    assert '<html lang="vi">' in await nonsense.text()


async def test_start_then_consent_with_buttons(client: TestClient) -> None:
    browser = Browser(client)
    await browser.open()
    (welcome,) = await browser.say(text="/start")
    assert welcome["text"].startswith(WELCOME)
    assert labels(welcome) == ["Tôi đồng ý", "Không đồng ý"]
    assert (welcome["image"], welcome["request_phone"]) == (None, False)
    (menu,) = await browser.say(payload=payload(welcome, "Tôi đồng ý"))
    assert (menu["text"], labels(menu)) == (THANKS, MENU)
    (entry,) = await browser.say(payload=payload(menu, "Hỗ trợ"))
    assert entry["text"].startswith("Hiện chưa thể kết nối với nhân viên hỗ trợ")
    browser.after = 0
    assert [m["id"] for m in await browser.read()] == sorted(
        [welcome["id"], menu["id"], entry["id"]]
    )


async def waiting(svc: Service) -> None:
    """Until a browser's long poll waits in the server (a request in progress: no event)."""

    async def polling() -> bool:
        return svc.web_channel.listeners > 0

    await eventually(polling, timeout=10)


async def test_long_poll_returns_as_soon_as_a_reply_arrives(
    svc: Service, client: TestClient
) -> None:
    browser = Browser(client)
    await browser.open()
    poll = asyncio.create_task(browser.read(wait=MAX_WAIT_S))
    await waiting(svc)
    assert not poll.done()
    assert await browser.post(text="/help") == 200
    (reply,) = await asyncio.wait_for(poll, MAX_WAIT_S / 2)  # woken, not at its deadline
    assert reply["text"].startswith("Bạn có thể dùng các lệnh sau:")


async def test_long_poll_without_replies_returns_empty_after_wait(
    svc: Service, client: TestClient
) -> None:
    browser = Browser(client)
    await browser.open()
    poll = asyncio.create_task(browser.read(wait=1))
    await waiting(svc)  # it waits for a reply...
    assert await poll == []  # ...until its deadline, with none


async def test_the_same_message_id_twice_gets_one_reply(client: TestClient) -> None:
    browser = Browser(client)
    await browser.open()
    assert await browser.post(id="m-retry", text="/start") == 200
    assert await browser.post(id="m-retry", text="/start") == 200
    assert [m["text"][:42] for m in await browser.read()] == [WELCOME]


async def test_two_browsers_may_use_the_same_message_id(client: TestClient) -> None:
    first, second = Browser(client), Browser(client)
    await first.open()
    await second.open()
    assert first.token != second.token
    (welcome,) = await first.say(id="1", text="/start")
    assert welcome["text"].startswith(WELCOME)
    assert [m["text"][:42] for m in await second.say(id="1", text="/start")] == [WELCOME]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"{not json", "body must be JSON"),
        (b"\xff\xfe", "body must be JSON"),
        (b'["/start"]', "expected a JSON object"),
        (b'{"text": "/start"}', "id must be a string of 1-64 characters"),
        (b'{"id": 7, "text": "/start"}', "id must be a string of 1-64 characters"),
        (b'{"id": "' + b"x" * 65 + b'", "text": "hi"}', "id must be a string of 1-64 characters"),
        (b'{"id": "m1"}', "text or payload is required"),
        (b'{"id": "m1", "text": "hi", "language": 5}', "language must be a string"),
    ],
    ids=["bad-json", "not-utf8", "array", "no-id", "numeric-id", "long-id", "no-text", "language"],
)
async def test_bad_post_is_a_400_json_error(client: TestClient, data: bytes, error: str) -> None:
    browser = Browser(client)
    await browser.open()
    response = await client.post("/api/chat/messages", data=data, headers=browser.headers)
    assert response.status == 400
    assert await response.json() == {"error": error}
    assert await browser.read() == []


@pytest.mark.parametrize(
    "cookie", [None, "short", "x" * 19 + "!"], ids=["no-cookie", "too-short", "bad-character"]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/chat/messages"),
        ("GET", "/api/chat/messages?after=0"),
        ("GET", "/api/chat/images/1"),
    ],
    ids=["post", "read", "image"],
)
async def test_without_a_session_cookie_is_401(
    client: TestClient, cookie: str | None, method: str, path: str
) -> None:
    headers = {"Cookie": f"chat_session={cookie}"} if cookie else {}
    response = await client.request(
        method, path, json={"id": "m1", "text": "/start"}, headers=headers
    )
    assert response.status == 401
    assert await response.json() == {"error": "open /chat first"}


@pytest.mark.parametrize("query", ["after=abc", "wait=soon", "after=1.5"])
async def test_bad_read_parameters_are_400(client: TestClient, query: str) -> None:
    browser = Browser(client)
    await browser.open()
    response = await client.get(f"/api/chat/messages?{query}", headers=browser.headers)
    assert response.status == 400
    assert await response.json() == {"error": "after and wait must be numbers"}


async def test_health_and_root(client: TestClient) -> None:
    health = await client.get("/healthz")
    assert (health.status, await health.json()) == (200, {"status": "ok"})
    root = await client.get("/", allow_redirects=False)
    assert (root.status, root.headers["Location"]) == (302, "/chat")


async def test_images_are_served_only_to_their_own_chat(
    client: TestClient, svc: Service, clock: Clock
) -> None:
    browser = Browser(client)
    await browser.open()
    my_chat = svc.protector.blind_index("webchat", browser.token)[:40]
    async with svc.db.session_scope() as session:
        mine, theirs = await outbox.enqueue(
            session,
            [
                NewMessage("web", my_chat, {"text": "Mã QR của bạn"}, image=b"\x89PNG mine"),
                NewMessage("web", "someone-else", {"text": "QR"}, image=b"\x89PNG theirs"),
            ],
            now=clock(),
            lease_until=clock(),
        )
    (message,) = await browser.read()
    assert (message["text"], message["image"]) == ("Mã QR của bạn", f"/api/chat/images/{mine}")
    own = await client.get(message["image"], headers=browser.headers)
    assert (own.status, own.content_type, await own.read()) == (200, "image/png", b"\x89PNG mine")
    other = await client.get(f"/api/chat/images/{theirs}", headers=browser.headers)
    assert other.status == 404
    missing = await client.get(f"/api/chat/images/{theirs + 100}", headers=browser.headers)
    assert missing.status == 404


@pytest.mark.parametrize("path", ["/api/chat/messages?after=", "/api/chat/images/"])
async def test_huge_ids_are_not_server_errors(
    client: TestClient, db_url: str, request: pytest.FixtureRequest, path: str
) -> None:
    browser = Browser(client)
    await browser.open()
    response = await client.get(f"{path}99999999999", headers=browser.headers)
    assert response.status in (200, 400, 404)


async def test_goodbye_after_erasure_reaches_the_open_chat(
    client: TestClient, db_url: str, request: pytest.FixtureRequest
) -> None:
    browser = Browser(client)
    await browser.open()
    (welcome,) = await browser.say(text="/start")
    await browser.say(payload=payload(welcome, "Tôi đồng ý"))
    (question,) = await browser.say(text="/xoadulieu")
    (goodbye,) = await browser.say(payload=payload(question, "Xóa dữ liệu"))
    assert goodbye["text"].startswith("Toàn bộ dữ liệu của bạn đã được xóa.")
    assert goodbye["id"] > question["id"]


async def test_too_long_message_is_refused_kindly(client: TestClient) -> None:
    browser = Browser(client)
    await browser.open()
    (reply,) = await browser.say(text="a" * 5000)
    assert reply["text"].startswith("Tin nhắn của bạn dài quá (5000 ký tự).")


async def test_a_flood_of_posts_is_refused_politely(client: TestClient) -> None:
    browser = Browser(client)
    await browser.open()
    statuses = [await browser.post(text=f"tin {i}") for i in range(15)]
    assert statuses[:10] == [200] * 10
    assert 429 in statuses[10:]


async def test_the_session_cookie_is_secure_behind_https(client: TestClient) -> None:
    response = await client.get("/chat", headers={"X-Forwarded-Proto": "https"})
    assert response.cookies["chat_session"]["secure"]
    plain = await client.get("/chat")
    assert not plain.cookies["chat_session"]["secure"]
