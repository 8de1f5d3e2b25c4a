"""The outbox sender against the Telegram emulator: pacing, retries, crash recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.app import Service, build_service, running
from bot.config import Settings
from storage import accounts, outbox
from storage.models import Account, OutboxMessage
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.quiet import quiet

BULK_CHATS = range(9000, 9060)


@pytest.fixture
async def slow_bulk(telegram_settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    """A service whose bulk rate is 5 messages/s and which gives up after 2 attempts."""
    settings = replace(telegram_settings, telegram_rate_per_s=5.0, send_max_attempts=2)
    svc = build_service(settings, clock=clock)
    async with running(svc):
        yield svc


async def enqueue(svc: Service, messages: list[outbox.NewMessage]) -> list[int]:
    async with svc.db.session_scope() as session:
        ids = await outbox.enqueue(session, messages, now=svc.clock())
    svc.sender.wake()
    return ids


async def wait_for_status(
    svc: Service, row_id: int, status: str, *, retries: int = 0
) -> OutboxMessage:
    """The row once it has `status`: the sender let finish, up to `retries` back-offs skipped."""
    clock = svc.clock
    assert isinstance(clock, Clock)
    for attempt in range(retries + 2):
        async with svc.db.read_scope() as session:
            row = (
                await session.execute(select(OutboxMessage).where(OutboxMessage.id == row_id))
            ).scalar_one()
        if row.status == status or attempt > retries:
            break
        clock.set(max(clock(), row.not_before))  # a back-off it waits out has passed
        await quiet(svc)
    assert row.status == status, f"row {row_id} stayed {row.status} ({row.last_error})"
    return row


def bulk(chat: int, text: str = "Thông báo của phường") -> outbox.NewMessage:
    return outbox.NewMessage("telegram", str(chat), {"text": text}, bulk=True)


async def test_bulk_sends_are_paced_per_channel(
    slow_bulk: Service, emulator: TelegramEmulator
) -> None:
    await enqueue(slow_bulk, [bulk(chat) for chat in BULK_CHATS])
    await emulator.wait_for_calls("sendMessage", 6, timeout=10)
    times = sorted(t for chat in BULK_CHATS for t in emulator.sent_times(chat))
    # 5/s after a burst of a tenth of a second's worth: the sixth leaves a second after the
    # first (0.8 s allows a burst of two; a slow machine sends later still).
    assert times[5] - times[0] >= 0.8


async def test_a_reply_is_not_held_back_by_a_broadcast(slow_bulk: Service, emulator) -> None:
    await enqueue(slow_bulk, [bulk(chat) for chat in BULK_CHATS])
    emulator.user_command(42, "/help")
    (reply,) = await emulator.wait_for_sent(42, 1, timeout=5)
    assert reply["text"].startswith("Bạn có thể dùng các lệnh sau")
    sent = sum(len(emulator.sent(chat)) for chat in BULK_CHATS)
    assert sent < len(BULK_CHATS), "the reply waited for the whole broadcast"


async def test_network_errors_give_up_after_max_attempts(slow_bulk: Service, emulator) -> None:
    emulator.fail_next("sendMessage", status=502, times=10)
    (row_id,) = await enqueue(slow_bulk, [bulk(9500)])
    row = await wait_for_status(slow_bulk, row_id, "failed", retries=1)
    assert row.attempts == 2
    assert "Bad Gateway" in (row.last_error or "") or "502" in (row.last_error or "")
    assert emulator.sent(9500) == []


async def test_a_claim_lost_in_a_crash_is_sent_again(service: Service, emulator) -> None:
    (row_id,) = await enqueue(service, [bulk(9600, "Nhắc lịch tiêm")])
    await wait_for_status(service, row_id, "sent")
    crashed = outbox.NewMessage("telegram", "9601", {"text": "Sau sự cố"})
    async with service.db.session_scope() as session:
        (lost,) = await outbox.enqueue(
            session,
            [crashed],
            now=service.clock(),
            lease_until=service.clock() - timedelta(seconds=1),
        )
    service.sender.wake()
    await wait_for_status(service, lost, "sent")
    assert [m["text"] for m in emulator.sent(9601)] == ["Sau sự cố"]


async def test_messages_to_an_unreachable_account_are_dropped(service: Service, emulator) -> None:
    async with service.db.session_scope() as session:
        account, _ = await accounts.open_chat(
            session,
            channel="telegram",
            chat_id="9700",
            user_id="9700",
            locale="vi",
            now=service.clock(),
        )
        await session.execute(
            update(Account).where(Account.id == account.id).values(unreachable_at=service.clock())
        )
    message = replace(bulk(9700), account_id=account.id)
    (row_id,) = await enqueue(service, [message])
    row = await wait_for_status(service, row_id, "dropped")
    assert row.last_error == "recipient unreachable"
    assert emulator.sent(9700) == []


async def test_each_row_is_delivered_once(service: Service, emulator) -> None:
    ids = await enqueue(service, [bulk(9800, f"Tin {i}") for i in range(3)])
    for row_id in ids:
        await wait_for_status(service, row_id, "sent")
    await quiet(service, emulator)
    assert [m["text"] for m in emulator.sent(9800)] == ["Tin 0", "Tin 1", "Tin 2"]


async def test_stopping_hands_unsent_rows_back(
    telegram_settings: Settings, clock: Clock, emulator
) -> None:
    settings = replace(telegram_settings, telegram_rate_per_s=5.0)
    svc = build_service(settings, clock=clock)
    async with running(svc):
        ids = await enqueue(svc, [bulk(chat) for chat in BULK_CHATS])
        await emulator.wait_for_calls("sendMessage", 1)  # stopped while sending
    db = build_service(settings, clock=clock).db
    async with db.read_scope() as session:
        rows = list(
            (
                await session.execute(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))
            ).scalars()
        )
    await db.dispose()
    sent = sum(len(emulator.sent(chat)) for chat in BULK_CHATS)
    statuses = [row.status for row in rows]
    assert statuses.count("sent") == sent
    assert statuses.count("pending") == len(ids) - sent, statuses
    assert all(row.not_before <= clock() for row in rows if row.status == "pending")


async def test_outcomes_being_written_when_stopped_are_not_lost(
    telegram_settings: Settings, clock: Clock, emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shutdown that cancels the outcome writer in the middle of its transaction must keep
    # the batch and write it on the way out: a row left `sending` would be sent twice.
    writing = asyncio.Event()
    real_mark_sent = outbox.mark_sent

    async def stuck_mark_sent(*args, **kwargs):
        writing.set()
        await asyncio.Event().wait()  # until cancelled

    svc = build_service(telegram_settings, clock=clock)
    async with running(svc):
        monkeypatch.setattr(outbox, "mark_sent", stuck_mark_sent)
        ids = await enqueue(svc, [bulk(chat) for chat in BULK_CHATS[:5]])
        await asyncio.wait_for(writing.wait(), 10)  # the writer holds a batch
        for chat in BULK_CHATS[:5]:  # paced at the bulk rate: all five are out meanwhile
            await emulator.wait_for_sent(chat, 1)
        monkeypatch.setattr(outbox, "mark_sent", real_mark_sent)
        sender = next(task for task in svc.tasks if task.get_name() == "sender")
        sender.cancel()  # as at shutdown: run() cancels the writer, then stop() writes the rest
        await asyncio.gather(sender, return_exceptions=True)
        for row_id in ids:
            await wait_for_status(svc, row_id, "sent")
    assert sum(len(emulator.sent(chat)) for chat in BULK_CHATS[:5]) == 5
