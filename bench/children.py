"""Children's due lists at scale: a ward of 5,000 children and a city of 1,000,000.

On each engine (SQLite in a temporary file; PostgreSQL in a throwaway database
`bench_children` created on the server at BENCH_DATABASE_URL, TEST_DATABASE_URL or
127.0.0.1:5432, and dropped afterwards; its figures are null if no server answers), through the
project's `Database` and migrations, it seeds `--city` children (default 1,000,000; 5,000 of
them in the measured ward, the rest over 200 other wards), born over the last 17 years (one in
17 above the registry's age limit of 16, so the birth-date prefilter has something to skip),
each with the doses of the national schedule given at its recommended age (never before the
minimum interval after the previous dose) plus 0-20 days, a
series stopping at its first missed dose (8% a dose), 70% confirmed by a site (`given`), the
rest `reported`: about 17 dose rows a child. Seeding is bulk (COPY on PostgreSQL, executemany
on SQLite), untimed, followed by ANALYZE.
  select  the baseline: the plain SELECTs of the same rows (`storage.children.area_rows`: the
          children under 16 of the ward, or of the city a one-year birth-date window at a time,
          and their doses), fetched and nothing else;
  due     the due list for the coming 7 days (`bot.domain.immunisation.due_list.load_rows`, which
          runs the same SELECTs and builds the records, then
          `bot.domain.immunisation.due_list.due_list`, the rules engine once per child), the
          city's windows merged and ordered;
  reminders  the ward's children given a parent (untimed), `child_reminders.plan` for each (the
          rules engine, then its reminders written as jobs), 500 children a transaction:
          reminders queued a second, against plain INSERTs of as many job rows.
Each figure is the median of `--runs` runs (the city: `--city-runs`), select and due
interleaved. It prints ms, children a second and the ratio due / select, then a final JSON line
whose unsuffixed figures are SQLite's (all of them also with `_sqlite` and `_postgresql`).
Usage: python -m bench.children [--city N] [--runs R] [--city-runs R] [--engines E ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update

from bench.databases import on_engines
from bot.domain.immunisation import child_reminders
from bot.domain.immunisation import due_list as lists
from bot.domain.immunisation.due_list import load_rows
from bot.domain.immunisation.durations import add_months
from bot.domain.immunisation.schedule import load_schedule
from storage import children, jobs
from storage.db import Database
from storage.models import Account, Child

BENCH_DB = "bench_children"
TODAY = date(2026, 12, 3)
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
WARD = 26743
WARD_SIZE = 5_000
OTHER_WARDS = 200
YEARS = 17
MISSED = 0.015  # the chance a dose is missed (and the rest of its series)
CHUNK = 50_000
CHILD_COLUMNS = ("id", "full_name", "birth_date", "gender", "ward_code", "created_at")
DOSE_COLUMNS = (
    "id",
    "child_id",
    "vaccine",
    "dose_number",
    "given_on",
    "date_approximate",
    "status",
    "created_at",
)


@dataclass
class Figures:
    select_ms: float
    due_ms: float
    children: int
    listed: int

    @property
    def ratio(self) -> float:
        return self.due_ms / self.select_ms if self.select_ms else 0.0

    @property
    def per_s(self) -> float:
        return self.children / (self.due_ms / 1000) if self.due_ms else 0.0


def fixture(count: int, seed: int = 21) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """Each child row and its dose rows (ids from 1), the measured ward's first."""
    rng = random.Random(seed)
    series = [vaccine.doses for vaccine in load_schedule().vaccines]
    span = (TODAY - add_months(TODAY, -12 * YEARS)).days
    dose_id = 0
    for n in range(1, count + 1):
        born = TODAY - timedelta(days=rng.randrange(span))
        ward = WARD if n <= WARD_SIZE else 1 + n % OTHER_WARDS
        child = (n, f"Bé Số {n}", born, "male" if n % 2 else "female", ward, NOW)
        doses = []
        for doses_of_series in series:
            previous: date | None = None
            for dose in doses_of_series:
                day = dose.recommended_age.value.after(born)
                if previous is not None and dose.min_interval is not None:
                    day = max(day, dose.min_interval.value.after(previous))
                day += timedelta(days=rng.randrange(21))
                previous = day
                if day > TODAY or rng.random() < MISSED:
                    break
                dose_id += 1
                status = "given" if rng.random() < 0.7 else "reported"
                doses.append((dose_id, n, dose.vaccine, dose.number, day, False, status, NOW))
        yield child, doses


async def seed(db: Database, engine: str, count: int) -> int:
    """Load the fixture in bulk; the number of dose rows."""
    total = 0
    kids: list[tuple[Any, ...]] = []
    doses: list[tuple[Any, ...]] = []
    for child, child_doses in fixture(count):
        kids.append(child)
        doses.extend(child_doses)
        if len(kids) >= CHUNK:
            await _load(db, engine, kids, doses)
            total += len(doses)
            kids, doses = [], []
    await _load(db, engine, kids, doses)
    total += len(doses)
    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    return total


async def _load(
    db: Database, engine: str, kids: list[tuple[Any, ...]], doses: list[tuple[Any, ...]]
) -> None:
    if not kids:
        return
    if engine == "postgresql":
        async with db.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.copy_records_to_table("children", records=kids, columns=CHILD_COLUMNS)
            await raw.copy_records_to_table("child_doses", records=doses, columns=DOSE_COLUMNS)
        return
    async with db.engine.connect() as conn:  # the driver's executemany: no per-row overhead
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        for name, columns, rows in (
            ("children", CHILD_COLUMNS, kids),
            ("child_doses", DOSE_COLUMNS, doses),
        ):
            marks = ", ".join("?" * len(columns))
            await raw.cursor().executemany(
                f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})",
                [_sqlite_row(row) for row in rows],
            )
        await raw.commit()


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Dates as SQLAlchemy stores them on SQLite (ISO text), booleans as 0/1."""
    return tuple(
        value.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, datetime)
        else value.isoformat()
        if isinstance(value, date)
        else value
        for value in row
    )


def windows(ward: int | None) -> list[tuple[date, date | None]]:
    """Birth-date windows a due list reads: the whole range for a ward, a year each for a city."""
    oldest = lists.oldest_birth(TODAY)
    if ward is not None:
        return [(oldest, None)]
    bounds = [add_months(oldest, 12 * k) for k in range(lists.MAX_AGE_YEARS + 1)]
    starts = [oldest] + [bound - timedelta(days=1) for bound in bounds[1:]]  # after: exclusive
    return list(zip(starts, [*bounds[1:], None], strict=True))


async def plain_select(db: Database, ward: int | None) -> tuple[float, int]:
    """The SELECTs alone: ms, children read."""
    t0 = time.perf_counter()
    count = 0
    async with db.read_scope() as session:
        for after, before in windows(ward):
            found, _doses = await children.area_rows(
                session, ward, born_after=after, born_before=before
            )
            count += len(found)
    return (time.perf_counter() - t0) * 1000, count


async def due(db: Database, ward: int | None) -> tuple[float, int, int]:
    """The due list of the coming week: ms, children assessed, children listed."""
    schedule = load_schedule()
    t0 = time.perf_counter()
    entries: list[lists.DueEntry] = []
    count = 0
    async with db.read_scope() as session:
        for after, before in windows(ward):
            rows = await load_rows(session, ward, TODAY, born_after=after, born_before=before)
            count += len(rows)
            entries += lists.due_list(schedule, rows, today=TODAY, days=7)
    listed = lists.ordered(entries)
    return (time.perf_counter() - t0) * 1000, count, len(listed)


async def measure_area(db: Database, ward: int | None, runs: int) -> Figures:
    selects, dues = [], []
    count = listed = 0
    for _ in range(runs):
        select_ms, _count = await plain_select(db, ward)
        due_ms, count, listed = await due(db, ward)
        selects.append(select_ms)
        dues.append(due_ms)
    return Figures(statistics.median(selects), statistics.median(dues), count, listed)


async def _ward_children(db: Database) -> list[int]:
    """Give the ward's children a consenting parent (untimed); their ids."""
    async with db.session_scope() as session:
        account = Account(
            channel="web", chat_id="bench-parent", locale="vi", consent_version="bench"
        )
        session.add(account)
        await session.flush()
        await session.execute(
            update(Child).where(Child.ward_code == WARD).values(account_id=account.id)
        )
        return list(await session.scalars(select(Child.id).where(Child.ward_code == WARD)))


async def plan_reminders(db: Database, ids: list[int]) -> tuple[float, int]:
    """`child_reminders.plan` for every child, 500 a transaction: ms, reminders written."""
    t0 = time.perf_counter()
    written = 0
    for start in range(0, len(ids), 500):
        async with db.session_scope() as session:
            for child in await session.scalars(
                select(Child).where(Child.id.in_(ids[start : start + 500]))
            ):
                written += await child_reminders.plan(session, child, now=NOW)
    return (time.perf_counter() - t0) * 1000, written


async def plain_jobs(db: Database, count: int) -> float:
    """The baseline: as many job rows written by plain INSERTs, 500 children's worth a time."""
    per_child = max(1, count // WARD_SIZE)
    t0 = time.perf_counter()
    for start in range(0, count, 500 * per_child):
        rows = [
            jobs.NewJob("bench", NOW + timedelta(days=n % 400), {"n": n}, f"bench:{n // 16}")
            for n in range(start, min(count, start + 500 * per_child))
        ]
        async with db.session_scope() as session:
            await jobs.schedule(session, rows, now=NOW)
    return (time.perf_counter() - t0) * 1000


async def measure_reminders(db: Database) -> dict[str, Any]:
    """Reminders queued a second for the ward's children, against plain job INSERTs."""
    ids = await _ward_children(db)
    plan_ms, written = await plan_reminders(db, ids)
    insert_ms = await plain_jobs(db, written)
    per_s = written / (plan_ms / 1000) if plan_ms else 0.0
    print(
        f"reminders: {len(ids):,} children, {written:,} reminders planned in {plan_ms:,.0f} ms "
        f"({per_s:,.0f}/s, {plan_ms / max(len(ids), 1):.2f} ms a child); the same rows by "
        f"plain INSERTs {insert_ms:,.0f} ms (x{plan_ms / max(insert_ms, 0.001):.1f})"
    )
    return {
        "reminders_written": written,
        "reminders_per_s": round(per_s),
        "reminders_ms_per_child": round(plan_ms / max(len(ids), 1), 3),
        "reminders_vs_insert": round(plan_ms / max(insert_ms, 0.001), 1),
    }


async def measure(engine: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    db = Database(url)
    try:
        await db.migrate()
        t0 = time.perf_counter()
        dose_rows = await seed(db, engine, args.city)
        print(
            f"{engine}: seeded {args.city:,} children, {dose_rows:,} doses in "
            f"{time.perf_counter() - t0:.0f} s"
        )
        ward = await measure_area(db, WARD, args.runs)
        _report(engine, "ward", ward)
        city = await measure_area(db, None, args.city_runs)
        _report(engine, "city", city)
        queued = await measure_reminders(db)
    finally:
        await db.dispose()
    return {
        "ward_due_ms": round(ward.due_ms, 1),
        "ward_select_ms": round(ward.select_ms, 1),
        "ward_ratio": round(ward.ratio, 1),
        "ward_children": ward.children,
        "ward_listed": ward.listed,
        "city_due_ms": round(city.due_ms, 1),
        "city_select_ms": round(city.select_ms, 1),
        "city_ratio": round(city.ratio, 1),
        "city_children": city.children,
        "city_listed": city.listed,
        "city_children_per_s": round(city.per_s),
        "dose_rows": dose_rows,
        **queued,
    }


def _report(engine: str, area: str, figures: Figures) -> None:
    print(
        f"{engine} {area}: {figures.children:,} children under 16, {figures.listed:,} listed; "
        f"due list {figures.due_ms:,.1f} ms, plain SELECT {figures.select_ms:,.1f} ms "
        f"(x{figures.ratio:.1f}); {figures.per_s:,.0f} children/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", type=int, default=1_000_000, help="children in the city")
    parser.add_argument("--runs", type=int, default=5, help="runs of the ward's figures")
    parser.add_argument("--city-runs", type=int, default=1, help="runs of the city's figures")
    parser.add_argument(
        "--engines", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    if args.city < WARD_SIZE:
        parser.error(f"--city is at least {WARD_SIZE}")
    results = asyncio.run(
        on_engines(args.engines, BENCH_DB, lambda engine, url: measure(engine, url, args))
    )
    line: dict[str, Any] = {"bench": "children", "city": args.city}
    for engine in ("sqlite", "postgresql"):
        figures = results.get(engine) or {}
        for key, value in figures.items():
            if engine == "sqlite":
                line[key] = value
            line[f"{key}_{engine}"] = value
    print(json.dumps(line, ensure_ascii=False))


if __name__ == "__main__":
    main()
