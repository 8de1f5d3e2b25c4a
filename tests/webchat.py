"""Helpers that act as a web-chat citizen: on the dispatcher directly, or over HTTP.

`Citizen` hands updates to `Dispatcher.handle` and reads the replies from the outbox, as the web
chat does; `Browser` goes through the aiohttp routes with its own session cookie (on a test
server, or on a running service through `tests.remote.Remote`).
"""

from __future__ import annotations

import base64
import itertools
import secrets
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.app import Service
from bot.channels.web_chat import to_incoming
from bot.crypto import DataProtector, generate_key
from bot.messages import Incoming
from bot.web.chat import COOKIE
from storage import accounts, outbox
from storage.conversations import SavedState
from storage.db import Database
from storage.models import Account, ConsentEvent, OutboxMessage
from tests.remote import Remote

WELCOME = "Xin chào! Tôi là trợ lý sức khỏe công dân."
APOLOGY = "Xin lỗi, hệ thống đang gặp sự cố nên chưa xử lý được tin nhắn của bạn."
THANKS = "Cảm ơn bạn! Hôm nay tôi có thể giúp gì cho bạn?"
CONSENT_BUTTONS = ["Tôi đồng ý", "Không đồng ý"]
MENU = [
    "Đăng ký tiêm",
    "Kết quả xét nghiệm",
    "Giấy chứng nhận",
    "Hỗ trợ",
    "Lịch hẹn của tôi",
    "Mã QR xét nghiệm",
]
_ids = itertools.count(1)


class Citizen:
    """One web chat: sends updates through the dispatcher and reads the replies it got."""

    def __init__(self, svc: Service, chat_id: str = "citizen-1") -> None:
        self.svc, self.chat_id, self.after = svc, chat_id, 0
        self.last: list[dict[str, Any]] = []

    def incoming(
        self, text: str | None = None, payload: str | None = None, id: str = ""
    ) -> Incoming:
        body = {"id": id or f"u{next(_ids)}", "text": text, "payload": payload}
        return to_incoming(self.chat_id, {k: v for k, v in body.items() if v is not None})

    async def replies(self) -> list[dict[str, Any]]:
        async with self.svc.db.read_scope() as session:
            rows = await outbox.transcript(
                session, channel="web", chat_id=self.chat_id, after=self.after
            )
        if rows:
            self.after = rows[-1].id
            self.last = [row.body for row in rows]
        return [row.body for row in rows]

    async def say(self, text: str) -> list[str]:
        await self.svc.dispatcher.handle(self.incoming(text))
        return [body["text"] for body in await self.replies()]

    async def press(self, label: str) -> list[str]:
        payloads = [p for body in self.last for row in body.get("buttons", ()) for lb, p in row]
        labels = [lb for body in self.last for row in body.get("buttons", ()) for lb, _p in row]
        assert label in labels, labels
        await self.svc.dispatcher.handle(self.incoming(payload=payloads[labels.index(label)]))
        return [body["text"] for body in await self.replies()]

    async def last_texts(self) -> list[str]:
        """The texts of the replies read last."""
        return [body["text"] for body in self.last]

    def buttons(self) -> list[str]:
        return [label for body in self.last for row in body.get("buttons", ()) for label, _ in row]

    async def consent(self) -> None:
        await self.say("/start")
        assert await self.press("Tôi đồng ý") == [THANKS]

    async def state(self) -> tuple[Account | None, SavedState | None, list[ConsentEvent]]:
        async with self.svc.db.read_scope() as session:
            loaded = await accounts.load_chat(session, channel="web", chat_id=self.chat_id)
            if loaded is None:
                return None, None, []
            events = await accounts.consent_history(session, account_id=loaded[0].id)
            return loaded[0], loaded[1], events


class Browser:
    """One browser tab on /chat: its session cookie, what it posts and what it has read.

    Like the page, it asks the server for a session when it opens the chat, and sends our
    `Origin` and JSON with every post. `headers` are sent with every request (a proxy's
    `X-Forwarded-For`, say).
    """

    def __init__(self, client: TestClient | Remote, **headers: str) -> None:
        self.client, self.token, self.after = client, "", 0
        self.extra = headers

    @property
    def origin(self) -> str:
        """The page's origin, as a browser sends it."""
        return str(self.client.make_url("/").origin())

    @property
    def headers(self) -> dict[str, str]:
        cookie = {"Cookie": f"{COOKIE}={self.token}"} if self.token else {}
        return {"Origin": self.origin, "Content-Type": "application/json", **self.extra, **cookie}

    async def open(self, **headers: str) -> str:
        response = await self.client.get("/chat", headers={**headers, **self.headers})
        assert response.status == 200
        if not self.token:
            assert await self.new_session() == 200
        return await response.text()

    async def new_session(self) -> int:
        """Ask for a session as the page does; the status of the answer."""
        response = await self.client.post("/api/chat/session", data=b"{}", headers=self.headers)
        if COOKIE in response.cookies:
            self.token = response.cookies[COOKIE].value
        return response.status

    async def post(self, **body: Any) -> int:
        body.setdefault("id", f"m{next(_ids)}")
        response = await self.client.post("/api/chat/messages", json=body, headers=self.headers)
        return response.status

    async def read(self, wait: float = 0) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/api/chat/messages?after={self.after}&wait={wait}", headers=self.headers
        )
        assert response.status == 200
        messages = (await response.json())["messages"]
        if messages:
            self.after = messages[-1]["id"]
        return messages

    async def say(self, **body: Any) -> list[dict[str, Any]]:
        assert await self.post(**body) == 200  # answered once the replies are committed
        return await self.read()


def labels(message: dict[str, Any]) -> list[str]:
    """The button labels under a message read by a `Browser`."""
    return [button["label"] for row in message["buttons"] for button in row]


def payload(message: dict[str, Any], label: str) -> str:
    """The payload a `Browser` posts when pressing the button labelled `label`."""
    return next(b["payload"] for row in message["buttons"] for b in row if b["label"] == label)


def invented_tokens(protector: DataProtector) -> list[str]:
    """Tokens a client makes up: the old random kind, a well-formed one with a wrong MAC, one
    signed under another key, one with a MAC of the wrong length."""
    ours = protector.new_session()
    session_id, _, mac = ours.partition(".")
    other = DataProtector(base64.urlsafe_b64decode(generate_key())).new_session()
    return [
        secrets.token_urlsafe(24),
        f"{secrets.token_urlsafe(24)}.{mac}",
        other,
        f"{session_id}.{mac[:-1]}",
        f"{session_id}.{mac}A",
    ]


async def stored_counts(db: Database) -> tuple[int, int]:
    """How many accounts and outbox rows the database holds."""
    async with db.read_scope() as session:
        chats = await session.scalar(select(func.count()).select_from(Account))
        rows = await session.scalar(select(func.count()).select_from(OutboxMessage))
    return chats or 0, rows or 0


def content_security_policy(response_headers: Any) -> dict[str, str]:
    """A response's Content-Security-Policy: directive -> its sources."""
    policy = response_headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))
