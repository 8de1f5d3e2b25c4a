"""Inbound throughput: N text updates from M chats through the emulator -> bot -> DB -> reply.

In the same run, against the same in-process emulators, it measures four contenders, each in
its own process (so CPU time is theirs alone):
  bot           our service (`run_bot.py serve`, SQLite) on Telegram: dedupe, account and
                conversation loaded and saved, reply written to the outbox and sent, outcome
                recorded;
  bot_zalo      the same service on Zalo: each update a signed webhook event (signature
                checked, event stored, 200, then handled as above and replied to through the
                OA API), posted 64 at a time as Zalo's servers would;
  echo_default  a bare PTB echo bot with PTB's defaults (httpx transport);
  echo_aiohttp  the same echo bot on our aiohttp transport (the practical limit).
Each contender first gets one warm-up message per chat, then all N updates at once. It prints
updates/s, p50/p99 latency (update sent -> reply received) and CPU ms per update, the ratios,
and a final JSON line. Usage: python -m bench.inbound [--updates N] [--chats M] [--runs R]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bot.crypto import generate_key
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH-token"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_update: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def command(name: str, base_url: str, workdir: Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if name == "bot":
        env.update(
            DATABASE_URL=f"sqlite+aiosqlite:///{workdir}/bench.db",
            VAR_DIR=str(workdir),
            DATA_KEY=generate_key(),
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=base_url,
            HTTP_PORT="0",
            LOG_LEVEL="WARNING",
        )
        return [sys.executable, str(ROOT / "run_bot.py"), "serve"], env
    transport = name.removeprefix("echo_")
    args = ["--base-url", base_url, "--token", TOKEN, "--transport", transport]
    return [sys.executable, "-m", "bench.echo_bot", *args], env


async def inject(session: aiohttp.ClientSession, base_url: str, updates: list[dict]) -> None:
    async with session.post(f"{base_url}/_emu/inject", json={"updates": updates}) as response:
        response.raise_for_status()


async def wait_sent(emu: TelegramEmulator, count: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while emu.messages_sent < count:
        if time.monotonic() > end:
            raise TimeoutError(f"only {emu.messages_sent} of {count} replies arrived")
        await asyncio.sleep(0.005)


@contextlib.contextmanager
def contender(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> Iterator[int]:
    """Run a contender's process (its pid); show its output if the block fails; stop it."""
    log_path = workdir / "contender.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process.pid
        except Exception:
            print(f"--- {name} failed; its output:\n{log_path.read_text()[-3000:]}")
            raise
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def result(name: str, updates: int, elapsed: float, cpu: float, latencies: list[float]) -> Result:
    latencies = sorted(latencies)
    return Result(
        name=name,
        per_s=updates / elapsed,
        p50_ms=statistics.median(latencies),
        p99_ms=latencies[int(0.99 * (len(latencies) - 1))],
        cpu_ms_per_update=cpu * 1000 / updates,
    )


async def measure(name: str, updates: int, chats: int) -> Result:
    async with TelegramEmulator(TOKEN) as emu, aiohttp.ClientSession() as session:
        with tempfile.TemporaryDirectory() as tmp:
            argv, env = command(name, emu.base_url, Path(tmp))
            with contender(name, argv, env, Path(tmp)) as pid:
                await emu.wait_for_call("deleteWebhook" if name == "bot" else "getMe", timeout=60)
                await asyncio.sleep(1)  # the first long poll is on its way
                await inject(
                    session,
                    emu.base_url,
                    [{"chat_id": 10_000 + c, "text": "xin chào"} for c in range(chats)],
                )
                await wait_sent(emu, chats, timeout=120)
                await asyncio.sleep(3)  # let per-chat token buckets refill
                warm = len(emu.latencies_ms)
                batch = [
                    {"chat_id": 10_000 + (i % chats), "text": f"kq {i}"} for i in range(updates)
                ]
                cpu0, t0 = cpu_seconds(pid), time.perf_counter()
                await inject(session, emu.base_url, batch)
                await wait_sent(emu, chats + updates, timeout=600)
                elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    return result(name, updates, elapsed, cpu, emu.latencies_ms[warm:])


ZALO_CONCURRENT_POSTS = 64


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def post_all(emu: ZaloEmulator, events: list[tuple[str, str]]) -> None:
    """Post the events, a bounded number at a time; each must be answered 200."""
    gate = asyncio.Semaphore(ZALO_CONCURRENT_POSTS)

    async def post(user: str, text: str) -> None:
        async with gate:
            status = await emu.user_text(user, text)
        if status != 200:
            raise RuntimeError(f"the webhook answered {status}")

    await asyncio.gather(*(post(user, text) for user, text in events))


async def measure_zalo(updates: int, chats: int) -> Result:
    # The bot runs as its own process on the machine's clock, so Zalo stamps events with it.
    async with ZaloEmulator(clock=lambda: datetime.now(UTC)) as emu:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
                "VAR_DIR": tmp,
                "DATA_KEY": generate_key(),
                "HTTP_PORT": str(port),
                "LOG_LEVEL": "WARNING",
                "ZALO_APP_ID": emu.app_id,
                "ZALO_OA_SECRET_KEY": emu.oa_secret_key,
                "ZALO_APP_SECRET": emu.app_secret,
                "ZALO_ACCESS_TOKEN": emu.access_token,
                "ZALO_REFRESH_TOKEN": emu.refresh_token,
                "ZALO_API_BASE_URL": emu.api_base_url,
                "ZALO_OAUTH_BASE_URL": emu.oauth_base_url,
                "ZALO_BUSINESS_API_BASE_URL": emu.business_base_url,
            }
            emu.webhook_url = f"http://127.0.0.1:{port}/zalo/webhook"
            users = [f"70{c:017d}" for c in range(chats)]
            argv = [sys.executable, str(ROOT / "run_bot.py"), "serve"]
            with contender("bot_zalo", argv, env, Path(tmp)) as pid:
                await wait_healthy(port)
                await post_all(emu, [(user, "xin chào") for user in users])
                await wait_zalo_sent(emu, chats, timeout=120)
                await asyncio.sleep(3)  # let per-chat token buckets refill
                warm = len(emu.latencies_ms)
                batch = [(users[i % chats], f"kq {i}") for i in range(updates)]
                cpu0, t0 = cpu_seconds(pid), time.perf_counter()
                await post_all(emu, batch)
                await wait_zalo_sent(emu, chats + updates, timeout=600)
                elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    return result("bot_zalo", updates, elapsed, cpu, emu.latencies_ms[warm:])


async def wait_healthy(port: int, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < end:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("the service did not start")


async def wait_zalo_sent(emu: ZaloEmulator, count: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while emu.messages_sent < count:
        if time.monotonic() > end:
            raise TimeoutError(f"only {emu.messages_sent} of {count} replies arrived")
        await asyncio.sleep(0.005)


def best(results: list[Result]) -> Result:
    """The run with the median throughput (shared machines are noisy)."""
    return sorted(results, key=lambda r: r.per_s)[len(results) // 2]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("echo_default", "echo_aiohttp", "bot", "bot_zalo"))
    args = parser.parse_args()
    names = (args.only,) if args.only else ("echo_default", "echo_aiohttp", "bot", "bot_zalo")
    runs: dict[str, list[Result]] = {name: [] for name in names}
    for _ in range(args.runs):  # interleaved, so drift in machine load hits all alike
        for name in names:
            if name == "bot_zalo":
                runs[name].append(await measure_zalo(args.updates, args.chats))
            else:
                runs[name].append(await measure(name, args.updates, args.chats))
    results = {name: best(r) for name, r in runs.items()}
    if args.only:
        r = results[args.only]
        print(
            f"{r.name}: {r.per_s:.0f}/s p50 {r.p50_ms:.0f} ms p99 {r.p99_ms:.0f} ms "
            f"CPU {r.cpu_ms_per_update:.2f} ms/update"
        )
        return
    print(f"{args.updates} updates from {args.chats} chats, median of {args.runs} runs")
    print(f"{'contender':<14}{'updates/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/upd':>12}")
    for r in results.values():
        print(
            f"{r.name:<14}{r.per_s:>11.0f}{r.p50_ms:>9.0f}{r.p99_ms:>9.0f}"
            f"{r.cpu_ms_per_update:>12.2f}"
        )
    bot, default, fast = results["bot"], results["echo_default"], results["echo_aiohttp"]
    zalo = results["bot_zalo"]
    summary = {
        "bench": "inbound",
        "updates": args.updates,
        "chats": args.chats,
        "bot_per_s": round(bot.per_s, 1),
        "echo_default_per_s": round(default.per_s, 1),
        "echo_aiohttp_per_s": round(fast.per_s, 1),
        "ratio_vs_default_echo": round(bot.per_s / default.per_s, 2),
        "ratio_vs_aiohttp_echo": round(bot.per_s / fast.per_s, 2),
        "bot_cpu_ms_per_update": round(bot.cpu_ms_per_update, 3),
        "echo_default_cpu_ms_per_update": round(default.cpu_ms_per_update, 3),
        "echo_aiohttp_cpu_ms_per_update": round(fast.cpu_ms_per_update, 3),
        "bot_p50_ms": round(bot.p50_ms, 1),
        "bot_p99_ms": round(bot.p99_ms, 1),
        "zalo_per_s": round(zalo.per_s, 1),
        "zalo_ratio_vs_telegram": round(zalo.per_s / bot.per_s, 2),
        "zalo_cpu_ms_per_update": round(zalo.cpu_ms_per_update, 3),
        "zalo_p50_ms": round(zalo.p50_ms, 1),
        "zalo_p99_ms": round(zalo.p99_ms, 1),
    }
    print(
        f"bot / default echo: {summary['ratio_vs_default_echo']}x throughput; "
        f"bot / aiohttp echo: {summary['ratio_vs_aiohttp_echo']}x; "
        f"Zalo / Telegram: {summary['zalo_ratio_vs_telegram']}x"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
