"""Lab results at scale: import N results for tubes of 2N people, then push their notices.

On each engine (SQLite in a temporary file; PostgreSQL in a throwaway database `bench_results`
created on the server at BENCH_DATABASE_URL, TEST_DATABASE_URL or 127.0.0.1:5432, and dropped
afterwards), through the project's `Database` and migrations, it loads a fixture with Core bulk
INSERTs (not timed): `--people` people, each on their own Telegram account (a chat id; 80 %
Vietnamese, 20 % English), in half as many tubes at 10 sites; a quarter of the tubes are pooled
(2-10 people, 5 on average), the rest hold one person. Then, timed, in the same run:
  baseline  the lab's CSV chunks parsed (csv module, result word, tested_at), their tubes looked
            up with one SELECT per chunk and written as plain INSERTs of `sample_results` rows
            (one executemany per chunk): no checks, no audit, no notices. Deleted afterwards.
  import    `bot.imports.import_results` on the same chunks, one transaction per chunk: each
            tube's result, its audit line and one outbox notice per person, in the person's
            language. The clock runs from the first chunk's start to the last chunk's commit,
            which queues the last notification.
  delivery  the Telegram emulator (tests/fakes/telegram_api.py, real HTTP, in its own process)
            and the service's `Sender` with a `TelegramChannel` pointing at it (bulk rate 1000/s,
            as with TELEGRAM_PAID_BROADCAST; result notices are not bulk rows, so only the
            per-chat bucket applies, and every person has a chat of their own): the time until
            the emulator has received the first `--deliver` notifications (oldest first);
            then on until it has them all, when the sender idles: the bench process's CPU
            share over 5 s (against its share over 5 s before the sender started, the
            baseline), one claim with nothing due over the delivered history (against the
            claim as it was before lanes), and the seconds from cancelling the sender to its end.
Chunks of 1,000 rows: the rate is the same with 10,000 (measured), and a transaction of about
1.6 s (SQLite) or 3 s (PostgreSQL) neither holds SQLite's write lock long nor keeps the first
notices waiting for the end of a long transaction.
Defaults: 50,000 people, so both engines finish in about 6 minutes on 2 cores; the issue's
scale (`--people 200000`, 100,000 results) takes about 11 minutes.
It prints import rows/s, seconds to the first and last notification queued, the cost ratio
(import time / baseline time: 75x means importing a result costs as much as 75 parsed rows
written as plain INSERTs), notifications delivered/s, and a final JSON line whose unsuffixed
figures are SQLite's (`unrecorded_after_stop`: messages the emulator received that the outbox
does not show as sent once the sender has stopped; it should be 0; `sender_idle_cpu_share`
should be about `baseline_idle_cpu_share`).
Usage: python -m bench.results [--people N] [--chunk R] [--deliver M] [--engines E ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select, text

from bench.databases import on_engines
from bot.channels.telegram.bot_api import TelegramChannel
from bot.domain.results import read_result, read_tested_at
from bot.handlers.privacy import CONSENT_VERSION
from bot.i18n import TIMEZONE
from bot.imports import import_results
from bot.workers.sender import Sender
from storage import outbox
from storage.db import Database
from storage.models import (
    Account,
    OutboxMessage,
    Person,
    Sample,
    SampleMember,
    SampleResult,
    Site,
    table,
    utcnow,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "bench_results"
TOKEN = "123456:BENCH-token"
SITES = 10
POOLED_SHARE = 0.25
POOL_MEAN = 5  # with 2 people per tube overall and a quarter pooled, pools average 5
POOL_SIZES = (2, 10)
INSERT_BATCH = 20_000
LAB = "CDC TP. Hồ Chí Minh"
# What labs write: mostly negative; English and Vietnamese words, with and without accents.
WORDS = [
    ("âm tính", 40), ("negative", 30), ("am tinh", 24), ("dương tính", 2), ("positive", 1),
    ("duong tinh", 1), ("không xác định", 1), ("inconclusive", 1),
]  # fmt: skip


@dataclass
class Figures:
    engine: str
    rows: int
    people: int
    setup_s: float
    baseline_s: float
    import_s: float
    first_s: float  # to the first chunk's commit: its notifications can be delivered
    queued: int
    wanted: int
    delivery: Delivery

    @property
    def delivered(self) -> int:
        return self.delivery.delivered

    @property
    def recorded_sent(self) -> int:
        return self.delivery.recorded

    @property
    def import_rows_per_s(self) -> float:
        return self.rows / self.import_s

    @property
    def baseline_rows_per_s(self) -> float:
        return self.rows / self.baseline_s

    @property
    def cost_ratio(self) -> float:
        return self.import_s / self.baseline_s

    @property
    def notifications_per_s(self) -> float:
        return self.wanted / self.delivery.seconds


# -- the fixture -----------------------------------------------------------------------------


def tube_sizes(people: int, rng: random.Random) -> list[int]:
    """People per tube: half as many tubes as people, a quarter pooled (2-10, 5 on average)."""
    tubes = people // 2
    pooled = int(tubes * POOLED_SHARE)
    single = tubes - pooled
    low, high = POOL_SIZES
    sizes = [rng.randint(low, 2 * POOL_MEAN - low) for _ in range(pooled)]
    target = people - single
    while sum(sizes) != target:  # nudge random pools until the people add up exactly
        i = rng.randrange(pooled)
        step = 1 if sum(sizes) < target else -1
        if low <= sizes[i] + step <= high:
            sizes[i] += step
    sizes += [1] * single
    rng.shuffle(sizes)
    return sizes


async def bulk(db: Database, entity: type, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_BATCH):
        async with db.session_scope() as session:
            await session.execute(insert(table(entity)), rows[start : start + INSERT_BATCH])


async def ids(db: Database, entity: Any) -> list[int]:
    async with db.read_scope() as session:
        return list((await session.scalars(select(entity.id).order_by(entity.id))).all())


async def load_fixture(db: Database, people: int, now: datetime) -> list[str]:
    """Sites, accounts, people, tubes and their members; the tube codes, in order."""
    rng = random.Random(20261130)
    taken = now - timedelta(hours=20)
    await bulk(
        db,
        Site,
        [
            {
                "id": f"hcm-{s}",
                "name": f"Trạm Y tế phường {s}",
                "address": f"{s} Lê Lợi",
                "province_code": 79,
                "ward_code": 26743,
                "active": True,
            }
            for s in range(SITES)
        ],
    )
    await bulk(
        db,
        Account,
        [
            {
                "channel": "telegram",
                "chat_id": str(10_000_000 + i),
                "user_id": str(10_000_000 + i),
                "locale": "en" if i % 5 == 0 else "vi",
                "consent_version": CONSENT_VERSION,  # registered citizens have consented
                "created_at": taken,
            }
            for i in range(people)
        ],
    )
    account_ids = await ids(db, Account)
    await bulk(
        db,
        Person,
        [
            {
                "account_id": account_id,
                "full_name": f"Nguyễn Văn {i}",
                "birth_date": date(1990, 1, 1) + timedelta(days=i % 10_000),
                "gender": "male" if i % 2 else "female",
                "id_sealed": b"sealed",
                "id_index": f"bench-{i}",
                "province_code": 79,
                "ward_code": 26743,
                "divisions_version": "2025",
                "priority_group": "general",
                "is_holder": True,
                "created_at": taken,
            }
            for i, account_id in enumerate(account_ids)
        ],
    )
    person_ids = await ids(db, Person)
    sizes = tube_sizes(people, rng)
    codes = [f"HCM-{t:07d}" for t in range(len(sizes))]
    await bulk(
        db,
        Sample,
        [
            {
                "tube_code": code,
                "site_id": f"hcm-{t % SITES}",
                "taken_at": taken,
                "taken_by": None,
                "pooled": size > 1,
                "result_version": 0,
                "created_at": taken,
            }
            for t, (code, size) in enumerate(zip(codes, sizes, strict=True))
        ],
    )
    sample_ids = await ids(db, Sample)
    members = []
    people_left = iter(person_ids)
    for sample_id, size in zip(sample_ids, sizes, strict=True):
        for _ in range(size):
            person_id = next(people_left)
            members.append(
                {
                    "sample_id": sample_id,
                    "person_id": person_id,
                    "token_id": f"{person_id:024x}",
                    "notified_version": 0,
                }
            )
    await bulk(db, SampleMember, members)
    if not db.is_sqlite:  # what autovacuum would do after a load this size
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    return codes


def csv_chunks(codes: list[str], chunk: int, now: datetime) -> list[str]:
    """The lab's results as CSV texts of `chunk` rows each (header included), tubes shuffled."""
    rng = random.Random(7)
    words = rng.choices([w for w, _ in WORDS], [n for _, n in WORDS], k=len(codes))
    order = list(range(len(codes)))
    rng.shuffle(order)
    tested = (now - timedelta(hours=2)).astimezone(TIMEZONE)
    chunks = []
    for start in range(0, len(order), chunk):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["tube_code", "result", "tested_at", "lab"])
        for t in order[start : start + chunk]:
            moment = tested + timedelta(seconds=t % 3600)
            stamp = moment.strftime("%d/%m/%Y %H:%M" if t % 2 else "%Y-%m-%d %H:%M")
            writer.writerow([codes[t], words[t], stamp, LAB])
        chunks.append(out.getvalue())
    return chunks


# -- the timed parts -------------------------------------------------------------------------


async def baseline(db: Database, chunks: list[str], now: datetime) -> float:
    """Seconds to parse the chunks and write their rows as plain INSERTs, a chunk a transaction."""
    samples, results = table(Sample), table(SampleResult)
    t0 = time.perf_counter()
    for chunk in chunks:
        rows = list(csv.DictReader(io.StringIO(chunk)))
        async with db.session_scope() as session:
            found = await session.execute(
                select(samples.c.tube_code, samples.c.id).where(
                    samples.c.tube_code.in_([row["tube_code"] for row in rows])
                )
            )
            sample_id = {code: id_ for code, id_ in found}
            await session.execute(
                insert(results),
                [
                    {
                        "sample_id": sample_id[row["tube_code"]],
                        "version": 1,
                        "result": read_result(row["result"]),
                        "tested_at": read_tested_at(row["tested_at"]),
                        "lab": row["lab"],
                        "source": "import",
                        "recorded_at": now,
                    }
                    for row in rows
                ],
            )
    elapsed = time.perf_counter() - t0
    async with db.session_scope() as session:
        await session.execute(text("DELETE FROM sample_results"))
    if not db.is_sqlite:
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE sample_results"))
    return elapsed


async def import_all(db: Database, chunks: list[str], now: datetime) -> tuple[float, float]:
    """Seconds from the first chunk's start to the first and to the last chunk's commit."""
    t0 = time.perf_counter()
    first = 0.0
    for chunk in chunks:
        async with db.session_scope() as session:
            report = await import_results(session, chunk, now=now)
        first = first or time.perf_counter() - t0
        if report.problems or report.updated or report.unchanged:
            raise RuntimeError(f"import went wrong: {report.summary()} {report.problems[:3]}")
    return first, time.perf_counter() - t0


async def count(db: Database, *where: Any) -> int:
    async with db.read_scope() as session:
        found = await session.scalar(select(func.count()).select_from(OutboxMessage).where(*where))
        return int(found or 0)


async def start_emulator() -> tuple[subprocess.Popen[str], str]:
    """The Telegram emulator in its own process (so its CPU is not the sender's); its URL."""
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
        [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0", "--token", TOKEN],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return process, line.split()[1]


@dataclass
class Delivery:
    delivered: int  # by the emulator, once the sender has stopped
    seconds: float  # until the emulator had the first `--deliver`
    recorded: int  # rows recorded as sent, once the sender has stopped
    baseline_cpu: float  # the bench process's share of a core, idle, before the sender ran
    idle_cpu: float  # its share with the sender running, everything delivered
    claim_ms: float  # one claim with nothing due, over the delivered history
    old_claim_ms: float  # the same with the claim as it was (ORDER BY id, OR filter)
    stop_s: float  # from cancelling the sender to its task's end


IDLE_WINDOW_S = 5.0


async def cpu_share(seconds: float) -> float:
    """This process's CPU time over the next `seconds`, as a share of one core."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0)


async def claim_ms(db: Database, statement: Any) -> float:
    """Milliseconds one claim's SELECT takes (median of 21), nothing being due."""
    times = []
    for _ in range(21):
        async with db.read_scope() as session:
            t0 = time.perf_counter()
            found = (await session.execute(statement)).all()
            times.append((time.perf_counter() - t0) * 1000)
        if found:
            raise RuntimeError(f"{len(found)} rows still due after delivery")
    return sorted(times)[len(times) // 2]


def old_claim(now: datetime) -> Any:
    """The claim before lanes: due rows in id order, an OR filter, no index of unsent rows."""
    o = OutboxMessage
    return (
        select(o)
        .where(
            o.channel.in_(["telegram"]),
            ((o.status.in_(("pending", "waiting"))) & (o.not_before <= now))
            | ((o.status == "sending") & (o.lease_until < now)),
        )
        .order_by(o.id)
        .limit(200)
    )


async def deliver(db: Database, wanted: int, queued: int) -> Delivery:
    """Run the sender until the emulator has every notice; idle figures; then stop it."""
    process, base_url = await start_emulator()
    channel = TelegramChannel(
        token=TOKEN,
        base_url=base_url,
        chat_rate_per_s=1.0,
        chat_burst=3,
        bulk_rate_per_s=1000.0,
        paid_broadcast=True,
    )
    try:
        await channel.start()
        baseline_cpu = await cpu_share(IDLE_WINDOW_S)
        sender = Sender(db, {channel.name: channel}, clock=utcnow)
        async with aiohttp.ClientSession() as http:

            async def received() -> int:
                # A stats request lost while the emulator is busiest must not stall the run.
                for _ in range(10):
                    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                        async with http.get(
                            f"{base_url}/_emu/stats", timeout=aiohttp.ClientTimeout(total=5)
                        ) as response:
                            return int((await response.json())["sent"])
                raise RuntimeError("the emulator stopped answering")

            t0 = time.perf_counter()
            task = asyncio.create_task(sender.run(), name="sender")
            delivered, elapsed = 0, 0.0
            while delivered < queued:
                if task.done():
                    task.result()  # raises what stopped it
                if time.perf_counter() - t0 > 900:
                    raise TimeoutError(f"only {delivered} of {queued} notifications arrived")
                await asyncio.sleep(0.1)
                delivered = await received()
                if delivered >= wanted and not elapsed:
                    elapsed = time.perf_counter() - t0
            await asyncio.wait_for(sender.drained(), 60)  # every outcome written
            idle_cpu = await cpu_share(IDLE_WINDOW_S)
            now = utcnow()
            new = outbox.due_rows(now, ["telegram"], 200, OutboxMessage.lane < outbox.BULK)
            claim, old = await claim_ms(db, new), await claim_ms(db, old_claim(now))
            t1 = time.perf_counter()
            task.cancel()
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30)
            stop_s = time.perf_counter() - t1
            delivered = await received()
    finally:
        await channel.stop()
        process.terminate()
        process.wait(timeout=15)
    recorded = await count(db, OutboxMessage.status == "sent")
    async with db.read_scope() as session:
        errors = (
            await session.execute(
                select(OutboxMessage.last_error, func.count())
                .where(OutboxMessage.last_error.is_not(None))
                .group_by(OutboxMessage.last_error)
                .order_by(func.count().desc())
                .limit(3)
            )
        ).all()
    for error, times in errors:  # rows tried more than once, and why
        print(f"  {times} rows were retried after: {error}", flush=True)
    return Delivery(delivered, elapsed, recorded, baseline_cpu, idle_cpu, claim, old, stop_s)


async def measure(engine: str, url: str, args: argparse.Namespace) -> Figures:
    db = Database(url)
    try:
        await db.migrate()
        now = utcnow()
        t0 = time.perf_counter()
        codes = await load_fixture(db, args.people, now)
        setup_s = time.perf_counter() - t0
        print(f"{engine}: fixture of {args.people:,} people in {len(codes):,} tubes loaded in "
              f"{setup_s:.1f} s", flush=True)  # fmt: skip
        chunks = csv_chunks(codes, args.chunk, now)
        baseline_s = await baseline(db, chunks, now)
        print(f"{engine}: baseline {baseline_s:.1f} s", flush=True)
        first_s, import_s = await import_all(db, chunks, now)
        queued = await count(db)
        print(f"{engine}: import {import_s:.1f} s, {queued:,} notifications queued", flush=True)
        if queued != args.people:
            raise RuntimeError(f"{queued} notifications queued for {args.people} people")
        delivery = await deliver(db, min(args.deliver, queued), queued)
    finally:
        await db.dispose()
    return Figures(
        engine=engine,
        rows=len(codes),
        people=args.people,
        setup_s=setup_s,
        baseline_s=baseline_s,
        import_s=import_s,
        first_s=first_s,
        queued=queued,
        wanted=min(args.deliver, queued),
        delivery=delivery,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000, help="people (tubes: half)")
    parser.add_argument("--chunk", type=int, default=1_000, help="CSV rows per transaction")
    parser.add_argument("--deliver", type=int, default=20_000, help="notifications to deliver")
    parser.add_argument(
        "--engines", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    if args.people < 40 or args.chunk < 1 or args.deliver < 1:
        parser.error("--people must be 40 or more, --chunk and --deliver 1 or more")
    results = await on_engines(
        args.engines, BENCH_DB, lambda engine, url: measure(engine, url, args)
    )

    tubes = args.people // 2
    print(
        f"{tubes:,} results for {args.people:,} people ({POOLED_SHARE:.0%} of tubes pooled, "
        f"{POOL_SIZES[0]}-{POOL_SIZES[1]} people each), {args.chunk:,} rows per transaction"
    )
    print(
        f"{'engine':<12}{'baseline/s':>11}{'import/s':>10}{'ratio':>8}{'1st queued s':>14}"
        f"{'last queued s':>15}{'queued':>9}{'delivered':>11}{'delivered/s':>13}"
    )
    done = {engine: r for engine, r in results.items() if r is not None}
    for r in done.values():
        print(
            f"{r.engine:<12}{r.baseline_rows_per_s:>11.0f}{r.import_rows_per_s:>10.0f}"
            f"{r.cost_ratio:>7.1f}x{r.first_s:>14.1f}{r.import_s:>15.1f}{r.queued:>9}"
            f"{r.delivered:>11}{r.notifications_per_s:>13.0f}"
        )
        d = r.delivery
        print(
            f"{r.engine}: after delivery the sender's process uses {d.idle_cpu:.1%} of a core "
            f"(idle before it started: {d.baseline_cpu:.1%}); a claim with nothing due takes "
            f"{d.claim_ms:.2f} ms over the history ({d.old_claim_ms:.2f} ms as it was); "
            f"cancelled, it stopped in {d.stop_s:.2f} s"
        )
        if r.recorded_sent < r.delivered:
            print(
                f"{r.engine}: {r.delivered - r.recorded_sent} of the {r.delivered} messages the "
                "emulator received are not recorded as sent after the sender stopped"
            )
    print(
        "ratio = import seconds / baseline seconds (the same rows parsed and written as plain "
        "INSERTs: no checks, audit or notices)"
    )
    main_figures = next(iter(done.values()), None)  # SQLite's, unless only PostgreSQL ran
    summary: dict[str, object] = {
        "bench": "results",
        "import_rows_per_s": main_figures and round(main_figures.import_rows_per_s, 1),
        "seconds_to_last_notification_queued": main_figures and round(main_figures.import_s, 2),
        "notifications_per_s": main_figures and round(main_figures.notifications_per_s, 1),
        "cost_ratio": main_figures and round(main_figures.cost_ratio, 2),
        "sender_idle_cpu_share": main_figures and round(main_figures.delivery.idle_cpu, 4),
        "engine": main_figures and main_figures.engine,
    }
    for engine, f in results.items():  # None: no PostgreSQL server answered
        figures = {
            "import_rows_per_s": f and round(f.import_rows_per_s, 1),
            "seconds_to_first_notification_queued": f and round(f.first_s, 2),
            "seconds_to_last_notification_queued": f and round(f.import_s, 2),
            "baseline_rows_per_s": f and round(f.baseline_rows_per_s, 1),
            "cost_ratio": f and round(f.cost_ratio, 2),
            "notifications_queued": f and f.queued,
            "notifications_delivered": f and f.delivered,
            "notifications_per_s": f and round(f.notifications_per_s, 1),
            "unrecorded_after_stop": f and f.delivered - f.recorded_sent,
            "sender_idle_cpu_share": f and round(f.delivery.idle_cpu, 4),
            "baseline_idle_cpu_share": f and round(f.delivery.baseline_cpu, 4),
            "idle_claim_ms": f and round(f.delivery.claim_ms, 3),
            "old_idle_claim_ms": f and round(f.delivery.old_claim_ms, 3),
            "seconds_to_stop": f and round(f.delivery.stop_s, 3),
        }
        summary.update({f"{key}_{engine}": value for key, value in figures.items()})
    summary.update(people=args.people, results=tubes, chunk=args.chunk, deliver=args.deliver)
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
