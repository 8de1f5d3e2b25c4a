"""The web chat over HTTP, with the sender running: what a browser sends and reads back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Service, build_service, forget_old_rows
from bot.channels.web_chat import WebChannel
from bot.config import Settings
from bot.web.app_keys import DATABASE
from bot.web.chat import COOKIE, MAX_WAIT_S, PLAIN_COOKIE
from bot.web.server import WEB_ADDRESS_POST_BURST, WEB_POST_BURST, WEB_SESSION_BURST
from storage import accounts, outbox
from storage.models import Account, ConsentEvent, ConversationRow, OutboxMessage
from storage.outbox import NewMessage
from tests.conftest import Clock
from tests.quiet import eventually
from tests.webchat import (
    MENU,
    THANKS,
    WELCOME,
    Browser,
    Citizen,
    content_security_policy,
    invented_tokens,
    labels,
    payload,
    stored_counts,
)

STILL = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # a clock that does not move


@pytest.fixture
async def svc(settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    async with sending(settings, clock) as service:
        yield service


@contextlib.asynccontextmanager
async def sending(settings: Settings, clock: Callable[[], datetime]) -> AsyncIterator[Service]:
    """The service wired on a migrated database, with its sender running."""
    service = build_service(settings, clock=clock)
    await service.db.migrate()
    sender = asyncio.create_task(service.sender.run())
    try:
        yield service
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await service.db.dispose()


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    # No cookie jar: each Browser below carries its own cookie, as separate browsers would.
    async with TestClient(TestServer(svc.web_app), cookie_jar=DummyCookieJar()) as test_client:
        yield test_client


async def test_chat_page_is_vietnamese_and_stores_nothing(
    client: TestClient, svc: Service
) -> None:
    response = await client.get("/chat")
    page = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert '<html lang="vi">' in page and "Trợ lý sức khỏe công dân" in page
    assert "Nhập tin nhắn…" in page and "{{" not in page
    assert not {COOKIE, PLAIN_COOKIE} & set(response.cookies)  # the page asks for a session
    browser = Browser(client)
    await browser.open()
    assert await browser.read() == []
    assert await stored_counts(svc.db) == (0, 0)  # opened and read: no account, no message


async def test_the_server_issues_a_private_host_cookie(client: TestClient, svc: Service) -> None:
    browser = Browser(client)
    response = await client.post("/api/chat/session", data=b"{}", headers=browser.headers)
    assert (response.status, await response.json()) == (200, {"ok": True})
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True and cookie["samesite"] == "Strict"
    assert cookie["secure"] is True and cookie["path"] == "/" and not cookie["domain"]
    assert int(cookie["max-age"]) == 180 * 24 * 3600
    assert svc.protector.is_our_session(cookie.value)
    browser.token = cookie.value
    again = await client.post("/api/chat/session", data=b"{}", headers=browser.headers)
    assert again.status == 200 and COOKIE not in again.cookies  # it has one of ours


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
    assert entry["text"].startswith("Tôi đã nhờ nhân viên hỗ trợ giúp bạn")  # the console's inbox
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
    browser = Browser(client)
    behind = {**browser.headers, "X-Forwarded-Proto": "https"}
    response = await client.post("/api/chat/session", data=b"{}", headers=behind)
    assert response.cookies[COOKIE]["secure"]


# --- sessions are ours only --------------------------------------------------------------------


async def test_invented_tokens_are_refused_and_store_nothing(
    client: TestClient, svc: Service
) -> None:
    page = Browser(client)
    for token in invented_tokens(svc.protector):
        # Under the cookie's name, and under the name the web chat used before.
        headers = {**page.headers, "Cookie": f"{COOKIE}={token}; {PLAIN_COOKIE}={token}"}
        post = await client.post(
            "/api/chat/messages", json={"id": "m1", "text": "/start"}, headers=headers
        )
        assert (post.status, await post.json()) == (401, {"error": "open /chat first"}), token
        read = await client.get("/api/chat/messages?after=0", headers=headers)
        assert read.status == 401
    assert await stored_counts(svc.db) == (0, 0)
    # The page then asks for a session of ours, which works.
    browser = Browser(client)
    await browser.open()
    (welcome,) = await browser.say(text="/start")
    assert welcome["text"].startswith(WELCOME)
    assert await stored_counts(svc.db) == (1, 1)


# --- limits per client address ----------------------------------------------------------------


@pytest.fixture
async def still(settings: Settings) -> AsyncIterator[TestClient]:
    """The web chat on a clock that does not move, behind a proxy on this machine.

    Rate limits refill with the service's clock, so what a burst lets through is exact.
    """
    behind = replace(settings, trusted_proxies=(ip_network("127.0.0.1"),))
    async with (
        sending(behind, lambda: STILL) as service,
        TestClient(TestServer(service.web_app), cookie_jar=DummyCookieJar()) as test_client,
    ):
        yield test_client


async def test_new_sessions_are_limited_per_client_address(still: TestClient) -> None:
    here = {"X-Forwarded-For": "203.0.113.7"}
    browsers = [Browser(still, **here) for _ in range(300)]
    statuses = [await browser.new_session() for browser in browsers]
    assert statuses.count(200) == WEB_SESSION_BURST
    assert set(statuses[WEB_SESSION_BURST:]) == {429}
    refused = await still.post("/api/chat/session", data=b"{}", headers=browsers[-1].headers)
    assert await refused.json() == {"error": "too many new sessions; wait a few minutes"}
    # Each session that was issued writes once: that many accounts and replies, no more.
    for browser in browsers:
        status = await browser.post(text="/start")
        assert status == (200 if browser.token else 401)
    assert await stored_counts(still.app[DATABASE]) == (WEB_SESSION_BURST, WEB_SESSION_BURST)
    # Another address, or another subscriber's IPv6 network, is not held back.
    assert await Browser(still, **{"X-Forwarded-For": "198.51.100.20"}).new_session() == 200
    same_64 = [f"2001:db8:1:2::{n:x}" for n in range(WEB_SESSION_BURST + 1)]
    v6 = [await Browser(still, **{"X-Forwarded-For": a}).new_session() for a in same_64]
    assert v6.count(200) == WEB_SESSION_BURST and v6[-1] == 429
    assert await Browser(still, **{"X-Forwarded-For": "2001:db8:1:3::1"}).new_session() == 200


async def test_posts_from_many_sessions_of_one_address_are_limited(still: TestClient) -> None:
    here = {"X-Forwarded-For": "203.0.113.7"}
    browsers = [Browser(still, **here) for _ in range(8)]
    for browser in browsers:
        await browser.open()
    # Each session stays within its own limit (10 in a row); together they pass the address's.
    statuses = [
        await browser.post(text="/help") for _ in range(WEB_POST_BURST) for browser in browsers
    ]
    assert statuses.count(200) == WEB_ADDRESS_POST_BURST
    assert set(statuses[WEB_ADDRESS_POST_BURST:]) == {429}
    elsewhere = Browser(still, **{"X-Forwarded-For": "198.51.100.20"})
    await elsewhere.open()
    assert await elsewhere.post(text="/help") == 200


# --- posts come from our page ------------------------------------------------------------------


async def test_posts_need_our_origin_and_json(client: TestClient, svc: Service) -> None:
    browser = Browser(client)
    await browser.open()
    ours = browser.origin
    port = client.make_url("/").port
    refusals = [
        ({"Origin": None}, 403),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": f"http://127.0.0.1:{(port or 0) + 1}"}, 403),
        ({"Origin": ours.replace("http://", "https://")}, 403),
        ({"Origin": "null"}, 403),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"Content-Type": None}, 415),
    ]
    body = json.dumps({"id": "m1", "text": "/start"}).encode()
    for change, status in refusals:
        headers = {k: v for k, v in {**browser.headers, **change}.items() if v is not None}
        for path in ("/api/chat/messages", "/api/chat/session"):
            response = await client.post(path, data=body, headers=headers)
            assert response.status == status, (change, path)
            assert set(await response.json()) == {"error"}
    assert await browser.read() == []
    assert await stored_counts(svc.db) == (0, 0)
    assert await browser.post(text="/start") == 200  # the page's own post


async def test_the_scheme_a_proxy_tells_counts_only_if_it_is_trusted(
    settings: Settings, clock: Clock
) -> None:
    behind = replace(settings, trusted_proxies=(ip_network("127.0.0.0/8"),))
    for trusted, service_settings in ((True, behind), (False, settings)):
        service = build_service(service_settings, clock=clock)
        await service.db.migrate()
        async with TestClient(TestServer(service.web_app), cookie_jar=DummyCookieJar()) as client:
            browser = Browser(client, **{"X-Forwarded-Proto": "https"})
            https = browser.origin.replace("http://", "https://")
            status = await client.post(
                "/api/chat/session", data=b"{}", headers={**browser.headers, "Origin": https}
            )
            plain = await client.post("/api/chat/session", data=b"{}", headers=browser.headers)
            # The proxy's word counts only when it is trusted.
            assert (status.status, plain.status) == ((200, 403) if trusted else (403, 200))
        await service.db.dispose()


async def test_plain_http_to_another_host_in_development(settings: Settings, clock: Clock) -> None:
    for env, name, secure in (("development", PLAIN_COOKIE, ""), ("production", COOKIE, True)):
        service = build_service(replace(settings, env=env), clock=clock)
        await service.db.migrate()
        async with TestClient(TestServer(service.web_app), cookie_jar=DummyCookieJar()) as client:
            lan = {"Host": "192.0.2.10:8080", "Origin": "http://192.0.2.10:8080"}
            response = await client.post(
                "/api/chat/session",
                data=b"{}",
                headers={"Content-Type": "application/json", **lan},
            )
            assert response.status == 200
            cookie = response.cookies[name]
            assert cookie["secure"] == secure and cookie["httponly"] is True
            headers = {"Content-Type": "application/json", **lan}
            headers["Cookie"] = f"{name}={cookie.value}"
            post = await client.post(
                "/api/chat/messages", json={"id": "1", "text": "/help"}, headers=headers
            )
            assert post.status == 200
        await service.db.dispose()


# --- never-consented accounts are deleted ------------------------------------------------------


async def test_never_consented_accounts_are_deleted_after_a_day(
    svc: Service, clock: Clock
) -> None:
    opened, refused = Citizen(svc, "opened"), Citizen(svc, "refused")
    consented, withdrew = Citizen(svc, "consented"), Citizen(svc, "withdrew")
    late = Citizen(svc, "late")
    await opened.say("/start")
    await refused.say("/start")
    assert await refused.press("Không đồng ý")
    await consented.consent()
    await withdrew.consent()
    await withdrew.say("/rutdongy")
    assert await withdrew.press("Rút lại đồng ý")
    async with svc.db.session_scope() as session:  # first contact on Zalo, never answered
        await accounts.open_chat(
            session, channel="zalo", chat_id="z-1", user_id="z-1", locale="vi", now=clock()
        )
    await forget_old_rows(svc.db, now=clock())
    assert await _chats(svc) == {"opened", "refused", "consented", "withdrew", "z-1"}

    clock.advance(timedelta(hours=23))
    await late.say("/start")  # still undecided, but only an hour ago
    clock.advance(timedelta(hours=2))
    await forget_old_rows(svc.db, now=clock())
    assert await _chats(svc) == {"consented", "withdrew", "late"}
    async with svc.db.read_scope() as session:
        kept = set(await session.scalars(select(Account.id)))
        for table in (ConsentEvent, ConversationRow, OutboxMessage):
            owners = set(await session.scalars(select(table.account_id)))
            assert owners <= kept, table
        chats = set(await session.scalars(select(OutboxMessage.chat_id)))
    assert chats == {"consented", "withdrew", "late"}
    # A deleted chat that writes again starts afresh, with the welcome.
    assert (await opened.say("/start"))[0].startswith(WELCOME)


async def _chats(svc: Service) -> set[str]:
    async with svc.db.read_scope() as session:
        return set(await session.scalars(select(Account.chat_id)))


# --- headers -----------------------------------------------------------------------------------


async def test_the_chat_page_sends_strict_headers_and_runs_no_inline_code(
    client: TestClient,
) -> None:
    response = await client.get("/chat")
    page = await response.text()
    policy = content_security_policy(response.headers)
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    # Scripts come from our files; the one other script block is data, never run.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.DOTALL)
    assert [attributes for attributes, _ in scripts] == [
        ' type="application/json" id="strings"',
        ' src="/static/chat.js" defer',
    ]
    strings = json.loads(scripts[0][1])
    assert strings["start"] == "Bắt đầu" and strings["busy"].startswith("Có quá nhiều")
    assert "<style" not in page and not re.search(r"\s(style|on[a-z]+)=", page)
    for path, kind in (("/static/chat.js", "text/javascript"), ("/static/chat.css", "text/css")):
        file = await client.get(path)
        assert (file.status, file.content_type, file.charset) == (200, kind, "utf-8")
        assert file.headers["X-Content-Type-Options"] == "nosniff"
    assert (await client.get("/static/chat.html")).status == 404
    verify = await client.get("/verify")  # the same helper, its own sources
    assert content_security_policy(verify.headers)["frame-ancestors"] == "'none'"
    assert verify.headers["X-Content-Type-Options"] == "nosniff"
    assert verify.headers["Referrer-Policy"] == "no-referrer"
    answer = await client.get("/api/chat/messages")
    assert answer.status == 401 and answer.headers["X-Content-Type-Options"] == "nosniff"


async def test_stopping_answers_the_waiting_long_polls() -> None:
    channel = WebChannel()
    with channel.listen("chat") as waiting:
        assert not waiting.is_set()
        channel.close()  # on the web application's shutdown, before requests are awaited
        assert waiting.is_set()
    with channel.listen("chat") as later:
        assert later.is_set()
