"""The live dashboard's refresh at scale: one ward and the whole city, against plain COUNT(*).

On each engine (SQLite in a temporary file; PostgreSQL in a throwaway database `bench_console`
created on the server at BENCH_DATABASE_URL, TEST_DATABASE_URL or 127.0.0.1:5432, and dropped
afterwards), through the project's `Database` and migrations (so with the dashboard's indexes),
it seeds with bulk multi-row INSERTs:
  50 wards x 2 sites, 8 slots a day per site from 30 days ago to 13 days ahead;
  --bookings bookings (default 1,000,000), four doses a person (so a quarter as many people,
  registered over the last 60 days), attended, missed or cancelled before today, booked after;
  a dose for every other person, a sample for every tenth with its result and member told,
  --tickets tickets (default 100,000) on as many accounts, and as many outbox messages;
then, on PostgreSQL, VACUUM ANALYZE (as autovacuum would leave the tables; the service never
runs ANALYZE on SQLite, so neither does the bench there). It times
`bot.console.dashboard.figures` (every query of one refresh) for one ward and for the city, and,
in the same run, a plain `SELECT COUNT(*)` over each table the dashboard
reads (the floor: what merely touching the tables costs). Figures are medians of --runs.
It prints milliseconds per refresh and the ratio to the plain counts, and a final JSON line.
Usage: python -m bench.console [--bookings N] [--tickets N] [--runs R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, text

from bench.databases import on_engines
from bot.console import dashboard
from bot.console.dashboard import Scope, figures
from bot.i18n import TIMEZONE
from storage.db import Database
from storage.models import (
    Account,
    Booking,
    OutboxMessage,
    Person,
    Sample,
    SampleMember,
    Site,
    Slot,
    Ticket,
    Vaccination,
    table,
)

BENCH_DB = "bench_console"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=TIMEZONE).astimezone(UTC)
WARDS, SITES_PER_WARD, SLOTS_PER_DAY, CAPACITY = 50, 2, 8, 60
DAYS_BACK, DAYS_AHEAD = 30, 14
CHUNK = 10_000
TABLES = ("people", "slots", "bookings", "vaccinations", "samples", "sample_members", "tickets")
TABLES += ("outbox",)


@dataclass
class Result:
    engine: str
    seed_s: float
    ward_ms: float
    city_ms: float
    count_ms: float
    parts: dict[str, float]  # the city's refresh, query by query


async def _bulk(db: Database, model: type[Any], rows: Iterator[dict[str, Any]]) -> int:
    """Insert `rows` into `model`'s table, `CHUNK` rows per statement, in one transaction."""
    target: Table = table(model)
    done, batch = 0, []
    async with db.engine.begin() as conn:
        for row in rows:
            batch.append(row)
            if len(batch) == CHUNK:
                await conn.execute(insert(target), batch)
                done, batch = done + len(batch), []
        if batch:
            await conn.execute(insert(target), batch)
            done += len(batch)
    return done


def _sites() -> Iterator[dict[str, Any]]:
    for ward in range(WARDS):
        for n in range(SITES_PER_WARD):
            yield {
                "id": f"s{ward}-{n}",
                "name": f"Site {ward}-{n}",
                "address": "1 Lê Lợi",
                "province_code": 79,
                "ward_code": 1000 + ward,
                "active": True,
            }


def _slot_starts() -> list[tuple[str, datetime]]:
    first = NOW.astimezone(TIMEZONE).replace(hour=7, minute=0) - timedelta(days=DAYS_BACK)
    return [
        (site["id"], (first + timedelta(days=d, hours=h)).astimezone(UTC))
        for site in _sites()
        for d in range(DAYS_BACK + DAYS_AHEAD)
        for h in range(SLOTS_PER_DAY)
    ]


def _people(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "id": i + 1,
            "account_id": i + 1,
            "full_name": f"Người {i}",
            "birth_date": date(1980 + i % 40, 1 + i % 12, 1 + i % 28),
            "gender": "female" if i % 2 else "male",
            "id_sealed": b"x",
            "id_index": f"id{i}",
            "province_code": 79,
            "ward_code": 1000 + i % WARDS,
            "divisions_version": "2025",
            "priority_group": "general",
            "is_holder": False,
            "created_at": NOW - timedelta(seconds=(i * 7919) % (60 * 86400)),
        }


async def seed(db: Database, bookings: int, tickets: int) -> None:
    """Every row of the run (see the module's docstring)."""
    starts = _slot_starts()
    people = max(bookings // 4, tickets, 1)
    booked = [0] * len(starts)
    for i in range(bookings):
        if starts[i % len(starts)][1] > NOW:
            booked[i % len(starts)] += 1
    accounts = ({"id": i + 1, "channel": "telegram", "chat_id": str(i)} for i in range(people))
    await _bulk(db, Account, accounts)
    await _bulk(db, Site, _sites())
    await _bulk(db, Person, _people(people))
    slot_rows = (
        {"id": s + 1, "site_id": site, "starts_at": at, "ends_at": at + timedelta(hours=1),
         "capacity": CAPACITY, "booked": min(booked[s], CAPACITY)}
        for s, (site, at) in enumerate(starts)
    )  # fmt: skip
    await _bulk(db, Slot, slot_rows)
    await _bulk(db, Booking, _bookings(bookings, starts))
    await _bulk(db, Vaccination, _doses(people, starts))
    await _bulk(db, Sample, _samples(people, starts))
    await _bulk(db, SampleMember, _members(people))
    await _bulk(db, Ticket, _tickets(tickets))
    await _bulk(db, OutboxMessage, _outbox(tickets))


def _bookings(n: int, starts: list[tuple[str, datetime]]) -> Iterator[dict[str, Any]]:
    for i in range(n):
        slot = i % len(starts)
        past = starts[slot][1] < NOW
        status = "booked" if not past else ("missed" if i % 10 == 0 else "attended")
        if past and i % 20 == 1:
            status = "cancelled"
        yield {
            "code": f"B{i:010d}",
            "person_id": i // 4 + 1,
            "slot_id": slot + 1,
            "dose_number": i % 4 + 1,
            "status": status,
            "needs_screening": False,
            "screening": {},
            "created_at": NOW - timedelta(days=40),
            "updated_at": NOW - timedelta(days=40),
        }


def _doses(people: int, starts: list[tuple[str, datetime]]) -> Iterator[dict[str, Any]]:
    products = ("Comirnaty", "Spikevax", "Vaxzevria", "Gardasil 9", "Hexaxim")
    for i in range(0, people, 2):
        site, _ = starts[(i * 31) % len(starts)]
        yield {
            "person_id": i + 1,
            "dose_number": 1,
            "product": products[i % len(products)],
            "lot": "L1",
            "given_on": (NOW - timedelta(days=i % 60)).astimezone(TIMEZONE).date(),
            "site_id": site,
            "source": "site",
            "created_at": NOW,
        }


def _samples(people: int, starts: list[tuple[str, datetime]]) -> Iterator[dict[str, Any]]:
    for n, i in enumerate(range(0, people, 10)):
        taken = NOW - timedelta(minutes=(i * 13) % (20 * 1440))
        done = n % 5 != 0
        yield {
            "id": n + 1,
            "tube_code": f"T{i:09d}",
            "site_id": starts[(i * 17) % len(starts)][0],
            "taken_at": taken,
            "pooled": False,
            "result": "negative" if done else None,
            "tested_at": taken + timedelta(hours=6) if done else None,
            "lab": "Lab" if done else None,
            "result_version": 1 if done else 0,
            "created_at": taken,
        }


def _members(people: int) -> Iterator[dict[str, Any]]:
    for n, i in enumerate(range(0, people, 10)):
        taken = NOW - timedelta(minutes=(i * 13) % (20 * 1440))
        done = n % 5 != 0
        yield {
            "sample_id": n + 1,
            "person_id": i + 1,
            "token_id": f"tok{i}",
            "notified_version": 1 if done else 0,
            "notified_at": taken + timedelta(hours=6, minutes=5) if done else None,
        }


def _tickets(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        opened = NOW - timedelta(minutes=(i * 7) % (30 * 1440))
        claimed = opened + timedelta(minutes=3 + i % 30) if i % 5 else None
        yield {
            "account_id": i + 1,
            "status": "open" if i % 10 == 0 else "closed",
            "reason": "help",
            "opened_at": opened,
            "claimed_by": "agent" if claimed else None,
            "claimed_at": claimed,
            "desk_channel": "telegram",
            "desk_chat_id": "-100",
        }


def _outbox(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        made = NOW - timedelta(seconds=(i * 37) % (3 * 86400))
        sent = i % 50 != 0
        yield {
            "channel": ("telegram", "zalo", "web")[i % 3],
            "chat_id": str(i),
            "bulk": False,
            "body": {"text": "x"},
            "status": "sent" if sent else "pending",
            "attempts": 1,
            "not_before": made,
            "created_at": made,
            "sent_at": made + timedelta(seconds=2) if sent else None,
        }


async def _timed(runs: int, step: Any) -> float:
    """Median milliseconds of `step()` over `runs` (after one warm-up)."""
    await step()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await step()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


async def measure(engine: str, url: str, args: argparse.Namespace) -> Result:
    """Seed, ANALYZE, then time the refreshes and the plain counts."""
    db = Database(url)
    await db.migrate()
    began = time.perf_counter()
    await seed(db, args.bookings, args.tickets)
    if engine == "postgresql":  # as autovacuum leaves the tables; SQLite as the service runs it
        async with db.engine.connect() as conn:
            quiet = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await quiet.execute(text("VACUUM ANALYZE"))
    seed_s = time.perf_counter() - began
    print(f"{engine}: seeded in {seed_s:.0f} s", flush=True)

    async def refresh(scope: Scope) -> None:
        async with db.read_scope() as session:
            await figures(session, scope, NOW)

    async def counts() -> None:
        async with db.read_scope() as session:
            for name in TABLES:
                await session.execute(text(f"SELECT COUNT(*) FROM {name}"))

    ward = await _timed(args.runs, lambda: refresh(Scope(city=False, wards=(1000,))))
    city = await _timed(args.runs, lambda: refresh(Scope(city=True)))
    plain = await _timed(args.runs, counts)
    parts = {name: await _timed(args.runs, _part(db, name)) for name in PARTS}
    await db.dispose()
    return Result(engine, seed_s, ward, city, plain, parts)


PARTS = ("registrations", "bookings", "no_shows", "doses", "samples", "turnaround", "tickets")
PARTS += ("outbox",)


def _part(db: Database, name: str) -> Any:
    """One of the dashboard's queries for the city, as a step to time."""
    query = getattr(dashboard, name)

    async def step() -> None:
        async with db.read_scope() as session:
            await query(session, Scope(city=True), NOW)

    return step


async def main() -> None:
    """Run on both engines; print the figures and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = await on_engines(
        ("sqlite", "postgresql"), BENCH_DB, lambda engine, url: measure(engine, url, args)
    )
    print(
        f"{args.bookings:,} bookings, {args.tickets:,} tickets, {WARDS} wards x "
        f"{SITES_PER_WARD} sites; median of {args.runs} refreshes"
    )
    print(f"{'engine':<12}{'ward ms':>9}{'city ms':>9}{'COUNT(*) ms':>13}{'city/COUNT':>12}")
    summary: dict[str, object] = {"bench": "console"}
    for engine, r in results.items():
        keys = ("ward_ms", "city_ms", "count_ms", "city_vs_count", "seed_s")
        if r is None:
            summary.update({f"{key}_{engine}": None for key in keys})
            continue
        ratio = r.city_ms / r.count_ms
        print(f"{engine:<12}{r.ward_ms:>9.1f}{r.city_ms:>9.1f}{r.count_ms:>13.1f}{ratio:>11.2f}x")
        values = (r.ward_ms, r.city_ms, r.count_ms, ratio, r.seed_s)
        summary.update({f"{k}_{engine}": round(v, 2) for k, v in zip(keys, values, strict=True)})
        print(
            "  city, query by query (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in r.parts.items())
        )
    summary.update(bookings=args.bookings, tickets=args.tickets, runs=args.runs)
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
