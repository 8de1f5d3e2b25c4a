"""Bookings under contention: capacity-safe booking steps against a minimal write transaction.

On each engine (SQLite in a temporary file; PostgreSQL in a throwaway database `bench_booking`
created on the server at BENCH_DATABASE_URL, TEST_DATABASE_URL or 127.0.0.1:5432, and dropped
afterwards), through the project's `Database` and migrations, it seeds 20 sites x 10 slots of
capacity 10 (2,000 places) and 3,000 people, then has 50 workers run, in the same run:
  insert   the baseline: one transaction per person doing a plain INSERT of an audit row;
  booking  one transaction per person running `bot.domain.booking.book` (conditional UPDATE of
           the slot, code check, INSERT of the booking) on a slot drawn from a skewed demand
           (Zipf, s=0.7: the most popular slot gets ~210 attempts for its 10 places), so about
           half the slots fill up and nearly half the attempts are refused.
Latency is one step's transaction as its caller sees it: waiting for the write lock (SQLite) or
a pooled connection (PostgreSQL) included. After each booking run it counts overbooked slots
(`booked > capacity`, or more active bookings than capacity) and slots whose `booked` counter
differs from their count of active bookings; both must be 0. It prints attempts/s, bookings/s,
refusals, p50/p99 latency, the cost ratio (booking step / plain insert, from throughput) and a
final JSON line.
Usage: python -m bench.booking [--attempts N] [--concurrency C] [--runs R] [--skew S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event, insert, text

from bench.databases import on_engines
from bot.domain import booking
from storage.db import Database
from storage.models import Account, AuditEvent, Person, Site, Slot, table

SITES = 20
SLOTS_PER_SITE = 10
CAPACITY = 10
BENCH_DB = "bench_booking"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ENGINE_KEYS = (
    "bookings_per_s",
    "attempts_per_s",
    "insert_per_s",
    "cost_ratio",
    "refused_full",
    "p50_ms",
    "p99_ms",
    "overbooked",
    "pool_peak",
)


@dataclass
class Run:
    transactions: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    booked: int = 0
    overbooked: int = 0
    mismatched: int = 0

    @property
    def per_s(self) -> float:
        """Transactions (attempts) per second."""
        return self.transactions / self.elapsed

    @property
    def bookings_per_s(self) -> float:
        return self.booked / self.elapsed

    @property
    def refused(self) -> int:
        return self.transactions - self.booked


@dataclass
class EngineResult:
    engine: str
    insert: Run
    booking: Run
    overbooked_all_runs: int
    mismatched_all_runs: int
    pool_peak: int


def percentile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[int(q * (len(sorted_ms) - 1))]


async def drive(
    jobs: list[int], concurrency: int, step: Callable[[int], Awaitable[bool]]
) -> tuple[float, list[float], int]:
    """Run `step` for every job, `concurrency` at a time: wall seconds, latencies, successes."""
    queue = list(reversed(jobs))
    latencies: list[float] = []
    successes = 0

    async def worker() -> None:
        nonlocal successes
        while queue:
            job = queue.pop()
            t0 = time.perf_counter()
            ok = await step(job)
            latencies.append((time.perf_counter() - t0) * 1000)
            successes += ok

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, sorted(latencies), successes


async def seed(db: Database, people: int) -> tuple[list[int], list[int]]:
    """Sites, slots (most popular first) and people; the slot ids and person ids."""
    async with db.session_scope() as session:
        account = Account(channel="bench", chat_id="1")
        session.add(account)
        await session.flush()
        await session.execute(
            insert(table(Site)),
            [
                {
                    "id": f"S{s:02d}",
                    "name": f"Trạm y tế {s}",
                    "address": f"{s} Đường Láng",
                    "province_code": 1,
                    "ward_code": s,
                    "active": True,
                }
                for s in range(SITES)
            ],
        )
        await session.execute(
            insert(table(Slot)),
            [
                {
                    "site_id": f"S{s:02d}",
                    "starts_at": NOW + timedelta(days=1, hours=h),
                    "ends_at": NOW + timedelta(days=1, hours=h, minutes=30),
                    "capacity": CAPACITY,
                    "booked": 0,
                }
                for h in range(SLOTS_PER_SITE)
                for s in range(SITES)
            ],
        )
        await session.execute(
            insert(table(Person)),
            [
                {
                    "account_id": account.id,
                    "full_name": f"Người {i}",
                    "birth_date": date(1990, 1, 1),
                    "gender": "female",
                    "id_sealed": b"sealed",
                    "id_index": f"bench-{i}",
                    "province_code": 1,
                    "ward_code": 1,
                    "divisions_version": "2025",
                    "priority_group": "none",
                    "is_holder": False,
                    "created_at": NOW,
                }
                for i in range(people)
            ],
        )
    async with db.read_scope() as session:
        slots = list((await session.scalars(text("SELECT id FROM slots ORDER BY id"))).all())
        person_ids = list((await session.scalars(text("SELECT id FROM people ORDER BY id"))).all())
    return slots, person_ids


async def reset(db: Database) -> None:
    async with db.session_scope() as session:
        await session.execute(text("DELETE FROM bookings"))
        await session.execute(text("UPDATE slots SET booked = 0"))
        await session.execute(text("DELETE FROM audit_log"))


async def audit(db: Database) -> tuple[int, int, int]:
    """Overbooked slots, slots whose counter disagrees with their bookings, active bookings."""
    async with db.read_scope() as session:
        counts = (
            "SELECT s.id, s.capacity, s.booked, COALESCE(b.n, 0) AS n FROM slots s LEFT JOIN "
            "(SELECT slot_id, count(*) AS n FROM bookings WHERE status = 'booked' "
            "GROUP BY slot_id) b ON b.slot_id = s.id"
        )
        row = (
            await session.execute(
                text(
                    "SELECT "
                    "  (SELECT count(*) FROM slots WHERE booked > capacity), "
                    f"  (SELECT count(*) FROM ({counts}) c WHERE c.n > c.capacity), "
                    f"  (SELECT count(*) FROM ({counts}) c WHERE c.n <> c.booked), "
                    "  (SELECT count(*) FROM bookings WHERE status = 'booked')"
                )
            )
        ).one()
    return int(row[0]) + int(row[1]), int(row[2]), int(row[3])


async def baseline(db: Database, people: list[int], concurrency: int) -> Run:
    audit_log = table(AuditEvent)

    async def step(person_id: int) -> bool:
        async with db.session_scope() as session:
            await session.execute(
                insert(audit_log).values(
                    actor="bench", action="insert", subject=str(person_id), detail={}, at=NOW
                )
            )
        return True

    elapsed, latencies, _ = await drive(people, concurrency, step)
    return Run(len(people), elapsed, statistics.median(latencies), percentile(latencies, 0.99))


async def bookings_run(
    db: Database, people: list[int], choices: dict[int, int], concurrency: int
) -> Run:
    async def step(person_id: int) -> bool:
        async with db.session_scope() as session:
            made = await booking.book(
                session,
                person_id=person_id,
                slot_id=choices[person_id],
                dose_number=1,
                screening={},
                needs_screening=False,
                now=NOW,
            )
        return made is not None

    elapsed, latencies, made = await drive(people, concurrency, step)
    overbooked, mismatched, active = await audit(db)
    if active != made:  # every booking the callers were told about exists, and no other
        mismatched += 1
    return Run(
        len(people),
        elapsed,
        statistics.median(latencies),
        percentile(latencies, 0.99),
        booked=made,
        overbooked=overbooked,
        mismatched=mismatched,
    )


def median_run(runs: list[Run]) -> Run:
    """The run with the median throughput (shared machines are noisy)."""
    return sorted(runs, key=lambda r: r.per_s)[len(runs) // 2]


async def measure(engine: str, url: str, args: argparse.Namespace) -> EngineResult:
    db = Database(url)
    peak = {"now": 0, "peak": 0}

    @event.listens_for(db.engine.sync_engine, "checkout")
    def checkout(*_: object) -> None:
        peak["now"] += 1
        peak["peak"] = max(peak["peak"], peak["now"])

    @event.listens_for(db.engine.sync_engine, "checkin")
    def checkin(*_: object) -> None:
        peak["now"] -= 1

    try:
        await db.migrate()
        slots, people = await seed(db, args.attempts)
        rng = random.Random(20261201)
        weights = [1 / (rank + 1) ** args.skew for rank in range(len(slots))]
        choices = dict(zip(people, rng.choices(slots, weights, k=len(people)), strict=True))
        await baseline(db, people[: args.concurrency], args.concurrency)  # warm-up: connections
        await reset(db)
        inserts: list[Run] = []
        bookings: list[Run] = []
        for _ in range(args.runs):  # interleaved, so drift in machine load hits both alike
            inserts.append(await baseline(db, people, args.concurrency))
            bookings.append(await bookings_run(db, people, choices, args.concurrency))
            await reset(db)
    finally:
        await db.dispose()
    return EngineResult(
        engine=engine,
        insert=median_run(inserts),
        booking=median_run(bookings),
        overbooked_all_runs=sum(r.overbooked for r in bookings),
        mismatched_all_runs=sum(r.mismatched for r in bookings),
        pool_peak=peak["peak"],
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skew", type=float, default=0.7, help="Zipf exponent of slot demand")
    args = parser.parse_args()
    results = await on_engines(
        ("sqlite", "postgresql"), BENCH_DB, lambda engine, url: measure(engine, url, args)
    )

    places = SITES * SLOTS_PER_SITE * CAPACITY
    print(
        f"{args.attempts} attempts from {args.attempts} people on {SITES} sites x "
        f"{SLOTS_PER_SITE} slots x capacity {CAPACITY} ({places} places), Zipf s={args.skew}, "
        f"{args.concurrency} at a time, median of {args.runs} runs"
    )
    print(
        f"{'engine':<12}{'step':<9}{'tx/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'booked':>8}{'refused':>9}{'overbooked':>12}"
    )
    summary: dict[str, object] = {"bench": "booking"}
    ratios = []
    for engine, r in results.items():
        if r is None:
            summary.update({f"{key}_{engine}": None for key in ENGINE_KEYS})
            continue
        attempts_s = r.booking.per_s
        ratio = r.insert.per_s / attempts_s
        print(
            f"{engine:<12}{'insert':<9}{r.insert.per_s:>11.0f}{r.insert.p50_ms:>9.1f}"
            f"{r.insert.p99_ms:>9.1f}"
        )
        print(
            f"{engine:<12}{'booking':<9}{attempts_s:>11.0f}{r.booking.p50_ms:>9.1f}"
            f"{r.booking.p99_ms:>9.1f}{r.booking.booked:>8}{r.booking.refused:>9}"
            f"{r.overbooked_all_runs:>12}"
        )
        ratios.append(f"{engine} {ratio:.2f}x")
        summary.update(
            {
                f"bookings_per_s_{engine}": round(r.booking.bookings_per_s, 1),
                f"attempts_per_s_{engine}": round(attempts_s, 1),
                f"insert_per_s_{engine}": round(r.insert.per_s, 1),
                f"cost_ratio_{engine}": round(ratio, 2),
                f"refused_full_{engine}": r.booking.refused,
                f"p50_ms_{engine}": round(r.booking.p50_ms, 1),
                f"p99_ms_{engine}": round(r.booking.p99_ms, 1),
                f"overbooked_{engine}": r.overbooked_all_runs,
                f"pool_peak_{engine}": r.pool_peak,
            }
        )
    done = [r for r in results.values() if r is not None]
    summary["overbooked"] = sum(r.overbooked_all_runs for r in done)
    summary["counter_mismatches"] = sum(r.mismatched_all_runs for r in done)
    summary["p99_ms"] = round(max(r.booking.p99_ms for r in done), 1)
    summary.update(
        attempts=args.attempts,
        places=places,
        concurrency=args.concurrency,
        runs=args.runs,
        skew=args.skew,
    )
    pools = ", ".join(f"{r.engine} {r.pool_peak}" for r in done)
    print(f"booking step / plain INSERT transaction (cost per step): {', '.join(ratios)}")
    print(
        f"overbooked slots over all runs: {summary['overbooked']}; counter mismatches: "
        f"{summary['counter_mismatches']}; most pooled connections in use: {pools}"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
