"""`run_bot.py` as separate processes: their environment, a free port, a browser waiting on one.

With `tests.test_restart.serving` and `started`, what the tests and `bench.probes` use to run the
real entry point against the Telegram emulator.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

from aiohttp import ClientSession

from bot.crypto import generate_key
from tests.fakes.telegram_api import TelegramEmulator

ROOT = Path(__file__).resolve().parent.parent
SHUTDOWN_S = 5.0  # docs/operations.md: the process is gone this long after SIGTERM


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(
    db_url: str, emulator: TelegramEmulator, var: Path, **extra: str
) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "VAR_DIR": str(var),
        "DATA_KEY": generate_key(),
        "TELEGRAM_BOT_TOKEN": emulator.token,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "HTTP_PORT": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


async def waiting_browser(port: int) -> asyncio.Task[int]:
    """A web chat whose long poll (up to 25 s) is open; the task ends with the answer's status."""
    session = ClientSession()
    origin = f"http://127.0.0.1:{port}"
    issued = await session.post(  # as the page does: the server issues the session
        f"{origin}/api/chat/session",
        data=b"{}",
        headers={"Origin": origin, "Content-Type": "application/json"},
    )
    assert issued.status == 200
    cookies = "; ".join(value.split(";", 1)[0] for value in issued.headers.getall("Set-Cookie"))
    issued.release()

    async def poll() -> int:
        try:
            async with session.get(
                f"http://127.0.0.1:{port}/api/chat/messages",
                params={"after": "0", "wait": "25"},
                headers={"Cookie": cookies},
            ) as answer:
                await answer.read()
                return answer.status
        finally:
            await session.close()

    task = asyncio.create_task(poll())
    await asyncio.sleep(0.2)  # the request is on its way and waiting on the server
    return task


def run_bot(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), command],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
