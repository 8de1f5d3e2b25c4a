"""Data at rest: owner-only files, secure delete, old messages stripped, Zalo events emptied."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, text

from bot.app import Service, build_service, running
from bot.config import Settings
from bot.domain import retention
from bot.messages import ChatRef, Outgoing, stripped_body
from storage import inbox, outbox, tickets
from storage.db import Database
from storage.models import InboundEvent, OutboxMessage, Ticket
from storage.outbox import NewMessage
from tests.conftest import Clock
from tests.fakes.zalo_api import ZaloEmulator
from tests.quiet import eventually, quiet
from tests.test_zalo_e2e import USER, consent, say, serving
from tests.webchat import Browser, payload

NOW = datetime(2026, 12, 14, 3, 0, tzinfo=UTC)
KEEP = timedelta(days=30)
DAY = timedelta(days=1)


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """The usual umask of a shell, whatever the test runner's is."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- files


async def test_a_new_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "bot.db"
    with umask(0o022):
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.migrate()
        async with db.session_scope() as session:
            await outbox.enqueue(session, [NewMessage("web", "c1", {"text": "x"})], now=NOW)
        wal = [path.with_name("bot.db-wal"), path.with_name("bot.db-shm")]
        assert all(p.exists() for p in wal)  # open while the engine holds a connection
        assert [mode(p) for p in (path, *wal)] == [0o600] * 3
        assert mode(path.parent) == 0o700
        await db.dispose()


async def test_an_existing_database_is_tightened_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    with umask(0o022):
        older = sqlite3.connect(path)  # as an earlier version left it: 0644, WAL files open
        older.execute("PRAGMA journal_mode=WAL")
        older.execute("CREATE TABLE t (x)")
        older.execute("INSERT INTO t VALUES (1)")
        older.commit()
        wal = [path.with_name("bot.db-wal"), path.with_name("bot.db-shm")]
        assert [mode(p) for p in (path, *wal)] == [0o644] * 3
        db = Database(f"sqlite+aiosqlite:///{path}")
        async with db.read_scope() as session:
            assert (await session.execute(text("SELECT x FROM t"))).scalar() == 1
        assert [mode(p) for p in (path, *wal)] == [0o600] * 3
        await db.dispose()
        older.close()


async def test_secure_delete_is_on_for_every_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = sqlite3.connect

    def default_off(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = plain(*args, **kwargs)
        connection.execute("PRAGMA secure_delete=OFF")  # as most builds ship (Debian's: ON)
        return connection

    monkeypatch.setattr(sqlite3, "connect", default_off)
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/bot.db")
    async with db.read_scope() as first, db.read_scope() as second:  # two connections
        for session in (first, second):
            assert (await session.execute(text("PRAGMA secure_delete"))).scalar() == 1
    await db.dispose()


async def test_the_var_folder_is_tightened_at_start_up(settings: Settings, clock: Clock) -> None:
    var = settings.var_dir
    keys = settings.dcc_key_path.parent
    (var / "notes.txt").write_text("left by an operator")
    for path, wide in ((var, 0o755), (keys, 0o755), (settings.dcc_key_path, 0o644)):
        path.chmod(wide)
    (var / "notes.txt").chmod(0o644)
    service = build_service(settings, clock=clock)
    async with running(service):
        assert mode(var) == mode(keys) == 0o700
        assert mode(settings.dcc_key_path) == mode(var / "notes.txt") == 0o600
        assert mode(settings.dcc_cert_path) == 0o600  # public, but in a private folder anyway


# ---------------------------------------------------------------- old messages stripped


async def test_settled_messages_older_than_the_retention_are_stripped(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches
    old, recent = NOW - KEEP - DAY, NOW - KEEP + DAY
    card = {
        "text": "Đặt lịch thành công! Nguyễn Thị Xoaxoa, sinh 29/03/1987",
        "buttons": [[["Đổi lịch", "appt:move:1"]]],
        "template": "reminder",
        "template_data": {"name": "Nguyễn Thị Xoaxoa"},
        "image_file_id": "AgAD-photo",
        "reply_to": "77",
    }
    async with database.session_scope() as session:
        sent = await outbox.enqueue(
            session,
            [NewMessage("telegram", "42", card, image=b"\x89PNG qr") for _ in range(4)],
            now=old,
        )
        failed, pending = await outbox.enqueue(
            session, [NewMessage("web", "c1", {"text": "Kết quả: ÂM TÍNH"})] * 2, now=old
        )
        (fresh,) = await outbox.enqueue(session, [NewMessage("web", "c1", card)], now=recent)
        await outbox.mark_sent(
            session, outcomes=[(i, f"m{i}") for i in (*sent, fresh)], at=old + DAY
        )
        await outbox.mark_final(session, message_id=failed, status="failed", error="403")

    assert await retention.strip_old_messages(database, now=NOW, keep=KEEP) == 5

    async with database.read_scope() as session:
        rows = {row.id: row for row in await session.scalars(select(OutboxMessage))}
    for row_id in sent:
        row = rows[row_id]
        assert row.body == {"text": "", "template": "reminder", "reply_to": "77"}
        assert row.image is None and row.stripped_at == NOW
        assert (row.status, row.external_id, row.sent_at) == ("sent", f"m{row_id}", old + DAY)
        assert (row.channel, row.chat_id, row.created_at) == ("telegram", "42", old)
    assert rows[failed].body == {"text": ""} and rows[failed].status == "failed"
    assert rows[pending].body["text"] == "Kết quả: ÂM TÍNH"  # not settled: still to send
    assert rows[fresh].body == card and rows[fresh].stripped_at is None
    assert await retention.strip_old_messages(database, now=NOW, keep=KEEP) == 0


async def test_a_staff_reply_to_a_stripped_relay_still_finds_its_ticket(
    database: Database,
) -> None:
    then = NOW - KEEP - DAY
    relay = NewMessage("telegram", "-100", {"text": "👤 #1: Xoaxoa 079187004321", "reply_to": "5"})
    async with database.session_scope() as session:
        (row,) = await outbox.enqueue(session, [relay], now=then)
        await outbox.mark_sent(session, outcomes=[(row, "900")], at=then)
        ticket = await tickets.add_ticket(
            session,
            Ticket(
                status="open",
                reason="Typed /hotro",
                opened_at=then,
                desk_channel="telegram",
                desk_chat_id="-100",
            ),
        )
        await tickets.link_messages(session, ticket.id, [row], then)
    assert await retention.strip_old_messages(database, now=NOW, keep=KEEP) == 1
    async with database.read_scope() as session:
        found = await tickets.by_desk_message(
            session, desk_chat_id="-100", message_id="900", since=NOW - 7 * DAY
        )
    assert found is not None and found.id == ticket.id


def test_a_stripped_body_still_reads_as_a_message() -> None:
    chat = ChatRef("telegram", "42")
    full = Outgoing(
        chat,
        "Nguyễn Thị Xoaxoa: ÂM TÍNH",
        image_file_id="AgAD",
        image_key="certificate:9",
        thread_id="12",
        template="result",
        template_data={"name": "Nguyễn Thị Xoaxoa"},
    )
    message = Outgoing.from_body(chat, stripped_body(full.to_body()), None)
    assert message == Outgoing(
        chat, "", image_key="certificate:9", thread_id="12", template="result"
    )


async def test_the_cleanup_strips_on_the_injected_clock(settings: Settings, clock: Clock) -> None:
    clock.advance(timedelta(days=400))  # the wall clock would strip nothing
    service = build_service(settings, clock=clock)
    async with service.db.session_scope() as session:
        await service.db.migrate()
        (old,) = await outbox.enqueue(
            session, [NewMessage("web", "c1", {"text": "Xoaxoa"})], now=clock() - KEEP - DAY
        )
        await outbox.mark_sent(session, outcomes=[(old, None)], at=clock() - KEEP)

    async def stripped() -> bool:
        async with service.db.read_scope() as session:
            row = await session.get(OutboxMessage, old)
        return row is not None and row.body == {"text": ""}

    async with running(service):
        await eventually(stripped)  # the hourly clean-up runs once at start-up


@pytest.fixture
async def web(settings: Settings, clock: Clock) -> AsyncIterator[tuple[Service, TestClient]]:
    """The web chat over HTTP with the sender running."""
    service = build_service(settings, clock=clock)
    await service.db.migrate()
    sender = asyncio.create_task(service.sender.run())
    async with TestClient(TestServer(service.web_app), cookie_jar=DummyCookieJar()) as client:
        yield service, client
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sender
    await service.db.dispose()


async def test_the_web_chat_shows_what_is_left_after_stripping(
    web: tuple[Service, TestClient], clock: Clock
) -> None:
    service, client = web
    browser = Browser(client)
    await browser.open()
    (welcome,) = await browser.say(text="/start")
    await browser.say(payload=payload(welcome, "Tôi đồng ý"))
    clock.advance(KEEP - DAY)
    (menu,) = await browser.say(text="menu")
    await service.sender.flush()
    clock.advance(2 * DAY)
    assert await retention.strip_old_messages(service.db, now=clock(), keep=KEEP) == 2

    browser.after = 0  # a reload: the whole history again
    assert [m["id"] for m in await browser.read()] == [menu["id"]]
    (reply,) = await browser.say(text="menu")
    assert reply["text"] == menu["text"] and reply["buttons"] == menu["buttons"]


async def test_a_number_typed_after_the_choices_were_stripped_is_plain_text(
    zalo_settings: Settings, clock: Clock, zemu: ZaloEmulator
) -> None:
    async with serving(zalo_settings, clock, zemu) as service:
        menu = await consent(service, zemu)
        assert "1. Đăng ký tiêm" in menu["text"]
        clock.advance(KEEP + DAY)
        await retention.strip_old_messages(service.db, now=clock(), keep=KEEP)
        (reply,) = await say(service, zemu, "1")  # the menu it picked from is no longer known
        assert not reply["text"].startswith("Cùng đăng ký tiêm nhé")
        assert not reply["text"].startswith("Xin lỗi, hệ thống đang gặp sự cố")


# ---------------------------------------------------------------- Zalo events


async def test_a_handled_zalo_event_is_emptied_and_its_key_kept(
    zalo_settings: Settings, clock: Clock, zemu: ZaloEmulator
) -> None:
    async with serving(zalo_settings, clock, zemu) as service:
        await consent(service, zemu)
        before = len(zemu.sent(USER))
        await say(
            service,
            zemu,
            "CCCD của tôi là 079187004321",
        )

        async def handled() -> bool:
            async with service.db.read_scope() as session:
                events = list(await session.scalars(select(InboundEvent)))
            return bool(events) and all(e.handled_at is not None for e in events)

        await quiet(service, zemu)
        assert await handled()
        async with service.db.read_scope() as session:
            events = list(await session.scalars(select(InboundEvent)))
        assert [e.body for e in events] == [{}] * len(events) == [{}] * 3
        answered = len(zemu.sent(USER))
        assert answered > before
        assert await zemu.post_event(zemu.last_event, num_retry=1) == 200  # a redelivery
        await quiet(service, zemu)
        assert len(zemu.sent(USER)) == answered

        async with service.db.session_scope() as session:
            kept = clock() + timedelta(days=2)
            assert await inbox.forget_handled_before(session, cutoff=kept - timedelta(days=3)) == 0
            assert await inbox.forget_handled_before(session, cutoff=kept + timedelta(days=2)) == 3
