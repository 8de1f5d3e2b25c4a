"""`kill -9` in the middle of a flow, then a fresh start: the citizen carries on where they were.

This runs the real entry point (`run_bot.py serve`) as a separate process against the Telegram
emulator, on each database engine under test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.crypto import generate_key
from tests.chat import consent, press, say
from tests.fakes.telegram_api import TelegramEmulator

ROOT = Path(__file__).resolve().parent.parent
CHAT = 7001


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`run_bot.py serve` in its own process; killed with SIGKILL when the block ends."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "run_bot.py"), "serve"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


async def started(emulator: TelegramEmulator, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the bot has registered with the emulator (it polls right after).

    What is queued meanwhile waits for its first poll.
    """
    deletes = len([c for c in emulator.calls if c.method == "deleteWebhook"])

    def registered() -> bool:
        calls = [c for c in emulator.calls if c.method == "deleteWebhook"]
        return len(calls) > deletes or process.poll() is not None

    try:
        await emulator.wait_until(registered, timeout=60)  # a minute on a busy machine
    except AssertionError:
        raise AssertionError(f"the bot did not start:\n{log.read_text()}") from None
    assert process.poll() is None, log.read_text()


async def test_kill_9_mid_flow_then_restart_continues(
    db_url: str, emulator: TelegramEmulator, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "VAR_DIR": str(tmp_path),
        "DATA_KEY": generate_key(),
        "TELEGRAM_BOT_TOKEN": emulator.token,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "HTTP_PORT": "0",
        "LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "bot.log"
    with serving(env, log) as first:
        await started(emulator, first, log)
        await consent(emulator, CHAT)
        ask = await say(emulator, CHAT, "/sodienthoai")
        assert ask["text"].startswith("Bạn vui lòng cho biết số điện thoại di động")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

    with serving(env, log) as second:
        await started(emulator, second, log)
        confirm = await say(emulator, CHAT, "0912 345 678", timeout=15)
        assert confirm["text"] == "Số điện thoại của bạn là +84 91* *** 678, đúng không ạ?"
        saved = await press(emulator, CHAT, confirm, "Đúng, lưu lại")
        assert saved["text"].startswith("Đã lưu số +84 91* *** 678.")
