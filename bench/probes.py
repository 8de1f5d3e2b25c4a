"""Security probes: issue 14's outside review replayed against the real service, and counted.

Each probe does what an attacker or a careless new user would, over real HTTP, and counts how
many attempts it made and how many the service handled as expected. The service is the real one
(`bot.app.build_service` + `running`) on a temporary SQLite database, or on the PostgreSQL
database of `--database-url` (emptied first: its public schema is dropped), with the Telegram and
Zalo emulators of tests/fakes/. Web chat clients each send from a loopback address of their own
(127.1.x.y), so the service sees distinct peers without trusting any proxy. The clock is the
tests' injectable one (`build_service(settings, clock=...)`), moved only where a probe needs time
to pass (Zalo's time window, deduplication forgetting an event, a month of retention).

Services, in order:
  main      the web chat, Zalo (signed webhook) and Telegram (polling) with a support desk:
            erasure and data at rest, web sessions and limits, headers, result lookups, the lab
            API, a refused ID number, made-up buttons, Zalo's time window and replays, old
            messages stripped after the retention period
  webhook   the same with Telegram in webhook mode: bodies no parser should choke on, posted to
            the four JSON endpoints
  faulty    Telegram behind a front that redirects to another host, drops connections or answers
            error pages quoting the URL: the bot token in any log line (every logger at DEBUG,
            tracebacks included) or stored error (SQLite)
  process   `run_bot.py serve` in a process of its own (SQLite): SIGTERM with replies waiting
            and a browser long-polling, three times; a second process on the same file
  static    pyproject.toml and the lock files
docs/security.md says what each probe checks and which test covers it. Prints a line per probe
as it goes, a Markdown table (probe | tried | handled as expected), then one JSON line.
Usage: python -m bench.probes [--only GROUP,...] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import math
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import UPDATE_MEMORY, Service, build_service, forget_old_rows, running
from bot.config import Settings
from bot.crypto import generate_key
from bot.domain.dcc.keys import write_signer
from bot.domain.retention import strip_old_messages
from bot.web.chat import COOKIE
from bot.web.server import (
    WEB_ADDRESS_POST_BURST,
    WEB_ADDRESS_POSTS_PER_S,
    WEB_POST_BURST,
    WEB_SESSION_BURST,
    WEB_SESSIONS_PER_S,
)
from storage.models import InboundEvent, OutboxMessage, Sample, SampleResult
from tests.conftest import Clock, make_signer
from tests.dependencies import LOCKS, RUNTIME, advisories, floor, pins
from tests.erasure_flows import (
    DESK,
    EVERYONE,
    checkpointed_files,
    erase_everyone,
    every_row,
    left,
    on_telegram,
    on_the_web,
    on_zalo,
    settled,
)
from tests.fakes.front import Front
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator
from tests.json_endpoints import SECRET, SHAPES, USUAL_400, envelope, posters
from tests.logs import AllLogs, secrets_of, stored_errors
from tests.payloads import HUGE, MADE_UP
from tests.pcr_fixtures import RELATIVE_ID, add_relative, sample_and_result, web_look_up
from tests.processes import SHUTDOWN_S, environment, free_port, run_bot, waiting_browser
from tests.registration_fixtures import REFUSED, add_holder
from tests.remote import Remote
from tests.staff_api import (
    LAB,
    UNKNOWN,
    add_sites,
    bearer,
    make_key,
    notices_of,
    result_row,
    sample_at,
)
from tests.test_restart import serving as serving_process
from tests.test_restart import started
from tests.webchat import (
    APOLOGY,
    Browser,
    content_security_policy,
    invented_tokens,
    labels,
    payload,
    stored_counts,
)

TUBE = "HCM-000300"  # the tube strangers guess at; its owner is tests.pcr_fixtures' relative
OWNER_BORN = "15/03/1958"
FOUND = ("Trần Thị Bình", "ÂM TÍNH")  # what the owner's lookup shows
ZALO_LATE_USER = "7009990000000000001"
ZALO_REPLAY_USER = "7009990000000000002"
TOKEN_CHAT = 7301
PROCESS_CHAT = 7400
# Made-up ids in every other kind of global button that carries one (beyond tests/payloads.py;
# found with `grep -rnE '"(appt|book|cert|camp|bc|tk):' bot`).
MORE_MADE_UP = [
    f"appt:move:{HUGE}",
    "appt:cancel:0",
    "appt:qr:-1",
    f"cert:test:{HUGE}:1",
    f"camp:no:{HUGE}",
    f"camp:keep:{HUGE}",
    f"camp:resume:{HUGE}",
    f"camp:stop:{HUGE}",
    f"camp:stopok:{HUGE}",
    f"camp:rep:{HUGE}",
    "bc:rep:0",
    f"bc:stop:{HUGE}",
    f"tk:claim:{HUGE}",
    f"tk:rate:1:{HUGE}",
]
# Step buttons (stamped by the dispatcher with the prompt they answer) whose id is made up.
STEP_MADE_UP = [
    f"reg:person:{HUGE}",
    f"reg:prov:{HUGE}",
    f"reg:ward:{HUGE}",
    f"reg:grp:{HUGE}",
    f"reg:site:{HUGE}",
    f"reg:day:{HUGE}",
    f"reg:slot:{HUGE}",
    f"reg:change:{HUGE}",
]
OPERATORS_FILE = "notes.txt"  # left in VAR_DIR by an operator, readable by all
# Words the answer to a refused ID number must not carry (issue 14, item 10).
LEAKS = ("Telegram", "Zalo", "web", "đã được đăng ký", "tài khoản khác", "hồ sơ", "lúc")


@dataclass
class Row:
    """One probe: how many attempts, how many handled as expected, and what happened."""

    key: str
    probe: str
    tried: int
    handled: int
    outcome: str

    @property
    def ok(self) -> bool:
        return self.handled == self.tried


class Report:
    """The rows so far, printed as they come."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, key: str, probe: str, tried: int, handled: int, outcome: str) -> None:
        row = Row(key, probe, tried, handled, outcome)
        self.rows.append(row)
        mark = "" if row.ok else "   <-- NOT HANDLED AS EXPECTED"
        print(f"  {key}: {handled}/{tried}, {outcome}{mark}", flush=True)

    def table(self) -> str:
        lines = ["| probe | tried | handled as expected |", "|---|---:|---|"]
        lines += [
            f"| {row.probe} | {row.tried:,} | {row.handled:,}: {row.outcome} |"
            for row in self.rows
        ]
        return "\n".join(lines)


async def guarded(report: Report, key: str, probe: Callable[[], Awaitable[None]]) -> None:
    """Run a group of probes; if it breaks down, say so in the table instead of stopping."""
    try:
        await probe()
    except Exception as error:
        traceback.print_exc()
        report.add(key, f"{key} (the probe itself broke down)", 1, 0, f"{type(error).__name__}")


def loopback_addresses() -> Iterator[str]:
    """A new client address each time (Linux routes all of 127.0.0.0/8 to this machine)."""
    for n in itertools.count():
        yield f"127.1.{n // 250}.{n % 250 + 1}"


@dataclass
class Main:
    """The main service under probe, and what its probes share."""

    svc: Service
    base_url: str
    clock: Clock
    emulator: TelegramEmulator
    zemu: ZaloEmulator
    addresses: Iterator[str]

    def client(self) -> Remote:
        """A client on an address of its own."""
        return Remote(self.base_url, local_address=next(self.addresses))


@contextlib.asynccontextmanager
async def serving(settings: Settings, clock: Clock) -> AsyncIterator[tuple[Service, str]]:
    """The running service and its base URL."""
    svc = build_service(settings, clock=clock)
    async with running(svc) as runner:
        (address,) = [a for a in runner.addresses if len(a) == 2]
        yield svc, f"http://{address[0]}:{address[1]}"


def service_settings(
    url: str, var: Path, emulator: TelegramEmulator, zemu: ZaloEmulator, **changes: Any
) -> Settings:
    """A service on every channel, a support desk on Telegram; a test signer in `var`."""
    settings = Settings(
        database_url=url,
        data_key=generate_key(),
        http_port=0,
        var_dir=var,
        log_level="WARNING",
        telegram_bot_token=emulator.token,
        telegram_api_base_url=emulator.base_url,
        support_chat_id=str(DESK),
        telegram_group_rate_per_min=600,
        zalo_app_id=zemu.app_id,
        zalo_oa_id=zemu.oa_id,
        zalo_oa_secret_key=zemu.oa_secret_key,
        zalo_app_secret=zemu.app_secret,
        zalo_access_token=zemu.access_token,
        zalo_refresh_token=zemu.refresh_token,
        zalo_api_base_url=zemu.api_base_url,
        zalo_oauth_base_url=zemu.oauth_base_url,
        zalo_business_api_base_url=zemu.business_base_url,
        chat_rate_per_s=100.0,
        chat_burst=100,
    )
    settings = replace(settings, **changes)
    write_signer(make_signer(), settings.dcc_key_path, settings.dcc_cert_path)
    return settings


async def emptied(url: str) -> None:
    """Drop and make again the public schema of a PostgreSQL database."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


# --------------------------------------------------------------------------- erasure, at rest


async def data_at_rest(report: Report, main: Main) -> None:
    """Three citizens erase their data; their values are searched in every row and file."""
    svc = main.svc
    citizen = await on_the_web(svc)
    await on_zalo(svc, main.zemu)
    await on_telegram(svc, main.emulator)
    await main.emulator.wait_for_sent(DESK, 4, timeout=10)  # both tickets reached the desk
    await settled(svc)
    traces = [trace for values in EVERYONE for trace in values.traces()]
    sqlite = svc.db.url.database if svc.db.is_sqlite else None
    before = await every_row(svc) + (checkpointed_files(sqlite) if sqlite else b"")
    unseen = [trace.decode() for trace in traces if trace not in before]  # sealed, or typed
    await erase_everyone(svc, citizen, main.zemu, main.emulator)
    await settled(svc)
    found = set(left(await every_row(svc)))
    where = "every row"
    if sqlite:
        found |= set(left(checkpointed_files(sqlite)))
        where += " and the bytes of bot.db, -wal, -shm after a checkpoint"
    report.add(
        "erased_values",
        "distinctive values of 3 citizens (web, Zalo, Telegram; names, ID and phone digits, "
        "birth dates, 2 messages to support) after `/xoadulieu`",
        len(traces),
        len(traces) - len(found),
        f"absent from {where}; left: {sorted(found) or 'none'} ({len(traces) - len(unseen)} "
        f"found there before the erasure; not in that form even then: "
        f"{', '.join(unseen) or 'none'})",
    )
    if not sqlite:
        print("  (PostgreSQL: file modes and secure_delete are SQLite's; not probed)")
        return
    path, var = Path(sqlite), svc.settings.var_dir
    owner_only = {
        path: 0o600,
        path.with_name(path.name + "-wal"): 0o600,
        path.with_name(path.name + "-shm"): 0o600,
        var: 0o700,
        svc.settings.dcc_key_path: 0o600,
        var / OPERATORS_FILE: 0o600,
    }
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in owner_only if p.exists()}
    right = [p for p, mode in modes.items() if mode == owner_only[p]]
    report.add(
        "file_modes",
        "modes of bot.db, -wal, -shm (made 0644 by an older version), VAR_DIR (0755), the "
        "signer's key and an operator's file in it (0644), while serving",
        len(owner_only),
        len(right),
        ", ".join(f"{'VAR_DIR' if p == var else p.name} {oct(m)[2:]}" for p, m in modes.items()),
    )
    async with svc.db.read_scope() as first, svc.db.read_scope() as second:
        pragmas = [
            (await s.execute(text("PRAGMA secure_delete"))).scalar() for s in (first, second)
        ]
    report.add(
        "secure_delete",
        "`PRAGMA secure_delete` on the service's connections",
        len(pragmas),
        pragmas.count(1),
        f"values {pragmas}",
    )


def as_an_older_version_left_it(var: Path, database: Path) -> None:
    """VAR_DIR 0755 with an operator's file 0644, the database and its WAL files 0644."""
    var.mkdir()
    var.chmod(0o755)
    (var / OPERATORS_FILE).write_text("left by an operator")
    (var / OPERATORS_FILE).chmod(0o644)
    older = sqlite3.connect(database)
    older.execute("PRAGMA journal_mode=WAL")
    older.execute("CREATE TABLE earlier (x)")  # the WAL files exist only after a write
    older.execute("DROP TABLE earlier")
    older.commit()
    older.close()
    for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
        if path.exists():
            path.chmod(0o644)


async def retention(report: Report, main: Main) -> None:
    """Sent messages older than the retention period, and a new one, after the clean-up."""
    svc, clock = main.svc, main.clock
    keep = timedelta(days=svc.settings.outbox_retention_days)
    clock.advance(keep + timedelta(minutes=1))
    async with main.client() as client:  # a message written now, to be kept
        browser = Browser(client)
        await browser.open()
        await browser.say(text="/help")
    await settled(svc)
    await strip_old_messages(svc.db, now=clock(), keep=keep)  # as the hourly clean-up does
    settled_rows = OutboxMessage.status.not_in(("pending", "sending", "waiting"))
    async with svc.db.read_scope() as session:
        rows = (await session.execute(select(OutboxMessage).where(settled_rows))).scalars()
        old, new = [], []
        for row in rows:
            (old if row.created_at < clock() - keep else new).append(row)
    stripped = [r for r in old if not r.body.get("text") and r.image is None and r.stripped_at]
    intact = [r for r in new if r.body.get("text")]
    report.add(
        "retention",
        f"sent messages older than {keep.days} days (every one of this run), and one written "
        "after, through the hourly clean-up",
        len(old) + len(new),
        len(stripped) + len(intact),
        f"{len(stripped)} of {len(old)} stripped of text and pictures, {len(intact)} of "
        f"{len(new)} newer intact",
    )


# --------------------------------------------------------------------------- web chat


async def invented_cookies(report: Report, main: Main, count: int = 300) -> None:
    """Posts under session tokens we never issued (random, forged MAC, another key's)."""
    before = await stored_counts(main.svc.db)
    statuses = []
    async with main.client() as client:
        page = Browser(client)
        tokens = [t for _ in range(count // 5 + 1) for t in invented_tokens(main.svc.protector)]
        for n, token in enumerate(tokens[:count]):
            headers = {**page.headers, "Cookie": f"{COOKIE}={token}"}
            body = {"id": f"m{n}", "text": "/start"}
            response = await client.post("/api/chat/messages", json=body, headers=headers)
            statuses.append(response.status)
    after = await stored_counts(main.svc.db)
    chats, rows = after[0] - before[0], after[1] - before[1]
    refused = statuses.count(401)
    report.add(
        "invented_sessions",
        "invented web session cookies posting `/start`",
        count,
        max(0, refused - chats),
        f"refused (401); {chats} accounts and {rows} messages stored",
    )


async def sessions_from_one_address(report: Report, main: Main, count: int = 300) -> None:
    """New sessions asked for from one address, each then posting `/start`."""
    before = await stored_counts(main.svc.db)
    async with main.client() as client:
        browsers = [Browser(client) for _ in range(count)]
        started_at = main.clock()
        statuses = [await browser.new_session() for browser in browsers]
        elapsed = (main.clock() - started_at).total_seconds()
        for browser in browsers:
            await browser.post(text="/start")
    issued = statuses.count(200)
    allowed = WEB_SESSION_BURST + math.floor(elapsed * WEB_SESSIONS_PER_S)
    chats = (await stored_counts(main.svc.db))[0] - before[0]
    report.add(
        "sessions_one_address",
        "new web sessions from one address, each posting `/start`",
        count,
        count - max(0, issued - allowed) - max(0, chats - issued),
        f"{issued} issued, {statuses.count(429)} refused (429) in {elapsed:.1f} s "
        f"(allowed: {allowed}); {chats} accounts",
    )


async def posts_from_one_address(report: Report, main: Main, sessions: int = 20) -> None:
    """Sessions of one address, each within its own limit, together past the address's."""
    async with main.client() as client:
        browsers = [Browser(client) for _ in range(sessions)]
        for browser in browsers:
            await browser.open()
        started_at = main.clock()
        statuses: list[int] = []
        for _ in range(WEB_POST_BURST):  # each session's whole burst, all sessions at once
            statuses += await asyncio.gather(*(b.post(text="/help") for b in browsers))
        elapsed = (main.clock() - started_at).total_seconds()
    handled, refused = statuses.count(200), statuses.count(429)
    allowed = WEB_ADDRESS_POST_BURST + math.floor(elapsed * WEB_ADDRESS_POSTS_PER_S)
    beyond = max(0, handled - allowed)  # handled past the address's limit
    other = len(statuses) - handled - refused  # neither handled nor refused: an error
    report.add(
        "posts_one_address",
        f"posts from {sessions} web sessions of one address, {WEB_POST_BURST} each",
        len(statuses),
        len(statuses) - beyond - other,
        f"{handled} handled, {refused} refused (429) in {elapsed:.1f} s (allowed: {allowed})",
    )


async def foreign_posts(report: Report, main: Main) -> None:
    """Posts a page of ours would never send: no or another Origin, not JSON."""
    before = await stored_counts(main.svc.db)
    async with main.client() as client:
        browser = Browser(client)
        await browser.open()
        port = client.make_url("/").port or 0
        changes: list[tuple[dict[str, str | None], int]] = [
            ({"Origin": None}, 403),
            ({"Origin": "https://evil.example"}, 403),
            ({"Origin": f"http://127.0.0.1:{port + 1}"}, 403),
            ({"Origin": browser.origin.replace("http://", "https://")}, 403),
            ({"Origin": "null"}, 403),
            ({"Content-Type": "text/plain"}, 415),
            ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
            ({"Content-Type": None}, 415),
        ]
        body = json.dumps({"id": "m1", "text": "/start"}).encode()
        right = 0
        for change, status in changes:
            headers = {k: v for k, v in {**browser.headers, **change}.items() if v is not None}
            for path in ("/api/chat/messages", "/api/chat/session"):
                response = await client.post(path, data=body, headers=headers)
                right += response.status == status
        stored = (await stored_counts(main.svc.db))[1] - before[1]
        ours = await browser.post(text="/start")  # the page's own post (the control)
    report.add(
        "foreign_posts",
        "chat POSTs without Origin, from another origin or port, as `text/plain` or a form",
        2 * len(changes),
        right if not stored else 0,
        f"refused (403/415), {stored} messages stored; the page's own post: {ours}",
    )


async def strict_headers(report: Report, main: Main) -> None:
    """The pages' headers, and nosniff on everything else."""
    async with main.client() as client:
        missing: list[str] = []
        checked = 0
        for path in ("/chat", "/verify"):
            response = await client.get(path)
            policy = response.headers.get("Content-Security-Policy", "")
            sources = content_security_policy(response.headers) if policy else {}
            page = await response.text()
            inline = re.findall(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))", page)
            checks = {
                "CSP without unsafe-inline": "unsafe-inline" not in policy and not inline,
                "frame-ancestors": sources.get("frame-ancestors") == "'none'",
                "nosniff": response.headers.get("X-Content-Type-Options") == "nosniff",
                "Referrer-Policy": response.headers.get("Referrer-Policy") == "no-referrer",
            }
            checked += len(checks)
            missing += [f"{path}: {name}" for name, present in checks.items() if not present]
        report.add(
            "page_headers",
            "`/chat` and `/verify`: CSP without `unsafe-inline` (and no inline script), "
            "`frame-ancestors 'none'`, `nosniff`, `Referrer-Policy: no-referrer`",
            checked,
            checked - len(missing),
            f"missing: {', '.join(missing)}" if missing else "present",
        )
        others = ["/static/chat.js", "/static/chat.css", "/api/chat/messages", "/healthz"]
        sniffing = [
            path
            for path in others
            if (await client.get(path)).headers.get("X-Content-Type-Options") != "nosniff"
        ]
        denied = await client.post("/api/samples", json={})
        if denied.headers.get("X-Content-Type-Options") != "nosniff":
            sniffing.append("/api/samples")
    report.add(
        "nosniff",
        "`nosniff` on the page's script and style, a 401 JSON answer, `/healthz`, the staff API",
        len(others) + 1,
        len(others) + 1 - len(sniffing),
        f"missing on {', '.join(sniffing)}" if sniffing else "present",
    )


# --------------------------------------------------------------------------- result lookups


async def lookups(report: Report, main: Main, chats: int = 10) -> None:
    """Strangers' wrong birth dates against one tube and one ID number; then the owner."""
    svc = main.svc
    relative = await add_relative(svc)
    await sample_and_result(svc, main.clock, [relative], TUBE, "negative")

    async def look_up(value: str, born: str, method: str) -> str:
        async with main.client() as client:
            return await web_look_up(Browser(client), value, born, method=method)

    refused = 0
    for n in range(chats):  # each stranger on a chat and an address of its own
        born = f"{n + 1:02d}/01/1950"
        for value, method in ((TUBE, "Theo mã ống"), (RELATIVE_ID, "Theo số định danh")):
            answer = await look_up(value, born, method)
            refused += "Không tìm thấy" in answer and not any(word in answer for word in FOUND)
    report.add(
        "lookup_strangers",
        f"wrong birth dates from {chats} chats (and addresses) against one tube and one ID number",
        2 * chats,
        refused,
        "no match, nothing shown",
    )
    owner = [
        await look_up(TUBE, OWNER_BORN, "Theo mã ống"),
        await look_up(RELATIVE_ID, OWNER_BORN, "Theo số định danh"),
    ]
    report.add(
        "lookup_owner",
        "then the owner's lookups (by tube, by ID number), from their own chat",
        len(owner),
        sum(all(word in answer for word in FOUND) for answer in owner),
        "the result shown",
    )
    address = next(main.addresses)  # one network, a fresh cookie for every guess
    answers = []
    for n in range(4):
        async with Remote(main.base_url, local_address=address) as client:
            answers.append(await web_look_up(Browser(client), TUBE, f"{n + 1:02d}/02/1950"))
    as_expected = [("Không tìm thấy" in a and "chờ" not in a) for a in answers[:2]]
    as_expected += ["Không tìm thấy" in answers[2] and "chờ 1 phút" in answers[2]]
    as_expected += ["chờ" in answers[3] and "Không tìm thấy" not in answers[3]]
    report.add(
        "lookup_one_network",
        "one address guessing with a fresh cookie each time",
        len(answers),
        sum(as_expected),
        "2 free failures, the 3rd told to wait, the 4th waits",
    )


# --------------------------------------------------------------------------- the lab API


async def api(client: Remote, key: str, rows: list[Any]) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/results", json={"results": rows}, headers=bearer(key))
    return response.status, await response.json()


async def sample_state(main: Main, code: str) -> tuple[str | None, int]:
    async with main.svc.db.read_scope() as session:
        sample = await session.scalar(select(Sample).where(Sample.tube_code == code))
    assert sample is not None
    return sample.result, sample.result_version


async def lab(report: Report, main: Main) -> None:
    """A lab key flipping results, reaching outside its sites, naming another lab."""
    svc = main.svc
    await add_sites(svc.db)
    async with main.client() as client:
        ours = await sample_at(svc, client, "OURS-0001", "hcm-test")
        theirs = await sample_at(svc, client, "THEIRS-0001", "hcm-other")
        forged_at = await sample_at(svc, client, "FORGED-0001", "hcm-test")
        key = await make_key(svc, "lab", "hcm-test", "hcm-third")
        assert (await api(client, key, [result_row(svc, "OURS-0001", "negative")]))[0] == 200
        told = await notices_of(svc, ours)
        state = await sample_state(main, "OURS-0001")
        flips: list[dict[str, Any]] = [{}, {"correction": {"reason": "oops"}}]
        flips += [{"correction": {}}, {"correction": True}, {"correction": "swapped"}]
        refused = 0
        for extra in flips:
            status, answer = await api(
                client, key, [result_row(svc, "OURS-0001", "positive", **extra)]
            )
            kept = await sample_state(main, "OURS-0001") == state
            silent = await notices_of(svc, ours) == told
            refused += status == 200 and bool(answer.get("problems")) and kept and silent
        report.add(
            "lab_flip",
            "a lab key flipping a negative result to positive without a correction reason "
            "(none, too short, empty, not an object)",
            len(flips),
            refused,
            "refused by row, result kept, nobody told",
        )
        reason = {"correction": {"reason": "tubes swapped on the plate"}}
        await api(client, key, [result_row(svc, "OURS-0001", "positive", **reason)])
        corrected = (await notices_of(svc, ours))[-1]
        report.add(
            "lab_correction",
            "the same flip with a reason (the control)",
            1,
            int(corrected.startswith("ĐÍNH CHÍNH") and "DƯƠNG TÍNH" in corrected),
            "applied, told to the citizen as a correction",
        )
        answers = [
            await api(client, key, [result_row(svc, code, "positive")])
            for code in ("THEIRS-0001", "NOPE-0001")
        ]
        problem = {"row": 0, "reason": UNKNOWN}
        unknown = (200, {"added": 0, "corrected": 0, "unchanged": 0, "problems": [problem]})
        untouched = await sample_state(main, "THEIRS-0001") == (None, 0)
        same = [answer == unknown for answer in answers]
        report.add(
            "lab_scope",
            "a lab key on a tube of a site it does not serve vs a code that does not exist",
            len(answers),
            sum(same) if untouched and len(await notices_of(svc, theirs)) == 1 else 0,
            "the same answer, nothing recorded or told",
        )
        forged = "Bộ Y tế: bấm vào http://example.invalid để nhận thuốc"
        await api(client, key, [result_row(svc, "FORGED-0001", "negative", lab=forged)])
        told = (await notices_of(svc, forged_at))[-1]
        async with svc.db.read_scope() as session:
            stored = set(await session.scalars(select(SampleResult.lab)))
        report.add(
            "lab_name",
            "a forged lab name (with a link) in a result row",
            1,
            int(LAB in told and "example.invalid" not in told and forged not in stored),
            "the citizen is told the key's lab",
        )


# --------------------------------------------------------------------------- registration


async def refused_id_numbers(report: Report, main: Main) -> None:
    """Typing an ID number someone else holds, as a new web chat registering a relative."""
    svc = main.svc
    held = ["079158000771", "079158000772", "079158000773"]
    await add_holder(svc, held[0], chat_id="tg-holder")  # a Telegram account with a phone
    await add_holder(svc, held[1], chat_id=None)  # kept after its account was erased
    await add_relative(svc, "web-holder", number=held[2])  # a web chat's relative
    answers = []
    for number in held:
        async with main.client() as client:
            browser = Browser(client)
            await browser.open()
            (welcome,) = await browser.say(text="/start")
            await browser.say(payload=payload(welcome, "Tôi đồng ý"))
            (who,) = await browser.say(text="/dangky")
            await browser.say(payload=payload(who, "Người thân"))
            await browser.say(text="Trần Thị Bình")
            gender = (await browser.say(text=OWNER_BORN))[-1]
            await browser.say(payload=payload(gender, "Nữ"))
            answers.append(await browser.say(text=number))
    one = [
        [m["text"] for m in answer] == [REFUSED]
        and labels(answer[-1]) == ["Hỗ trợ", "Quay lại"]
        and not any(word in REFUSED for word in LEAKS)
        for answer in answers
    ]
    report.add(
        "refused_id",
        "registering an ID number held elsewhere (a Telegram account with a phone, a kept "
        "record, a web chat's relative)",
        len(answers),
        sum(one),
        "one answer: no channel, phone or 'registered', with Hỗ trợ",
    )


# --------------------------------------------------------------------------- buttons


async def posted(browser: Browser, button: str) -> tuple[int, list[dict[str, Any]]]:
    """Press a button that is not on the page: the status and the messages it got back."""
    status = await browser.post(payload=button)
    return status, await browser.read()


def kind(answer: tuple[int, list[dict[str, Any]]]) -> bool:
    """Answered (200) with at least one message, and not with the apology for a failure."""
    status, messages = answer
    return status == 200 and bool(messages) and not any(APOLOGY in m["text"] for m in messages)


async def made_up_global(main: Main, button: str) -> dict[str, tuple[bool, str]]:
    """A global button with a made-up id, on the main menu and at a question of a flow.

    On a fresh chat; afterwards the flow must be where it was: the name typed next is taken.
    """
    async with main.client() as client:
        browser = Browser(client)
        await browser.open()
        (welcome,) = await browser.say(text="/start")
        (menu,) = await browser.say(payload=payload(welcome, "Tôi đồng ý"))
        outside = await posted(browser, button)
        (who,) = await browser.say(payload=payload(menu, "Đăng ký tiêm"))
        await browser.say(payload=payload(who, "Người thân"))  # the name question
        inside = await posted(browser, button)
        asked = [m["text"] for m in await browser.say(text="Trần Thị Bình")]
    went_on = any("ngày sinh" in text.lower() for text in asked)
    return {
        "on the menu": (kind(outside), said(outside)),
        "in a flow": (kind(inside) and went_on, said(inside) + (" " if went_on else " lost")),
    }


async def made_up_step(main: Main, button: str) -> dict[str, tuple[bool, str]]:
    """A step button of the registration, with the stamp of the question asked, a made-up id."""
    async with main.client() as client:
        browser = Browser(client)
        await browser.open()
        (welcome,) = await browser.say(text="/start")
        (menu,) = await browser.say(payload=payload(welcome, "Tôi đồng ý"))
        (who,) = await browser.say(payload=payload(menu, "Đăng ký tiêm"))
        stamp = who["buttons"][0][0]["payload"].partition("|")[0]
        answer = await posted(browser, f"{stamp}|{button}")
        shown = [m for m in [who, *answer[1]] if "Người thân" in labels(m)]
        (name,) = await browser.say(payload=payload(shown[-1], "Người thân"))
    went_on = name["text"].startswith("Họ tên đầy đủ của người thân")
    return {"in a flow": (kind(answer) and went_on, said(answer) + ("" if went_on else " lost"))}


def said(answer: tuple[int, list[dict[str, Any]]]) -> str:
    status, messages = answer
    return f"{status} {[m['text'][:50] for m in messages]}"


async def made_up_buttons(report: Report, main: Main) -> None:
    """Buttons naming ids no row has, each on a fresh chat: kind answers, nothing lost."""
    tried, unkind = 0, []
    for button in [*MADE_UP, *MORE_MADE_UP, *STEP_MADE_UP]:
        probe = made_up_step if button in STEP_MADE_UP else made_up_global
        outcomes = await probe(main, button)
        tried += len(outcomes)
        unkind += [
            f"`{button}` {where}: {what}" for where, (ok, what) in outcomes.items() if not ok
        ]
    report.add(
        "made_up_buttons",
        f"button payloads with made-up ids (`appt:qr:{HUGE}`, 2³¹, `²`, `٣`, 0, -1 ...: "
        f"{len(MADE_UP) + len(MORE_MADE_UP)} global, on the menu and at a question; "
        f"{len(STEP_MADE_UP)} step buttons)",
        tried,
        tried - len(unkind),
        f"not: {'; '.join(unkind)}" if unkind else "a kind answer; the conversation goes on",
    )


# --------------------------------------------------------------------------- Zalo


async def zalo_events(svc: Service) -> int:
    """Zalo events stored (handled or not)."""
    query = select(func.count()).select_from(InboundEvent)
    async with svc.db.read_scope() as session:
        return int(await session.scalar(query) or 0)


async def zalo_window(report: Report, main: Main) -> None:
    """Signed events far and just outside the window; replays before and after dedup forgets."""
    svc, zemu, clock = main.svc, main.zemu, main.clock
    window = timedelta(seconds=svc.settings.zalo_event_window_s)
    second = timedelta(seconds=1)

    async def stored_by(post: Callable[[], Awaitable[int]]) -> bool:
        before = await zalo_events(svc)
        return await post() == 200 and await zalo_events(svc) > before

    late = [timedelta(days=-400), timedelta(days=400), -window - second, window + second]
    kept = [
        await stored_by(
            lambda skew=skew: zemu.user_text(ZALO_LATE_USER, "/start", at=clock() + skew)
        )
        for skew in late
    ]
    on_time = [
        await stored_by(
            lambda skew=skew: zemu.user_text(ZALO_LATE_USER, "/start", at=clock() + skew)
        )
        for skew in (-window + second, window - second)
    ]
    await settled(svc)
    report.add(
        "zalo_late",
        "signed Zalo events 400 days behind and ahead, and 5 min + 1 s either way",
        len(late),
        kept.count(False),
        f"dropped, nothing stored; just inside (5 min − 1 s): {on_time.count(True)} of 2 "
        f"answered, {len(zemu.sent(ZALO_LATE_USER))} replies in all",
    )

    assert await zemu.user_text(ZALO_REPLAY_USER, "/start") == 200
    replay = zemu.last_event
    await zemu.wait_for_sent(ZALO_REPLAY_USER, 1)
    await settled(svc)
    answered = len(zemu.sent(ZALO_REPLAY_USER))
    again = []
    for step in (window - second, 2 * second, UPDATE_MEMORY):
        clock.advance(step)
        if step == UPDATE_MEMORY:
            await forget_old_rows(svc.db, now=clock())  # the hourly clean-up: dedup forgets
        stored = await stored_by(lambda: zemu.post_event(replay))
        await settled(svc)
        again.append(stored or len(zemu.sent(ZALO_REPLAY_USER)) > answered)
    report.add(
        "zalo_replay",
        "a Zalo event replayed 4:59 after, 5:01 after, and after deduplication forgot it",
        len(again),
        again.count(False),
        "never answered again",
    )


# --------------------------------------------------------------------------- JSON bodies


async def json_bodies(
    report: Report, settings: Settings, clock: Clock, zemu: ZaloEmulator
) -> None:
    """Every JSON endpoint (Telegram in webhook mode) gets bodies no parser should choke on."""
    async with serving(settings, clock) as (svc, base_url):
        await add_sites(svc.db)
        async with Remote(base_url) as client:
            post = await posters(svc, client, zemu)
            answers = [
                (name, await poster(envelope(name, value, clock)))
                for name, poster in post.items()
                for _shape, value in SHAPES
            ]
    usual = sum(answer == (400, USUAL_400[name]) for name, answer in answers)
    errors = sum(status >= 500 for _name, (status, _text) in answers)
    report.add(
        "json_shapes",
        f"JSON nested 10,000 and 33 deep, 5,000- and 21-digit integers, `1e400`, `NaN`, NUL, "
        f"half a surrogate pair ({len(SHAPES)} bodies) to the web chat, the staff API and the "
        "Telegram (webhook mode) and Zalo webhooks",
        len(answers),
        usual,
        f"the endpoint's usual 400; {errors} answered 5xx",
    )


# --------------------------------------------------------------------------- the bot token


async def token_in_logs(report: Report, tmp: Path, clock: Clock) -> None:
    """Telegram misbehaving behind a front; the token searched in every log line and error."""
    modes = {
        "redirect": "redirecting to another host",
        "close": "dropping connections",
        "error-page": "answering error pages that quote the URL",
    }
    for mode, what in modes.items():
        var = tmp / f"faulty-{mode}"
        async with TelegramEmulator() as emulator:
            front = Front(emulator.base_url)
            await front.start()
            logs, root = AllLogs(), logging.getLogger()
            level = root.level
            root.addHandler(logs)
            root.setLevel(logging.DEBUG)
            try:
                settings = Settings(
                    database_url=f"sqlite+aiosqlite:///{var}/bot.db",
                    data_key=generate_key(),
                    http_port=0,
                    var_dir=var,
                    telegram_bot_token=emulator.token,
                    telegram_api_base_url=front.base_url,
                    send_max_attempts=1,
                )
                write_signer(make_signer(), settings.dcc_key_path, settings.dcc_cert_path)
                front.fail("getMe", mode, times=2)  # the start-up check and its retry
                async with serving(settings, clock) as (svc, _base_url):
                    await logs.wait_for("bot.app", "Telegram is not reachable (")
                    await emulator.wait_for_call("deleteWebhook")  # connected at last
                    front.fail("getUpdates", mode)
                    await logs.wait_for("bot.channels.telegram.bot_api", "getUpdates failed")
                    front.fail("sendMessage", mode)
                    emulator.user_command(TOKEN_CHAT, "/start")
                    await logs.wait_for("bot.workers.sender", "giving up outbox row")
                    await svc.sender.flush()
                    errors = await stored_errors(svc.db)
            finally:
                root.removeHandler(logs)
                root.setLevel(level)
                await front.stop()
        texts = logs.lines + errors
        clean = [t for t in texts if not any(s in t for s in secrets_of(emulator.token))]
        report.add(
            f"token_{mode.replace('-', '_')}",
            f"the bot token in log lines (every logger at DEBUG, with tracebacks) and stored "
            f"errors, Telegram {what}",
            len(texts),
            len(clean) if not front.elsewhere_asked else 0,
            f"{sum(front.failed.values())} faults met; log lines: {len(logs.lines)}, stored "
            f"send errors: {len(errors)}, {len(texts) - len(clean)} with the token; the other "
            f"host asked {len(front.elsewhere_asked)} times",
        )


# --------------------------------------------------------------------------- processes


def exit_code(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


async def processes(report: Report, tmp: Path, runs: int = 3) -> None:
    """`run_bot.py serve` stopped with SIGTERM mid-work; a second process on its file."""
    var = tmp / "process"
    var.mkdir()
    database = var / "bot.db"
    async with TelegramEmulator() as emulator:
        # One message a chat every 20 s: of three welcomes, two wait in memory at SIGTERM.
        env = environment(
            f"sqlite+aiosqlite:///{database}",
            emulator,
            var,
            CHAT_RATE_PER_S="0.05",
            CHAT_BURST="1",
        )
        log = var / "bot.log"
        seconds, refusals = [], []
        for run in range(runs):
            port = free_port()
            with serving_process({**env, "HTTP_PORT": str(port)}, log) as first:
                await started(emulator, first, log)
                for _ in range(3):
                    emulator.user_command(PROCESS_CHAT + run, "/start")
                await emulator.wait_for_sent(PROCESS_CHAT + run, 1, timeout=15)
                await emulator.wait_until_consumed(timeout=15)
                if run == 0:
                    for command in ("serve", "migrate"):
                        refused = await asyncio.to_thread(run_bot, command, env)
                        said = "is already running on" in refused.stderr
                        refusals.append(refused.returncode == 1 and said and first.poll() is None)
                browser = await waiting_browser(port)
                begun = time.monotonic()
                first.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(exit_code, first, 3 * SHUTDOWN_S)
                took = time.monotonic() - begun
                answered = await browser
                seconds.append(took if code == 0 and answered == 200 else math.inf)
    report.add(
        "sigterm",
        "SIGTERM to `run_bot.py serve` with replies waiting and a browser long-polling",
        len(seconds),
        sum(s <= SHUTDOWN_S for s in seconds),
        f"exit 0 within {SHUTDOWN_S:.0f} s, the browser answered: "
        + ", ".join(f"{s:.2f} s" for s in seconds),
    )
    report.add(
        "second_process",
        "a second `serve`, and a `migrate`, on the same SQLite file while it runs",
        len(refusals),
        sum(refusals),
        "refused with one clear line; the first carries on",
    )


# --------------------------------------------------------------------------- dependencies


def dependencies(report: Report) -> None:
    """Ranges, floors and the locks."""
    bounded = [r for r in RUNTIME if {s.operator for s in r.specifier} >= {">=", "<"}]
    report.add(
        "bounded_deps",
        "runtime dependencies bounded both ways",
        len(RUNTIME),
        len(bounded),
        f"{len(RUNTIME) - len(bounded)} without an upper bound",
    )
    table = advisories()
    floors = {r.name.lower(): floor(r) for r in RUNTIME}
    fixed = [
        (name, version)
        for name, rows in table.items()
        for _advisory, version in rows
        if version is not None
    ]
    above = [name for name, version in fixed if floors.get(name, version) >= version]
    report.add(
        "advisories",
        "advisories in docs/dependencies.md's table, each below its package's floor",
        len(fixed),
        len(above),
        "none allowed",
    )
    locked = [entry for lock in LOCKS for entry in pins(lock)]
    hashed = [name for name, version, hashes in locked if version and hashes]
    report.add(
        "lock",
        f"packages pinned in {' and '.join(LOCKS)}",
        len(locked),
        len(hashed),
        "pinned with `==` and sha256 hashes (`make` installs with `--require-hashes`)",
    )


# --------------------------------------------------------------------------- run


MAIN_GROUPS = (
    "at-rest", "invented", "sessions", "posts", "origin", "headers", "lookups", "lab",
    "refused-id", "buttons", "zalo", "retention",
)  # fmt: skip
GROUPS = (*MAIN_GROUPS, "json", "token", "processes", "dependencies")


async def probe(url: str | None, wanted: set[str]) -> Report:
    """Run the groups of probes in `wanted`, in the order of `GROUPS`."""
    report = Report()
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with TelegramEmulator() as emulator, ZaloEmulator(clock=clock) as zemu:
            if wanted & set(MAIN_GROUPS):
                print("main service", flush=True)
                if url:
                    await emptied(url)
                main_url = url or f"sqlite+aiosqlite:///{root}/main/bot.db"
                if not url:
                    as_an_older_version_left_it(root / "main", root / "main" / "bot.db")
                settings = service_settings(main_url, root / "main", emulator, zemu)
                async with serving(settings, clock) as (svc, base_url):
                    zemu.webhook_url = f"{base_url}/zalo/webhook"
                    main = Main(svc, base_url, clock, emulator, zemu, loopback_addresses())
                    steps: dict[str, Callable[[Report, Main], Awaitable[None]]] = {
                        "at-rest": data_at_rest,
                        "invented": invented_cookies,
                        "sessions": sessions_from_one_address,
                        "posts": posts_from_one_address,
                        "origin": foreign_posts,
                        "headers": strict_headers,
                        "lookups": lookups,
                        "lab": lab,
                        "refused-id": refused_id_numbers,
                        "buttons": made_up_buttons,
                        "zalo": zalo_window,  # moves the clock days ahead
                        "retention": retention,  # moves it a month ahead
                    }
                    for name in MAIN_GROUPS:
                        if name in wanted:
                            await guarded(
                                report, name, lambda step=steps[name]: step(report, main)
                            )
            if "json" in wanted:
                print("webhook service", flush=True)
                if url:
                    await emptied(url)
                hook = service_settings(
                    url or f"sqlite+aiosqlite:///{root}/webhook/bot.db",
                    root / "webhook",
                    emulator,
                    zemu,
                    telegram_mode="webhook",
                    telegram_webhook_secret=SECRET,
                    telegram_webhook_url="https://bot.example.vn/telegram/webhook",
                )
                await guarded(report, "json", lambda: json_bodies(report, hook, clock, zemu))
        if "token" in wanted:
            print("Telegram misbehaving", flush=True)
            await guarded(report, "token", lambda: token_in_logs(report, root, clock))
        if "processes" in wanted:
            print("run_bot.py serve", flush=True)
            await guarded(report, "processes", lambda: processes(report, root))
    if "dependencies" in wanted:
        dependencies(report)
    return report


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        help=f"run only these groups, comma-separated (of: {', '.join(GROUPS)})",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database the probes may empty (its public schema is dropped); "
        "default: a temporary SQLite file",
    )
    args = parser.parse_args()
    # The service's own warnings (lookup alarms, dropped events) show, indented, as they come.
    shown = logging.StreamHandler()
    shown.setLevel(logging.WARNING)
    shown.setFormatter(logging.Formatter("    log: %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(shown)
    url = args.database_url
    if url:
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = "postgresql" if url else "sqlite"
    began = time.perf_counter()
    wanted = set(args.only.split(",")) if args.only else set(GROUPS)
    if wanted - set(GROUPS):
        parser.error(f"no such group: {', '.join(sorted(wanted - set(GROUPS)))}")
    report = await probe(url, wanted)
    elapsed = time.perf_counter() - began
    print(f"\nsecurity probes on {engine} ({elapsed:.0f} s)\n")
    print(report.table())
    failed = [row.key for row in report.rows if not row.ok]
    if failed:
        print(f"\nNOT handled as expected: {', '.join(failed)}", file=sys.stderr)
    summary = {
        "bench": "probes",
        "engine": engine,
        "probes": len(report.rows),
        "tried": sum(row.tried for row in report.rows),
        "handled": sum(row.handled for row in report.rows),
        "not_handled": failed,
        "seconds": round(elapsed, 1),
        "rows": {row.key: [row.tried, row.handled] for row in report.rows},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
