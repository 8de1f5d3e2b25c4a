"""The scheduler at scale: a tick must cost what is due, not what is in the `jobs` table.

On each engine (SQLite in a temporary file; PostgreSQL in a throwaway database
`bench_scheduler` created on the server at BENCH_DATABASE_URL, TEST_DATABASE_URL or
127.0.0.1:5432, and dropped afterwards; its figures are null if no server answers), through the
project's `Database`, migrations and `bot.workers.scheduler.Scheduler`, with a fixed clock at
10:00 in Vietnam and quiet hours off (quiet_start == quiet_end), so every due job fires now.
The jobs are of a bench kind registered in the `kinds` given to the Scheduler (the repo's
JOB_KINDS is untouched): like an appointment reminder, each has its own group key and a
booking-shaped payload, and its handler writes one outbox row (`storage.outbox.enqueue`, a
reminder-sized text with three buttons, bulk). Firing one is therefore what firing a reminder
costs in the scheduler itself: the claim (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL and
the lease UPDATE, one transaction per tick), then, in the second transaction, the group's latest
due job, the conditional settle UPDATE, the outbox INSERT and the group's catch-up UPDATE.
The fixture is loaded with bulk Core INSERTs (executemany in chunks, one transaction), untimed;
on PostgreSQL it is followed by VACUUM ANALYZE (what autovacuum would do after such a load, and
so that its insert-triggered run does not land in the middle of the timed ticks).
  tick       10,000 future (pending, not due) jobs spread over the next 90 days, plus BATCH
             (200: one tick's worth) due now; `Scheduler.tick()` timed, median of `--ticks`
             ticks after one warm-up, the due rows refilled between ticks (untimed). Then the
             table is grown to 1,000,000 future jobs (100,000 with --quick) and the same is
             timed again. ratio = tick at 1M / tick at 10k; the target is below 2 (the claim
             walks the (status, due_at) index from the oldest due row, so the table's size should
             only show as one more level of B-tree).
  empty      a tick with nothing due (the index probe and an empty transaction), median of
             `--empty` ticks, at both sizes.
  queued     20,000 due jobs added to the big table (untimed), then ticks until none is due:
             reminders queued per second. The baseline, in the same run and on the same table:
             the same 20,000 outbox rows written as plain INSERTs (`outbox.enqueue`, one row a
             statement as the handler does, BATCH rows a transaction), and, as a floor, one
             multi-row INSERT per BATCH rows. Interleaved, median of `--runs` runs (1 by
             default: catching up on 20,000 jobs takes over a minute on SQLite).
It prints the figures and a final JSON line whose unsuffixed figures are SQLite's (all of them
also with `_sqlite` and `_postgresql` suffixes). `--explain` prints each engine's plan of the
claim query at the big size.
Usage: python -m bench.scheduler [--quick] [--ticks N] [--empty N] [--queued N] [--runs R]
       [--engines E ...] [--explain]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from sqlalchemy import Connection, event, func, insert, select, text

from bench.databases import on_engines
from bot.config import Settings
from bot.domain.jobs import JobKind, Run, Verdict
from bot.workers.scheduler import BATCH, Scheduler
from storage import outbox
from storage.db import Database
from storage.models import Job, OutboxMessage, table

BENCH_DB = "bench_scheduler"
KIND = "bench_reminder"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
SMALL = 10_000
BIG = 1_000_000
BIG_QUICK = 100_000
FILL_CHUNK = 20_000
HORIZON_S = 90 * 86_400  # future jobs are spread over the next 90 days
NO_QUIET_HOURS = Settings(quiet_start=clock_time(0, 0), quiet_end=clock_time(0, 0))
REMINDER_TEXT = (
    "Nhắc lịch: Nguyễn Văn An có lịch tiêm chủng vào ngày mai.\n"
    "Mũi 2 tại Trạm Y tế phường Bến Nghé, 12 Lê Lợi, lúc 08:30 ngày 02/12/2026. "
    "Mã lịch hẹn: K7M2Q9.\nVui lòng mang theo CCCD, sổ tiêm chủng nếu có, và mã QR lịch hẹn "
    "(/lichhen)."
)
JOBS = table(Job)
OUTBOX = table(OutboxMessage)


def message(n: int) -> outbox.NewMessage:
    """The outbox row a reminder for booking `n` would be."""
    body = {
        "text": REMINDER_TEXT,
        "buttons": [
            [["Tôi sẽ đến", f"appt:coming:{n}"]],
            [["Đổi giờ", f"appt:move:{n}"], ["Hủy lịch hẹn", f"appt:cancel:{n}"]],
        ],
    }
    return outbox.NewMessage("telegram", str(10_000_000 + n), body, None, bulk=True)


async def remind(run: Run) -> Verdict:
    """The bench kind's handler: one outbox row, as an appointment reminder writes."""
    await outbox.enqueue(run.session, [message(run.job.id)], now=run.now)
    return Verdict.DONE


KINDS = {KIND: JobKind(remind)}


def job_row(n: int, due_at: datetime, group: str) -> dict[str, Any]:
    return {
        "kind": KIND,
        "due_at": due_at,
        "payload": {"booking": n, "slot": n % 5_000, "when": "evening"},
        "group_key": f"{group}:{n}",
        "status": "pending",
        "attempts": 0,
        "created_at": NOW,
    }


async def fill_future(db: Database, first: int, count: int) -> float:
    """Add future jobs `first` .. `first + count - 1`, spread over the horizon; seconds taken."""
    t0 = time.perf_counter()
    async with db.session_scope() as session:
        for start in range(first, first + count, FILL_CHUNK):
            stop = min(start + FILL_CHUNK, first + count)
            rows = [
                job_row(n, NOW + timedelta(seconds=60 + (n * 7_919) % HORIZON_S), "booking")
                for n in range(start, stop)
            ]
            await session.execute(insert(JOBS), rows)
    if not db.is_sqlite:
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE jobs"))
    return time.perf_counter() - t0


class DueRows:
    """Adds due jobs (due in the last hour, oldest first), each in a group of its own."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._next = 0

    async def add(self, count: int) -> None:
        rows = []
        for k in range(count):
            due = NOW - timedelta(hours=1) + timedelta(seconds=3_600 * k / count)
            rows.append(job_row(self._next + k, due, "due"))
        self._next += count
        async with self._db.session_scope() as session:
            for start in range(0, count, FILL_CHUNK):
                await session.execute(insert(JOBS), rows[start : start + FILL_CHUNK])


async def count_rows(db: Database, model: Any, *where: Any) -> int:
    async with db.read_scope() as session:
        found = await session.scalar(select(func.count()).select_from(model).where(*where))
        return int(found or 0)


async def timed_ticks(scheduler: Scheduler, due: DueRows, ticks: int) -> float:
    """Median ms of `ticks` ticks that each fire BATCH due jobs (after one warm-up tick)."""
    times = []
    for _ in range(ticks + 1):
        await due.add(BATCH)
        t0 = time.perf_counter()
        fired = await scheduler.tick()
        times.append((time.perf_counter() - t0) * 1000)
        if fired != BATCH:
            raise RuntimeError(f"a tick claimed {fired} jobs, {BATCH} were due")
    return statistics.median(times[1:])


async def empty_ticks(scheduler: Scheduler, ticks: int) -> float:
    """Median ms of a tick with nothing due."""
    times = []
    for _ in range(ticks + 1):
        t0 = time.perf_counter()
        fired = await scheduler.tick()
        times.append((time.perf_counter() - t0) * 1000)
        if fired:
            raise RuntimeError(f"an empty tick claimed {fired} jobs")
    return statistics.median(times[1:])


async def queue_all(db: Database, scheduler: Scheduler, due: DueRows, rows: int) -> float:
    """Seconds for ticks to fire `rows` due jobs (added untimed), ticking until none is due."""
    await due.add(rows)
    fired = 0
    t0 = time.perf_counter()
    while claimed := await scheduler.tick():
        fired += claimed
    elapsed = time.perf_counter() - t0
    if fired != rows:
        raise RuntimeError(f"ticks fired {fired} jobs, {rows} were due")
    return elapsed


async def plain_inserts(db: Database, rows: int, *, bulk: bool) -> float:
    """Seconds to write `rows` reminder outbox rows, BATCH a transaction, then delete them."""
    messages = [message(n) for n in range(rows)]
    high = await max_outbox_id(db)
    t0 = time.perf_counter()
    for start in range(0, rows, BATCH):
        async with db.session_scope() as session:
            chunk = messages[start : start + BATCH]
            if bulk:
                await outbox.enqueue(session, chunk, now=NOW)
            else:
                for one in chunk:
                    await outbox.enqueue(session, [one], now=NOW)
    elapsed = time.perf_counter() - t0
    async with db.session_scope() as session:  # the queued run's outbox starts as it was
        await session.execute(OUTBOX.delete().where(OUTBOX.c.id > high))
    return elapsed


async def max_outbox_id(db: Database) -> int:
    async with db.read_scope() as session:
        return int(await session.scalar(select(func.max(OUTBOX.c.id))) or 0)


class QueryCapture:
    """Keeps the last claim and group look-up queries the scheduler sent, for EXPLAIN."""

    def __init__(self, db: Database) -> None:
        self.seen: dict[str, tuple[str, Any]] = {}
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(
        self, conn: Connection, cursor: Any, statement: str, parameters: Any, *_: object
    ) -> None:
        if not statement.lstrip().startswith("SELECT") or "FROM jobs" not in statement:
            return
        if "ORDER BY" in statement:
            self.seen["claim"] = statement, parameters
        elif "max(jobs.due_at)" in statement:
            self.seen["group's latest due"] = statement, parameters


async def explain(db: Database, capture: QueryCapture, due: DueRows) -> list[str]:
    """Plans of the claim and group look-up queries, with BATCH rows due (claims rolled back)."""
    await due.add(BATCH)
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
    lines = []
    async with db.engine.connect() as conn:
        for name, (statement, parameters) in capture.seen.items():
            result = await conn.exec_driver_sql(prefix + statement, parameters)
            lines += [f"{name}: " + " | ".join(str(v) for v in row) for row in result]
        await conn.rollback()
    return lines


@dataclass
class Figures:
    engine: str
    big: int
    tick_ms_small: float = 0.0
    tick_ms_big: float = 0.0
    empty_ms_small: float = 0.0
    empty_ms_big: float = 0.0
    fill_big_s: float = 0.0
    queued_rows: int = 0
    queued_s: list[float] = field(default_factory=list)
    insert_s: list[float] = field(default_factory=list)
    bulk_s: list[float] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.tick_ms_big / self.tick_ms_small

    @property
    def queued_per_s(self) -> float:
        return self.queued_rows / statistics.median(self.queued_s)

    @property
    def insert_per_s(self) -> float:
        return self.queued_rows / statistics.median(self.insert_s)

    @property
    def bulk_insert_per_s(self) -> float:
        return self.queued_rows / statistics.median(self.bulk_s)

    def summary(self) -> dict[str, float | int]:
        return {
            "tick_ms_10k": round(self.tick_ms_small, 2),
            "tick_ms_1m": round(self.tick_ms_big, 2),
            "ratio": round(self.ratio, 2),
            "empty_tick_ms_10k": round(self.empty_ms_small, 3),
            "empty_tick_ms_1m": round(self.empty_ms_big, 3),
            "queued_per_s": round(self.queued_per_s, 1),
            "insert_per_s": round(self.insert_per_s, 1),
            "insert_vs_queued": round(self.insert_per_s / self.queued_per_s, 2),
            "bulk_insert_per_s": round(self.bulk_insert_per_s, 1),
            "fill_1m_s": round(self.fill_big_s, 1),
        }


ENGINE_KEYS = (
    "tick_ms_10k",
    "tick_ms_1m",
    "ratio",
    "empty_tick_ms_10k",
    "empty_tick_ms_1m",
    "queued_per_s",
    "insert_per_s",
    "insert_vs_queued",
    "bulk_insert_per_s",
    "fill_1m_s",
)


async def measure(engine: str, url: str, args: argparse.Namespace) -> Figures:
    db = Database(url)
    big = BIG_QUICK if args.quick else BIG
    figures = Figures(engine, big, queued_rows=args.queued)
    capture = QueryCapture(db)
    scheduler = Scheduler(
        db, KINDS, settings=NO_QUIET_HOURS, clock=lambda: NOW, worker=f"bench-{engine}"
    )
    due = DueRows(db)
    try:
        await db.migrate()
        fill_s = await fill_future(db, 0, SMALL)
        print(f"{engine}: {SMALL:,} future jobs loaded in {fill_s:.1f} s", flush=True)
        figures.tick_ms_small = await timed_ticks(scheduler, due, args.ticks)
        figures.empty_ms_small = await empty_ticks(scheduler, args.empty)
        print(
            f"{engine}: {SMALL:,} rows: tick {figures.tick_ms_small:.2f} ms, empty tick "
            f"{figures.empty_ms_small:.3f} ms",
            flush=True,
        )
        figures.fill_big_s = fill_s + await fill_future(db, SMALL, big - SMALL)
        print(f"{engine}: grown to {big:,} future jobs in {figures.fill_big_s:.1f} s", flush=True)
        figures.tick_ms_big = await timed_ticks(scheduler, due, args.ticks)
        figures.empty_ms_big = await empty_ticks(scheduler, args.empty)
        print(
            f"{engine}: {big:,} rows: tick {figures.tick_ms_big:.2f} ms, empty tick "
            f"{figures.empty_ms_big:.3f} ms",
            flush=True,
        )
        if args.explain:
            figures.plan = await explain(db, capture, due)
            while await scheduler.tick():  # fire the rows added for EXPLAIN
                pass
        outbox_before = await count_rows(db, OutboxMessage)
        for _ in range(args.runs):  # interleaved, so drift in machine load hits all alike
            figures.insert_s.append(await plain_inserts(db, args.queued, bulk=False))
            figures.bulk_s.append(await plain_inserts(db, args.queued, bulk=True))
            figures.queued_s.append(await queue_all(db, scheduler, due, args.queued))
        queued = await count_rows(db, OutboxMessage) - outbox_before
        if queued != args.runs * args.queued:
            raise RuntimeError(f"{queued} outbox rows for {args.runs * args.queued} due jobs")
        print(
            f"{engine}: {args.queued:,} due: queued {figures.queued_per_s:.0f}/s, plain INSERT "
            f"{figures.insert_per_s:.0f}/s, multi-row INSERT {figures.bulk_insert_per_s:.0f}/s",
            flush=True,
        )
    finally:
        await db.dispose()
    return figures


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{BIG_QUICK:,} rows, not {BIG:,}")
    parser.add_argument("--ticks", type=int, default=9, help="timed ticks per size")
    parser.add_argument("--empty", type=int, default=50, help="timed empty ticks per size")
    parser.add_argument("--queued", type=int, default=20_000, help="due jobs to queue")
    parser.add_argument("--runs", type=int, default=1, help="runs of the queued/INSERT pair")
    parser.add_argument(
        "--engines", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument("--explain", action="store_true", help="print the claim's query plans")
    args = parser.parse_args(argv)
    if min(args.ticks, args.empty, args.queued, args.runs) < 1:
        parser.error("--ticks, --empty, --queued and --runs must be 1 or more")
    return args


async def main() -> None:
    args = parse_args()
    results = await on_engines(
        args.engines, BENCH_DB, lambda engine, url: measure(engine, url, args)
    )

    big = BIG_QUICK if args.quick else BIG
    print(
        f"{BATCH} due jobs a tick among {SMALL:,} / {big:,} future ones, median of {args.ticks} "
        f"ticks; {args.queued:,} due jobs queued, median of {args.runs} runs"
    )
    print(
        f"{'engine':<12}{'tick 10k ms':>12}{'tick big ms':>12}{'ratio':>7}{'empty 10k':>11}"
        f"{'empty big':>11}{'queued/s':>10}{'INSERT/s':>10}{'multi/s':>9}"
    )
    done = {engine: r for engine, r in results.items() if r is not None}
    for r in done.values():
        print(
            f"{r.engine:<12}{r.tick_ms_small:>12.2f}{r.tick_ms_big:>12.2f}{r.ratio:>6.2f}x"
            f"{r.empty_ms_small:>11.3f}{r.empty_ms_big:>11.3f}{r.queued_per_s:>10.0f}"
            f"{r.insert_per_s:>10.0f}{r.bulk_insert_per_s:>9.0f}"
        )
        for line in r.plan:
            print(f"  {r.engine} plan of the {line}")
    print(
        "ratio = tick with the big table / tick with 10k rows; INSERT/s = the same outbox rows "
        f"as plain INSERTs, one a statement, {BATCH} a transaction; multi/s = one multi-row "
        "INSERT a transaction"
    )
    main_figures = results.get("sqlite")
    summary: dict[str, object] = {"bench": "scheduler"}
    for key in ("tick_ms_10k", "tick_ms_1m", "ratio", "queued_per_s", "empty_tick_ms_1m"):
        summary[key] = main_figures and main_figures.summary()[key]
    summary["insert_per_s"] = main_figures and main_figures.summary()["insert_per_s"]
    for engine in ("sqlite", "postgresql"):
        if engine not in args.engines:
            continue
        found = results.get(engine)
        figures = found.summary() if found is not None else dict.fromkeys(ENGINE_KEYS)
        summary.update({f"{key}_{engine}": value for key, value in figures.items()})
    summary.update(
        due_per_tick=BATCH,
        future_rows_small=SMALL,
        future_rows_big=big,
        ticks=args.ticks,
        queued=args.queued,
        runs=args.runs,
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
