"""A ward broadcast to 100,000 citizens through the real service, paced at R messages a second.

The bot runs as `run_bot.py serve` in its own process (SQLite in a temporary file), the
Telegram Bot API emulator (tests/fakes/telegram_api.py) in another, over real HTTP; the
broadcast is created with `run_bot.py broadcast create`, as an operator would. The fixture
(`--recipients` consenting citizens in one ward, each on a Telegram chat of their own) is
written once with bulk INSERTs into a template database, copied for each run (not timed).

Runs, in order:
  R = 1000   the whole broadcast; the achieved rate is measured between 5 % and 95 % of the
             messages received by the emulator (start-up and the tail left out), as a share
             of R (TELEGRAM_RATE_PER_S, the limiter's overall rate)
  R = 30     the first `--window` seconds only (the whole would take 55 minutes; `--full-30`
             runs it all), then `broadcast cancel`
  restart    R = 1000, the process stopped with SIGTERM (`kill PID`) halfway, started again
  kill -9    the same with SIGKILL: what was on the wire, or sent and not yet recorded, when it
             died is sent again once its 60 s lease runs out (at-least-once)
After each run it counts duplicates (messages beyond the first in any chat) and lost messages
(recipients that received nothing, unless the database shows their message withdrawn by the
cancel, or not yet written when it came).
The ratio is the figure itself: the achieved rate as a share of the rate asked for, measured in
the same run on the same machine. Ends with one JSON line.
Usage: python -m bench.broadcast [--recipients N] [--window S] [--full-30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.crypto import generate_key
from storage.db import Database
from tests.audiences import add_citizens

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "424242:BENCH-broadcast"
WARD = 26743  # Phường Bến Thành
FIRST_CHAT = 1_000_000
SHARE_WINDOW = (0.05, 0.95)


@dataclass
class Run:
    """What one run measured."""

    rate: int
    received: int
    achieved_per_s: float
    duplicates: int
    lost: int
    seconds: float

    @property
    def share(self) -> float:
        """The achieved rate as a share of the rate asked for."""
        return self.achieved_per_s / self.rate


class Emulator:
    """The emulator process and its control routes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0", "--token", TOKEN],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            self.process.kill()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.url = line.split()[1]
        self.http = aiohttp.ClientSession()

    async def sent(self) -> int:
        async with self.http.get(f"{self.url}/_emu/stats") as response:
            return int((await response.json())["sent"])

    async def calls(self, method: str) -> int:
        async with self.http.get(f"{self.url}/_emu/stats") as response:
            return int((await response.json())["calls"].get(method, 0))

    async def deliveries(self) -> dict[int, int]:
        async with self.http.get(f"{self.url}/_emu/deliveries") as response:
            return {int(chat): count for chat, count in (await response.json()).items()}

    async def reset(self) -> None:
        async with self.http.post(f"{self.url}/_emu/reset"):
            pass

    async def close(self) -> None:
        await self.http.close()
        self.process.terminate()
        self.process.wait(timeout=10)


def _env(db_file: Path, var: Path, emulator: Emulator, rate: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
        "VAR_DIR": str(var),
        "DATA_KEY": DATA_KEY,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": emulator.url,
        "TELEGRAM_RATE_PER_S": str(rate),
        "HTTP_PORT": "0",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


DATA_KEY = generate_key()


@contextlib.contextmanager
def bot(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`run_bot.py serve` in its own process; stopped (SIGTERM) when the block ends."""
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
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def command(env: dict[str, str], *args: str) -> str:
    """A `run_bot.py` command's output (it must succeed)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"run_bot.py {' '.join(args)} failed: {done.stderr}")
    return done.stdout


async def template(folder: Path, recipients: int) -> Path:
    """A migrated database holding the citizens, to copy for each run."""
    path = folder / "template.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    started = time.perf_counter()
    await add_citizens(db, range(FIRST_CHAT, FIRST_CHAT + recipients), ward=WARD)
    await db.dispose()
    print(f"fixture: {recipients:,} citizens in {time.perf_counter() - started:.1f} s", flush=True)
    return path


async def watch(
    emulator: Emulator, until: int, *, stop_at: float | None = None, timeout: float
) -> list[tuple[float, int]]:
    """Samples of (time, messages received) until `until` arrived (or `stop_at`, or timeout)."""
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now, count = time.monotonic(), await emulator.sent()
        samples.append((now, count))
        if count >= until or (stop_at is not None and now >= stop_at):
            return samples
        await asyncio.sleep(0.25)
    raise RuntimeError(f"only {samples[-1][1]} of {until} messages after {timeout:.0f} s")


def achieved(samples: list[tuple[float, int]], total: int) -> float:
    """Messages a second between 5 % and 95 % of `total` (or over the samples' span)."""
    low, high = (int(total * share) for share in SHARE_WINDOW)
    start = next((s for s in samples if s[1] >= low), samples[0])
    end = next((s for s in samples if s[1] >= high), samples[-1])
    if end[0] <= start[0]:
        return 0.0
    return (end[1] - start[1]) / (end[0] - start[0])


async def tally(emulator: Emulator, db_file: Path, recipients: int) -> tuple[int, int]:
    """(duplicates, lost) over the recipients' chats, from the emulator and the database.

    Lost: a recipient the emulator never heard of, unless a cancel withdrew their message
    before it was sent (the database says `cancelled`, or no message was written yet).
    """
    counts = await emulator.deliveries()
    with sqlite3.connect(db_file) as conn:
        status = dict(
            conn.execute(
                "SELECT o.chat_id, o.status FROM broadcast_deliveries d "
                "JOIN outbox o ON o.id = d.outbox_id"
            ).fetchall()
        )
        cancelled = conn.execute("SELECT status FROM broadcasts").fetchone()[0] == "cancelled"
    duplicates = lost = 0
    for chat in range(FIRST_CHAT, FIRST_CHAT + recipients):
        got = counts.get(chat, 0)
        duplicates += max(0, got - 1)
        withdrawn = cancelled and status.get(str(chat), "cancelled") == "cancelled"
        lost += got == 0 and not withdrawn
    return duplicates, lost


async def one_run(
    folder: Path,
    template_db: Path,
    emulator: Emulator,
    *,
    rate: int,
    recipients: int,
    window: float | None = None,
    interrupt: signal.Signals | None = None,
) -> Run:
    """One broadcast: all of it (or `window` seconds), interrupted halfway if asked."""
    await emulator.reset()
    name = f"r{rate}-{'window' if window else 'all'}-{interrupt.name if interrupt else 'once'}"
    db_file = folder / f"{name}.db"
    shutil.copy(template_db, db_file)
    env = _env(db_file, folder / name, emulator, rate)
    log = folder / f"{name}.log"
    patience = recipients / rate * 3 + 120
    with bot(env, log) as process:
        await _started(process, emulator, log)
        command(env, "broadcast", "create", "--ward", str(WARD), "--text", "Thông báo thử")
        started = time.monotonic()
        if interrupt is not None:
            await watch(emulator, recipients // 2, timeout=patience)
            process.send_signal(interrupt)
            process.wait(timeout=60)
            print(f"{name}: {interrupt.name} at {await emulator.sent():,} messages", flush=True)
        else:
            stop_at = started + window if window is not None else None
            samples = await watch(emulator, recipients, stop_at=stop_at, timeout=patience)
            if window is not None:
                command(env, "broadcast", "cancel", "1")
                await asyncio.sleep(3)  # what the sender held in memory lands, or not
            else:
                await finished(db_file)
    if interrupt is not None:
        with bot(env, log) as process:
            await _started(process, emulator, log)
            samples = await watch(emulator, recipients, timeout=patience)
            await finished(db_file)
    received = await emulator.sent()
    duplicates, lost = await tally(emulator, db_file, recipients)
    total = recipients if window is None else samples[-1][1]
    run = Run(rate, received, achieved(samples, total), duplicates, lost, samples[-1][0] - started)
    print(
        f"{name}: {received:,} received in {run.seconds:.1f} s, {run.achieved_per_s:.1f}/s "
        f"({run.share:.1%} of {rate}/s), duplicates {duplicates}, lost {lost}",
        flush=True,
    )
    return run


async def finished(db_file: Path, timeout: float = 60.0) -> None:
    """Wait until the broadcast is marked done (its report sent); it must be, soon after."""
    for _ in range(int(timeout / 0.25)):
        with sqlite3.connect(db_file) as conn:
            if conn.execute("SELECT status FROM broadcasts").fetchone()[0] == "done":
                return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"the broadcast was not marked done {timeout:.0f} s after the last message")


async def _started(process: subprocess.Popen[bytes], emulator: Emulator, log: Path) -> None:
    """Wait until the bot has registered with the emulator (it polls right after)."""
    before = await emulator.calls("deleteWebhook")
    for _ in range(1200):
        if process.poll() is not None:
            tail = log.read_text()[-2000:]  # noqa: ASYNC240 - the bot died: nothing else runs
            raise RuntimeError(f"the bot stopped:\n{tail}")
        if await emulator.calls("deleteWebhook") > before:
            await asyncio.sleep(0.5)
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not start")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=120.0, help="seconds of the R=30 run")
    parser.add_argument("--full-30", action="store_true", help="send all of it at 30/s")
    args = parser.parse_args()
    emulator = Emulator()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as tmp:
            folder = Path(tmp)
            base = await template(folder, args.recipients)
            fast = await one_run(folder, base, emulator, rate=1000, recipients=args.recipients)
            slow = await one_run(
                folder,
                base,
                emulator,
                rate=30,
                recipients=args.recipients,
                window=None if args.full_30 else args.window,
            )
            term = await one_run(
                folder, base, emulator, rate=1000, recipients=args.recipients,
                interrupt=signal.SIGTERM,
            )  # fmt: skip
            kill = await one_run(
                folder, base, emulator, rate=1000, recipients=args.recipients,
                interrupt=signal.SIGKILL,
            )  # fmt: skip
    finally:
        await emulator.close()
    print(f"{'run':<22}{'rate':>6}{'achieved/s':>12}{'share':>8}{'dup':>6}{'lost':>6}")
    for label, run in (("all at 1000/s", fast), ("window at 30/s", slow),
                       ("SIGTERM + restart", term), ("SIGKILL + restart", kill)):  # fmt: skip
        print(
            f"{label:<22}{run.rate:>6}{run.achieved_per_s:>12.1f}{run.share:>8.1%}"
            f"{run.duplicates:>6}{run.lost:>6}"
        )
    print(
        json.dumps(
            {
                "bench": "broadcast",
                "achieved_share_30": round(slow.share, 3),
                "achieved_share_1000": round(fast.share, 3),
                "duplicates": fast.duplicates + slow.duplicates,
                "lost": fast.lost + slow.lost,
                "duplicates_after_restart": term.duplicates,
                "lost_after_restart": term.lost,
                "duplicates_after_sigkill": kill.duplicates,
                "lost_after_sigkill": kill.lost,
                "achieved_per_s_30": round(slow.achieved_per_s, 1),
                "achieved_per_s_1000": round(fast.achieved_per_s, 1),
                "seconds_1000": round(fast.seconds, 1),
                "recipients": args.recipients,
                "window_30_s": None if args.full_30 else args.window,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
