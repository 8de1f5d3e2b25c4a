"""Rate limits kept in Redis: several workers together stay within the platform's limits."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.app import build_service, running
from bot.channels.telegram.bot_api import TelegramChannel
from bot.config import ConfigError, Settings
from bot.workers.sender import Sender
from storage import outbox
from storage.db import Database
from storage.shared_limits import RedisLimiter
from tests.clock import Clock
from tests.fakes.telegram_api import TelegramEmulator

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/6")
BULK_RATE = 10.0  # a second, with a burst of one (a tenth of a second's worth, at least one)
BULK_CHATS = range(20_000, 20_030)
BUSY_CHAT = 777  # 1 message a second, a burst of 3


@pytest.fixture
async def limiters() -> AsyncIterator[tuple[RedisLimiter, RedisLimiter]]:
    """Two limiters, as two workers would hold them, on fresh keys of the same Redis."""
    prefix = f"test:{uuid.uuid4().hex}:"
    pair = (
        RedisLimiter.from_url(REDIS_URL, prefix=prefix),
        RedisLimiter.from_url(REDIS_URL, prefix=prefix),
    )
    yield pair
    for limiter in pair:
        await limiter.close()


def most_in_a_window(times: list[float], window: float) -> int:
    """The largest number of `times` within any `window` seconds."""
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] > window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_two_workers_together_keep_the_bulk_and_chat_rates(
    database: Database,
    clock: Clock,
    emulator: TelegramEmulator,
    limiters: tuple[RedisLimiter, RedisLimiter],
) -> None:
    senders = []
    for limiter in limiters:
        channel = emulator_channel(emulator)
        await channel.start()
        sender = Sender(database, {"telegram": channel}, clock=clock, limiter=limiter)
        senders.append((sender, channel))
    rows = [outbox.NewMessage("telegram", str(c), {"text": "Tin"}, bulk=True) for c in BULK_CHATS]
    rows += [outbox.NewMessage("telegram", str(BUSY_CHAT), {"text": f"{i}"}) for i in range(6)]
    half = len(BULK_CHATS) // 2
    async with database.session_scope() as session:
        await outbox.enqueue(session, rows[:half], now=clock())
    tasks = [asyncio.create_task(senders[0][0].run())]  # the first worker claims the first half
    try:
        await emulator.wait_for_sent(BULK_CHATS[0], 1, timeout=10)
        async with database.session_scope() as session:
            await outbox.enqueue(session, rows[half:], now=clock())
        tasks.append(asyncio.create_task(senders[1][0].run()))  # the second claims the rest
        for chat in BULK_CHATS:
            await emulator.wait_for_sent(chat, 1, timeout=20)
        await emulator.wait_for_sent(BUSY_CHAT, 6, timeout=20)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, channel in senders:
            await channel.stop()
    bulk_times = [t for chat in BULK_CHATS for t in emulator.sent_times(chat)]
    # One worker alone would keep 10 a second; two keeping their own buckets, 20. A tenth of a
    # second is allowed for the requests' travel (one may arrive sooner than its turn).
    assert most_in_a_window(bulk_times, 1.0) <= BULK_RATE * 1.1 + 1
    assert most_in_a_window(bulk_times, 2.0) <= BULK_RATE * 2.1 + 1
    busy = emulator.sent_times(BUSY_CHAT)
    assert most_in_a_window(busy, 1.0) <= 3 + 1  # the burst, then 1 a second
    assert most_in_a_window(busy, 2.0) <= 3 + 2
    assert [m["text"] for m in emulator.sent(BUSY_CHAT)] == [str(i) for i in range(6)]


def emulator_channel(emulator: TelegramEmulator) -> TelegramChannel:
    return TelegramChannel(
        token=emulator.token,
        base_url=emulator.base_url,
        chat_rate_per_s=1.0,
        chat_burst=3,
        bulk_rate_per_s=BULK_RATE,
    )


async def test_workers_share_one_bucket_and_its_pause(
    limiters: tuple[RedisLimiter, RedisLimiter],
) -> None:
    first, second = limiters
    waits = [
        await first.reserve("telegram:chat:1", 1.0, 3),
        await second.reserve("telegram:chat:1", 1.0, 3),
        await first.reserve("telegram:chat:1", 1.0, 3),
        await second.reserve("telegram:chat:1", 1.0, 3),  # the burst of 3 is spent
    ]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0.9 < waits[3] <= 1.0
    await first.pause("telegram:chat:2", 1.0, 3, 30.0)  # "retry after 30 s" seen by one worker
    assert 29.9 < await second.reserve("telegram:chat:2", 1.0, 3) <= 30.0
    assert await second.reserve("telegram:chat:3", 1.0, 3) == 0.0  # other chats go on


def test_several_workers_need_redis(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="WORKERS=2 needs REDIS_URL"):
        replace(settings, workers=2).check()
    replace(settings, workers=2, redis_url=REDIS_URL).check()
    env = {"WORKERS": "3", "REDIS_URL": "http://example.org"}
    with pytest.raises(ConfigError, match="REDIS_URL must look like"):
        Settings.from_env(env)


async def test_the_service_refuses_to_start_when_redis_does_not_answer(
    settings: Settings, clock: Clock
) -> None:
    svc = build_service(replace(settings, redis_url="redis://127.0.0.1:1/6"), clock=clock)
    with pytest.raises(ConfigError, match="REDIS_URL: Redis does not answer"):
        async with running(svc):
            pass
