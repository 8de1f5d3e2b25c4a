"""SIGTERM in the middle of work: the process is gone within 5 s and nothing is lost; a second
`serve` on the same SQLite file is refused while the first runs.

These run the real entry point (`run_bot.py serve`) as separate processes against the Telegram
emulator, as `tests/test_restart.py` does.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.fakes.telegram_api import TelegramEmulator
from tests.processes import SHUTDOWN_S, environment, free_port, run_bot, waiting_browser
from tests.test_restart import serving, started

CHAT = 7002


async def test_sigterm_mid_work_exits_within_5_s_and_nothing_is_lost(
    db_url: str, emulator: TelegramEmulator, tmp_path: Path
) -> None:
    # One message a chat every 20 s: three welcomes are written at once, two wait in memory.
    port = free_port()
    slow = environment(
        db_url, emulator, tmp_path, CHAT_RATE_PER_S="0.05", CHAT_BURST="1", HTTP_PORT=str(port)
    )
    log = tmp_path / "bot.log"
    with serving(slow, log) as first:
        await started(emulator, first, log)
        for _ in range(3):
            emulator.user_command(CHAT, "/start")
        await emulator.wait_for_sent(CHAT, 1, timeout=15)
        await emulator.wait_until_consumed(timeout=15)  # handled, their replies in the outbox
        browser = await waiting_browser(port)
        first.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, SHUTDOWN_S) == 0, log.read_text()
        assert await browser == 200  # the waiting browser was answered, not dropped
    assert len(emulator.sent(CHAT)) == 1

    with serving(environment(db_url, emulator, tmp_path), log) as second:
        await started(emulator, second, log)
        sent = await emulator.wait_for_sent(CHAT, 3, timeout=15)
    assert [m["text"].split("!")[0] for m in sent] == ["Xin chào"] * 3
    assert "Traceback" not in log.read_text()


async def test_a_second_process_on_the_same_sqlite_file_is_refused(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    env = environment(f"sqlite+aiosqlite:///{database}", emulator, tmp_path)
    log = tmp_path / "bot.log"
    with serving(env, log) as first:
        await started(emulator, first, log)
        for command in ("serve", "migrate"):
            refused = await asyncio.to_thread(run_bot, command, env)
            assert refused.returncode == 1
            assert refused.stderr.splitlines() == [
                f"start-up error: process {first.pid} is already running on {database}; stop "
                "it first (one process per SQLite file; several need PostgreSQL)"
            ]
        assert first.poll() is None  # the first one carries on
        emulator.user_command(CHAT, "/start")
        await emulator.wait_for_sent(CHAT, 1, timeout=15)
        first.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, SHUTDOWN_S) == 0
    # Released with the process: the next one starts.
    migrated = await asyncio.to_thread(run_bot, "migrate", env)
    assert (migrated.returncode, migrated.stdout) == (0, "database schema is up to date\n")
