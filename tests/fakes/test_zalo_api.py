"""Tests of the Zalo OA Open API emulator, over real HTTP with aiohttp."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.clock import Clock
from tests.fakes.zalo_api import ZaloEmulator

JSON = dict[str, Any]
USER = "8421000000000001"
OTHER = "8421000000000002"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 500


@dataclass
class Received:
    headers: dict[str, str]
    raw: bytes
    event: JSON
    signed_with: str | None  # "app_id", "oa_id" or None (missing or wrong mac)


@dataclass
class Receiver:
    """A stand-in bot webhook: records each POST, checks its signature as Zalo specifies."""

    emu: ZaloEmulator
    status: int = 200
    received: list[Received] = field(default_factory=list)

    def verify(self, raw: bytes, header: str | None) -> str | None:
        if not header or not header.startswith("mac="):
            return None
        timestamp = str(json.loads(raw)["timestamp"])
        for name, first in (("app_id", self.emu.app_id), ("oa_id", self.emu.oa_id)):
            text = first + raw.decode() + timestamp + self.emu.oa_secret_key
            if header == "mac=" + hashlib.sha256(text.encode()).hexdigest():
                return name
        return None

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        header = request.headers.get("X-ZEvent-Signature")
        self.received.append(
            Received(dict(request.headers), raw, json.loads(raw), self.verify(raw, header))
        )
        return web.Response(status=self.status, text="ok")


@pytest.fixture
async def emu() -> AsyncIterator[ZaloEmulator]:
    async with ZaloEmulator(clock=Clock()) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@contextlib.asynccontextmanager
async def receiving(emu: ZaloEmulator) -> AsyncIterator[Receiver]:
    """A stand-in bot serving `emu.webhook_url`."""
    receiver = Receiver(emu)
    app = web.Application()
    app.router.add_post("/zalo/webhook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    emu.webhook_url = f"http://127.0.0.1:{port}/zalo/webhook"
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def bot(emu: ZaloEmulator) -> AsyncIterator[Receiver]:
    async with receiving(emu) as receiver:
        yield receiver


async def post_json(
    http: aiohttp.ClientSession, url: str, body: JSON, token: str | None = "AT-1"
) -> JSON:
    headers = {"access_token": token} if token is not None else {}
    async with http.post(url, json=body, headers=headers) as resp:
        assert resp.status == 200  # Zalo answers 200 even for errors
        result: JSON = await resp.json()
        return result


async def send_cs(
    emu: ZaloEmulator,
    http: aiohttp.ClientSession,
    message: JSON,
    user: str = USER,
    token: str | None = "AT-1",
) -> JSON:
    body = {"recipient": {"user_id": user}, "message": message}
    return await post_json(http, f"{emu.api_base_url}/v3.0/oa/message/cs", body, token)


async def upload(
    emu: ZaloEmulator,
    http: aiohttp.ClientSession,
    data: bytes,
    *,
    name: str = "image.png",
    token: str = "AT-1",
) -> JSON:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="image/png")
    url = f"{emu.api_base_url}/v2.0/oa/upload/image"
    async with http.post(url, data=form, headers={"access_token": token}) as resp:
        result: JSON = await resp.json()
        return result


async def refresh(
    emu: ZaloEmulator,
    http: aiohttp.ClientSession,
    refresh_token: str,
    *,
    secret: str = "app-secret",
    app_id: str = "3001234567890",
) -> JSON:
    form = {"app_id": app_id, "grant_type": "refresh_token", "refresh_token": refresh_token}
    url = f"{emu.oauth_base_url}/v4/oa/access_token"
    async with http.post(url, data=form, headers={"secret_key": secret}) as resp:
        assert resp.status == 200
        result: JSON = await resp.json()
        return result


def media(attachment_id: str) -> JSON:
    element = {"media_type": "image", "attachment_id": attachment_id}
    payload = {"template_type": "media", "elements": [element]}
    return {"text": "Giấy chứng nhận", "attachment": {"type": "template", "payload": payload}}


def with_buttons(text: str, *buttons: tuple[str, str]) -> JSON:
    actions = [{"title": t, "type": "oa.query.show", "payload": p} for t, p in buttons]
    return {"text": text, "attachment": {"type": "template", "payload": {"buttons": actions}}}


def template_body(**changes: Any) -> JSON:
    body: JSON = {
        "phone": "84912345678",
        "template_id": "T1",
        "template_data": {"customer_name": "An", "schedule_time": "08:00 12/12"},
        "tracking_id": "reminder-1",
    }
    body.update(changes)
    return body


# -- customer-service messages ------------------------------------------------------------


async def test_base_urls_and_attributes(emu: ZaloEmulator) -> None:
    assert emu.api_base_url == f"{emu.base_url}/openapi"
    assert emu.oauth_base_url == f"{emu.base_url}/oauth"
    assert emu.business_base_url == f"{emu.base_url}/business"
    assert emu.base_url.startswith("http://127.0.0.1:")
    assert (emu.app_id, emu.oa_id, emu.access_token, emu.refresh_token) == (
        "3001234567890",
        "5550001112223",
        "AT-1",
        "RT-1",
    )
    assert emu.webhook_url is None


async def test_send_text(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    emu.add_follower(USER)
    answer = await send_cs(emu, http, {"text": "Xin chào"})
    assert answer["error"] == 0 and answer["message"] == "Success"
    assert answer["data"]["user_id"] == USER
    message_id = answer["data"]["message_id"]
    assert int(message_id, 16) >= 0
    (sent,) = await emu.wait_for_sent(USER, 1)
    assert sent["kind"] == "text" and sent["text"] == "Xin chào"
    assert (sent["buttons"], sent["attachment_id"], sent["elements"]) == ([], None, [])
    assert sent["message_id"] == message_id and sent["raw"] == {"text": "Xin chào"}
    again = await send_cs(emu, http, {"text": "Lần nữa"})
    assert again["data"]["message_id"] != message_id
    assert emu.messages_sent == 2
    assert [(c.endpoint, c.error, c.user_id) for c in emu.calls] == [("cs", 0, USER)] * 2
    assert emu.call_counts["cs"] == 2


async def test_buttons_and_limits(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    emu.add_follower(USER)
    answer = await send_cs(emu, http, with_buttons("Chọn", ("Đặt lịch", "book"), ("Huỷ", "no")))
    assert answer["error"] == 0
    (sent,) = emu.sent(USER)
    assert sent["kind"] == "buttons" and sent["text"] == "Chọn"
    assert sent["buttons"] == [
        ("Đặt lịch", "oa.query.show", "book"),
        ("Huỷ", "oa.query.show", "no"),
    ]
    six = with_buttons("Chọn", *((f"B{i}", str(i)) for i in range(6)))
    long_title = with_buttons("Chọn", ("x" * 101, "p"))
    for message in (six, long_title, with_buttons("", ("A", "a"))):
        bad = await send_cs(emu, http, message)
        assert bad["error"] == -201
    ok = await send_cs(emu, http, with_buttons("Chọn", *((f"B{i}", str(i)) for i in range(5))))
    assert ok["error"] == 0
    assert len(emu.sent(USER)) == 2


async def test_text_length(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    emu.add_follower(USER)
    too_long = await send_cs(emu, http, {"text": "a" * 2001})
    assert too_long == {"error": -201, "message": "Parameters invalid: text too long"}
    assert (await send_cs(emu, http, {"text": "ư" * 2000}))["error"] == 0
    assert (await send_cs(emu, http, {"text": "   "}))["error"] == -201
    assert [c.error for c in emu.calls] == [-201, 0, -201]


async def test_upload_and_media(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    emu.add_follower(USER)
    answer = await upload(emu, http, PNG)
    assert answer["error"] == 0
    attachment_id = answer["data"]["attachment_id"]
    second = (await upload(emu, http, JPEG, name="image.jpe"))["data"]["attachment_id"]
    assert second != attachment_id
    assert emu.uploads == 2 and emu.uploaded[attachment_id] == PNG
    assert emu.calls[0].params["file"] == {
        "filename": "image.png",
        "content_type": "image/png",
        "size": len(PNG),
    }
    sent_answer = await send_cs(emu, http, media(attachment_id))
    assert sent_answer["error"] == 0
    (sent,) = emu.sent(USER)
    assert (sent["kind"], sent["text"], sent["attachment_id"]) == (
        "media",
        "Giấy chứng nhận",
        attachment_id,
    )
    assert sent["elements"] == [{"media_type": "image", "attachment_id": attachment_id}]
    unknown = await send_cs(emu, http, media("no-such-id"))
    assert unknown == {"error": -210, "message": "Attachment is invalid or expired"}
    emu.expire_attachments()
    assert (await send_cs(emu, http, media(attachment_id)))["error"] == -210
    fresh = (await upload(emu, http, PNG))["data"]["attachment_id"]
    assert (await send_cs(emu, http, media(fresh)))["error"] == 0


async def test_upload_refusals(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    assert (await upload(emu, http, b"GIF89a-not-allowed"))["error"] == -201
    assert (await upload(emu, http, PNG + b"\x00" * (1024 * 1024)))["error"] == -201
    assert (await upload(emu, http, PNG, token="AT-0"))["error"] == -216
    url = f"{emu.api_base_url}/v2.0/oa/upload/image"
    form = aiohttp.FormData()
    form.add_field("other", PNG, filename="a.png", content_type="image/png")
    async with http.post(url, data=form, headers={"access_token": "AT-1"}) as resp:
        assert (await resp.json())["error"] == -201
    assert emu.uploads == 0 and emu.uploaded == {}
    assert [c.error for c in emu.calls] == [-201, -201, -216, -201]


async def test_request_user_info(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    emu.add_follower(USER)
    element = {"title": "Chia sẻ số điện thoại", "subtitle": "Để nhận kết quả", "image_url": "x"}
    payload = {"template_type": "request_user_info", "elements": [element]}
    message = {"attachment": {"type": "template", "payload": payload}}
    assert (await send_cs(emu, http, message))["error"] == 0
    (sent,) = emu.sent(USER)
    assert sent["kind"] == "request_user_info" and sent["elements"] == [element]
    for elements in ([element, element], []):
        two = {"attachment": {"type": "template", "payload": {**payload, "elements": elements}}}
        assert (await send_cs(emu, http, two))["error"] == -201
    unknown = {"attachment": {"type": "template", "payload": {"template_type": "list"}}}
    assert (await send_cs(emu, http, unknown))["error"] == -201


async def test_access_token_checks(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    emu.add_follower(USER)
    invalid = {"error": -216, "message": "Access token is invalid"}
    assert await send_cs(emu, http, {"text": "hi"}, token="Bearer AT-1") == invalid
    assert await send_cs(emu, http, {"text": "hi"}, token=None) == invalid
    assert (await send_cs(emu, http, {"text": "hi"}))["error"] == 0
    emu.expire_access_token()
    assert await send_cs(emu, http, {"text": "hi"}) == invalid
    assert len(emu.sent(USER)) == 1
    assert emu.sent(USER)[0]["text"] == "hi"


async def test_follower_and_window(
    emu: ZaloEmulator, http: aiohttp.ClientSession, bot: Receiver
) -> None:
    not_follower = await send_cs(emu, http, {"text": "hi"})
    assert not_follower == {"error": -213, "message": "User has not followed OA"}
    emu.add_follower(OTHER, interacted=False)  # follows, never wrote: outside the window
    assert (await send_cs(emu, http, {"text": "hi"}, user=OTHER))["error"] == -230
    assert await emu.user_text(USER, "chào") == 200
    assert USER in emu.followers
    assert (await send_cs(emu, http, {"text": "hi"}))["error"] == 0
    emu.expire_window(USER)
    outside = await send_cs(emu, http, {"text": "hi"})
    assert outside == {
        "error": -230,
        "message": "User has not interacted with the OA in the last 7 days",
    }
    await emu.user_location(USER)  # any event opens the window again
    assert (await send_cs(emu, http, {"text": "hi"}))["error"] == 0
    await emu.unfollow(USER)
    assert USER not in emu.followers
    assert (await send_cs(emu, http, {"text": "hi"}))["error"] == -213
    await emu.follow(USER)
    assert (await send_cs(emu, http, {"text": "hi"}))["error"] == 0


async def test_wait_for_sent_timeout_lists_failures(
    emu: ZaloEmulator, http: aiohttp.ClientSession
) -> None:
    emu.add_follower(USER)
    await send_cs(emu, http, {"text": "một"})
    emu.expire_window(USER)
    await send_cs(emu, http, {"text": "hai"})
    with pytest.raises(AssertionError, match=r"got 1: \[\('text', 'một'\)\].*\('cs', -230\)"):
        await emu.wait_for_sent(USER, 2, timeout=0.2)


# -- tokens ---------------------------------------------------------------------------------


async def test_refresh_is_single_use_and_rotating(
    emu: ZaloEmulator, http: aiohttp.ClientSession
) -> None:
    first = await refresh(emu, http, "RT-1")
    assert first == {"access_token": "AT-2", "refresh_token": "RT-2", "expires_in": "90000"}
    assert (emu.access_token, emu.refresh_token) == ("AT-2", "RT-2")
    reused = await refresh(emu, http, "RT-1")
    assert reused == {
        "error": -14014,
        "error_name": "Invalid refresh token",
        "error_description": "Refresh token is invalid or used",
    }
    assert (await refresh(emu, http, "RT-unknown"))["error"] == -14014
    second = await refresh(emu, http, "RT-2")
    assert (second["access_token"], second["refresh_token"]) == ("AT-3", "RT-3")
    assert emu.refreshes == 2 and emu.refresh_tokens_used == ["RT-1", "RT-2"]
    emu.add_follower(USER)
    for token in ("AT-1", "AT-2", "AT-3"):  # older tokens stay valid until they expire
        assert (await send_cs(emu, http, {"text": token}, token=token))["error"] == 0
    emu.expire_access_token()
    assert (await send_cs(emu, http, {"text": "x"}, token="AT-3"))["error"] == -216
    assert (await send_cs(emu, http, {"text": "x"}, token="AT-1"))["error"] == -216
    fourth = await refresh(emu, http, "RT-3")
    assert (await send_cs(emu, http, {"text": "x"}, token=fourth["access_token"]))["error"] == 0
    assert [c.error for c in emu.calls if c.endpoint == "token"] == [0, -14014, -14014, 0, 0]


async def test_refresh_refusals(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    wrong_secret = await refresh(emu, http, "RT-1", secret="nope")
    assert wrong_secret["error"] == -14002
    assert wrong_secret["error_name"] == "Invalid secret key"
    assert (await refresh(emu, http, "RT-1", app_id="999"))["error"] == -14003
    url = f"{emu.oauth_base_url}/v4/oa/access_token"
    form = {"app_id": emu.app_id, "grant_type": "authorization_code", "code": "c"}
    async with http.post(url, data=form, headers={"secret_key": "app-secret"}) as resp:
        assert (await resp.json())["error"] == -14003
    assert emu.refreshes == 0 and emu.refresh_token == "RT-1"
    assert emu.calls[0].params == {
        "app_id": emu.app_id,
        "grant_type": "refresh_token",
        "refresh_token": "RT-1",
    }
    assert (await refresh(emu, http, "RT-1"))["access_token"] == "AT-2"


# -- template messages by phone ---------------------------------------------------------------


async def test_template_message(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    emu.add_template("T1", ["customer_name", "schedule_time"])
    url = f"{emu.business_base_url}/message/template"
    answer = await post_json(http, url, template_body())
    assert answer["error"] == 0 and answer["message"] == "Success"
    data = answer["data"]
    assert data["quota"] == {"dailyQuota": "1000", "remainingQuota": "999"}
    assert data["sent_time"].isdigit()
    assert emu.quota_left == 999
    assert emu.templates == [
        {
            "phone": "84912345678",
            "template_id": "T1",
            "template_data": {"customer_name": "An", "schedule_time": "08:00 12/12"},
            "tracking_id": "reminder-1",
            "msg_id": data["msg_id"],
        }
    ]
    assert await emu.wait_for_templates(1) == emu.templates
    assert emu.calls[0].user_id == "84912345678"


async def test_template_refusals(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    emu.add_template("T1", ["customer_name", "schedule_time"])
    url = f"{emu.business_base_url}/message/template"
    cases: list[tuple[JSON, int]] = [
        (template_body(tracking_id=None), -100),
        (template_body(tracking_id="t" * 49), -100),
        (template_body(phone="0912345678"), -108),
        (template_body(phone="849123456789"), -108),
        (template_body(template_id="T9"), -124),
        (template_body(template_data={"customer_name": "An"}), -118),
        (template_body(template_data={"customer_name": "An", "x": 1, "schedule_time": ""}), -118),
    ]
    for body, code in cases:
        answer = await post_json(http, url, {k: v for k, v in body.items() if v is not None})
        assert answer["error"] == code, body
    assert (await post_json(http, url, template_body(), token="AT-0"))["error"] == -216
    assert (await post_json(http, url, template_body(tracking_id="t" * 48)))["error"] == 0
    emu.night = True
    night = await post_json(http, url, template_body())
    assert night == {"error": -133, "message": "Sending ZNS at night is not allowed (22:00-06:00)"}
    emu.night = False
    emu.quota_left = 0
    quota = await post_json(http, url, template_body())
    assert quota == {"error": -144, "message": "Daily quota exceeded"}
    assert len(emu.templates) == 1
    with pytest.raises(AssertionError, match="-144"):
        await emu.wait_for_templates(2, timeout=0.1)


# -- faults -----------------------------------------------------------------------------------


async def test_fail_next(emu: ZaloEmulator, http: aiohttp.ClientSession) -> None:
    emu.add_follower(USER)
    emu.add_follower(OTHER)
    emu.fail_next("cs", error=-32, times=2, user_id=USER)
    assert (await send_cs(emu, http, {"text": "a"}, user=OTHER))["error"] == 0
    limited = await send_cs(emu, http, {"text": "a"})
    assert limited == {"error": -32, "message": "Exceeded the limit of requests per minute"}
    assert (await send_cs(emu, http, {"text": "a"}))["error"] == -32
    assert (await send_cs(emu, http, {"text": "a"}))["error"] == 0
    emu.fail_next("cs", error=-216, message="Access token has expired")
    assert await send_cs(emu, http, {"text": "a"}) == {
        "error": -216,
        "message": "Access token has expired",
    }
    emu.fail_next("upload", error=-210)
    assert (await upload(emu, http, PNG))["error"] == -210
    emu.fail_next("token", error=-14014)
    assert await refresh(emu, http, "RT-1") == {
        "error": -14014,
        "error_name": "Invalid refresh token",
        "error_description": "Invalid refresh token",
    }
    assert emu.refresh_token == "RT-1"  # the refused call spent nothing
    assert (await refresh(emu, http, "RT-1"))["access_token"] == "AT-2"
    emu.add_template("T1", ["customer_name", "schedule_time"])
    emu.fail_next("template", error=-144, user_id="84999999999")
    url = f"{emu.business_base_url}/message/template"
    assert (await post_json(http, url, template_body(), token="AT-2"))["error"] == 0
    other_phone = template_body(phone="84999999999")
    assert (await post_json(http, url, other_phone, token="AT-2"))["error"] == -144
    emu.fail_next("cs", error=-500, status=503)
    async with http.post(
        f"{emu.api_base_url}/v3.0/oa/message/cs",
        json={"recipient": {"user_id": USER}, "message": {"text": "a"}},
        headers={"access_token": "AT-2"},
    ) as resp:
        assert resp.status == 503
    assert emu.call_counts == {"cs": 6, "upload": 1, "token": 2, "template": 2}
    assert [c.error for c in emu.calls if c.endpoint == "cs"] == [0, -32, -32, 0, -216, -500]
    with pytest.raises(ValueError, match="endpoint"):
        emu.fail_next("nope", error=-1)
    with pytest.raises(ValueError, match="user_id"):
        emu.fail_next("token", error=-1, user_id=USER)


async def test_reset_keeps_tokens_and_followers(
    emu: ZaloEmulator, http: aiohttp.ClientSession
) -> None:
    emu.add_follower(USER)
    await send_cs(emu, http, {"text": "a"})
    await refresh(emu, http, "RT-1")
    emu.fail_next("cs", error=-32)
    emu.reset()
    assert (emu.calls, emu.sent(USER), emu.messages_sent, emu.call_counts) == ([], [], 0, {})
    assert (emu.access_token, emu.refresh_token) == ("AT-2", "RT-2")
    assert (await send_cs(emu, http, {"text": "b"}, token="AT-2"))["error"] == 0  # no fault


# -- webhook events -----------------------------------------------------------------------


async def test_user_text_event_and_signature(emu: ZaloEmulator, bot: Receiver) -> None:
    assert await emu.user_text(USER, "Xin chào bác sĩ", msg_id="m-1") == 200
    (got,) = bot.received
    assert got.signed_with == "app_id"
    assert got.headers["Content-Type"] == "application/json"
    assert got.raw == json.dumps(got.event, ensure_ascii=False).encode()
    event = got.event
    assert event == {
        "app_id": emu.app_id,
        "user_id_by_app": f"app-{USER}",
        "event_name": "user_send_text",
        "sender": {"id": USER},
        "recipient": {"id": emu.oa_id},
        "message": {"text": "Xin chào bác sĩ", "msg_id": "m-1"},
        "timestamp": event["timestamp"],
    }
    assert isinstance(event["timestamp"], str) and event["timestamp"].isdigit()
    assert emu.last_event == event and emu.events == [event]
    assert len(emu.webhook_ms) == 1 and emu.webhook_ms[0] >= 0
    await emu.user_text(USER, "lần hai")
    second = bot.received[1].event
    assert second["message"]["msg_id"] != "m-1" and len(second["message"]["msg_id"]) == 32
    assert int(second["timestamp"]) > int(event["timestamp"])


async def test_events_are_stamped_by_the_clock_given() -> None:
    moment = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)  # 23:30 in Vietnam
    async with ZaloEmulator(clock=lambda: moment) as emu, receiving(emu) as bot:
        await emu.user_text(USER, "a")
        await emu.user_text(USER, "b")  # the same millisecond: one later, events stay distinct
        await emu.user_text(USER, "c", at=moment - timedelta(days=400))  # a chosen moment
    stamps = [int(got.event["timestamp"]) for got in bot.received]
    at_ms = int(moment.timestamp() * 1000)
    assert stamps == [at_ms, at_ms + 1, at_ms - 400 * 86_400_000]
    assert all(got.signed_with == "app_id" for got in bot.received)


async def test_signature_variants(emu: ZaloEmulator, bot: Receiver) -> None:
    await emu.user_text(USER, "a", sign="oa_id")
    await emu.user_text(USER, "b", sign="none")
    await emu.user_text(USER, "c", sign="wrong")
    await emu.follow(USER, sign="oa_id")
    oa, none, wrong, follow = bot.received
    assert oa.signed_with == "oa_id" and follow.signed_with == "oa_id"
    assert "X-ZEvent-Signature" not in none.headers and none.signed_with is None
    assert wrong.headers["X-ZEvent-Signature"].startswith("mac=") and wrong.signed_with is None
    timestamp = oa.event["timestamp"]
    assert emu.signature(oa.raw, timestamp, first="oa_id") == oa.headers["X-ZEvent-Signature"]


async def test_status_passes_through(emu: ZaloEmulator, bot: Receiver) -> None:
    bot.status = 403
    assert await emu.user_text(USER, "a", sign="wrong") == 403
    with pytest.raises(ValueError, match="sign"):
        await emu.post_event(emu.last_event, sign="bogus")  # type: ignore[arg-type]


async def test_redelivery_and_raw(emu: ZaloEmulator, bot: Receiver) -> None:
    await emu.user_text(USER, "đặt lịch")
    assert await emu.post_event(emu.last_event, num_retry=1) == 200
    first, again = bot.received
    assert again.raw == first.raw and again.signed_with == "app_id"
    assert again.headers["num_retry"] == "1" and "num_retry" not in first.headers
    raw = json.dumps(first.event).encode()  # \u escapes: a different body, still signed right
    assert await emu.post_event(first.event, raw=raw) == 200
    assert bot.received[2].raw == raw and bot.received[2].signed_with == "app_id"


async def test_press_sends_the_payload_as_text(
    emu: ZaloEmulator, http: aiohttp.ClientSession, bot: Receiver
) -> None:
    await emu.user_text(USER, "menu")
    await send_cs(emu, http, with_buttons("Bạn muốn gì?", ("Đặt lịch tiêm", "Đặt lịch tiêm")))
    await send_cs(emu, http, with_buttons("Xác nhận?", ("Có", "confirm:yes")))
    first, second = await emu.wait_for_sent(USER, 2)
    assert await emu.press(USER, second, "Có") == 200
    assert await emu.press(USER, first, "Đặt lịch tiêm") == 200
    pressed = [r.event for r in bot.received[1:]]
    assert [e["event_name"] for e in pressed] == ["user_send_text"] * 2
    assert [e["message"]["text"] for e in pressed] == ["confirm:yes", "Đặt lịch tiêm"]
    assert pressed[0]["sender"] == {"id": USER}
    with pytest.raises(AssertionError, match="no button 'Không'"):
        await emu.press(USER, second, "Không")
    link = {"title": "Web", "type": "oa.open.url", "payload": {"url": "https://x.vn"}}
    message = {"text": "Xem", "attachment": {"type": "template", "payload": {"buttons": [link]}}}
    assert (await send_cs(emu, http, message))["error"] == 0
    with pytest.raises(AssertionError, match=r"oa\.open\.url"):
        await emu.press(USER, emu.sent(USER)[-1], "Web")
    # menu -> first reply; the two presses queue, the link message answers the first of them
    assert len(emu.latencies_ms) == 2


async def test_image_location_follow_and_info_events(
    emu: ZaloEmulator, http: aiohttp.ClientSession, bot: Receiver
) -> None:
    await emu.user_image(USER, JPEG, caption="kết quả", msg_id="img-1")
    await emu.user_location(USER, 21.0285, 105.8542)
    await emu.follow(OTHER)
    await emu.unfollow(OTHER)
    await emu.share_info(USER)
    image, location, follow, unfollow, info = (r.event for r in bot.received)
    assert all(r.signed_with == "app_id" for r in bot.received)
    assert image["event_name"] == "user_send_image"
    assert (image["message"]["text"], image["message"]["msg_id"]) == ("kết quả", "img-1")
    (attachment,) = image["message"]["attachments"]
    url = attachment["payload"]["url"]
    assert attachment["type"] == "image" and attachment["payload"]["thumbnail"] == url
    assert url.startswith(f"{emu.base_url}/files/") and url.endswith(".jpg")
    async with http.get(url) as resp:
        assert resp.status == 200 and await resp.read() == JPEG
    async with http.get(f"{emu.base_url}/files/missing.jpg") as resp:
        assert resp.status == 404
    assert location["event_name"] == "user_send_location"
    assert location["message"]["attachments"] == [
        {
            "type": "location",
            "payload": {"coordinates": {"latitude": "21.0285", "longitude": "105.8542"}},
        }
    ]
    assert follow == {
        "app_id": emu.app_id,
        "user_id_by_app": f"app-{OTHER}",
        "event_name": "follow",
        "oa_id": emu.oa_id,
        "follower": {"id": OTHER},
        "source": "oa_profile",
        "timestamp": follow["timestamp"],
    }
    assert unfollow["event_name"] == "unfollow" and "sender" not in unfollow
    assert info["event_name"] == "user_submit_info"
    assert info["sender"] == {"id": USER} and info["recipient"] == {"id": emu.oa_id}
    assert info["info"] == {
        "name": "Nguyễn Văn An",
        "phone": "84912345678",
        "address": "",
        "city": "",
        "district": "",
    }
    assert emu.followers == {USER}


async def test_post_event_needs_a_webhook(emu: ZaloEmulator) -> None:
    with pytest.raises(RuntimeError, match="webhook_url"):
        await emu.user_text(USER, "hi")
