"""CSV imports for operators: vaccination sites, their slots, doses given elsewhere, lab results.

Every file is read whole before anything is written: UTF-8 with or without a BOM, a header row
first, columns found by name in any order. A file with an unknown or a missing column, or that
is no CSV at all, is refused as a whole. Otherwise each row is checked and imported on its own:
a bad row is reported with its line in the file (the header is line 1) and a plain English
reason for the operator, and skipped; the good rows are written in the caller's transaction, so
they commit together. Importing the same file again changes nothing (every row "unchanged").

Reasons never carry an ID number in clear (`0791******34` at most): the report is printed on a
terminal and may end up in a ticket or a log.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import DataProtector
from bot.domain import results
from bot.domain.booking import read_code
from bot.domain.dcc.trust import Authority
from bot.domain.doses import DoseEntry, DoseProblem, DoseRefused, record_dose
from bot.domain.identity import id_index
from bot.domain.samples import read_tube_code
from bot.domain.vaccines import BOOSTERS, PRODUCTS
from bot.i18n import TIMEZONE, local_day
from bot.vn import divisions
from bot.vn.ids import IdProblem, InvalidId, parse_personal_id
from bot.vn.phone import mask_id_number
from storage import bookings, people
from storage.children import CHILDREN_SESSION
from storage.models import Site, Slot

SITE_COLUMNS = ("site_id", "name", "address", "province_code", "ward_code")
SITE_OPTIONAL = ("active", "phone")
SLOT_COLUMNS = ("site_id", "date", "start", "end", "capacity")
SLOT_OPTIONAL = ("children",)  # 1/yes: a children's immunisation session
DOSE_COLUMNS = ("id_number", "dose_number", "product", "lot", "given_on", "site_id")
DOSE_OPTIONAL = ("booking_code",)
RESULT_COLUMNS = ("tube_code", "result", "tested_at", "lab")
RESULT_OPTIONAL = ("correction_reason",)
# Results are committed this many rows at a time by the CLI, so their notices leave while a big
# file is still being read, and SQLite's write lock is never held long (see `import_results`).
CHECKPOINT_ROWS = 1000

IMPORT_ACTOR = "cli:import-vaccinations"
RESULTS_ACTOR = "cli:import-results"
MAX_CAPACITY = 10_000
MAX_DOSE = max(p.primary_doses for p in PRODUCTS.values()) + BOOSTERS

SITE_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # a site's code (also the console's site form)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_VN_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_FLAGS = {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False}
_ID_REASONS = {
    IdProblem.NOT_DIGITS: "the ID number must be 12 digits",
    IdProblem.LENGTH: "the ID number must be 12 digits",
    IdProblem.OLD_CMND: "a 9-digit CMND number is no longer valid: give the 12-digit ID number",
    IdProblem.PLACE: "the ID number does not start with a province or country code",
    IdProblem.FUTURE: "the ID number encodes a birth year still to come",
}
_DOSE_REASONS = {
    DoseProblem.UNKNOWN_PRODUCT: "unknown product",
    DoseProblem.OUT_OF_ORDER: "dose {dose} cannot be recorded before the doses before it",
    DoseProblem.CONFLICT: (
        "dose {dose} of this person is already recorded with another product, lot or date"
    ),
}


class Outcome(StrEnum):
    """What importing one row did."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass
class ImportReport:
    """What a file did: rows added, updated and unchanged, and the (line, reason) problems."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        """Count one imported row."""
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    def summary(self) -> str:
        """One line: `added 3, updated 0, unchanged 1, problems 2`."""
        return (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"problems {len(self.problems)}"
        )


class RowProblem(Exception):
    """A row (or the file) cannot be imported; the message says why, for the operator."""


@dataclass(frozen=True)
class Row:
    """One data row: its first line in the file and its values by column name, stripped."""

    line: int
    values: Mapping[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


Handler = Callable[[Row], Awaitable[Outcome]]
_Key = TypeVar("_Key", bound=Hashable)


async def import_sites(session: AsyncSession, source: Path | bytes | str) -> ImportReport:
    """Add or update sites from `source`: a file, its bytes, or the CSV text itself.

    Columns: site_id, name, address, province_code, ward_code, optional active and phone
    (told to citizens who report a reaction after a dose given there).
    """
    first_seen: dict[str, int] = {}

    async def one(row: Row) -> Outcome:
        site_id = row["site_id"]
        if not SITE_ID.fullmatch(site_id):
            raise RowProblem("site_id must be 1 to 32 letters, digits, '_' or '-'")
        _once(first_seen, site_id, row.line, f"site {site_id}")
        name = _text(row, "name", 200)
        address = _text(row, "address", 300)
        province_code = _int(row, "province_code")
        ward_code = _int(row, "ward_code")
        _check_ward(province_code, ward_code)
        active = _flag(row, "active", default=True)
        phone = _site_phone(row)
        site = await session.get(Site, site_id)
        if site is None:
            session.add(
                Site(
                    id=site_id,
                    name=name,
                    address=address,
                    province_code=province_code,
                    ward_code=ward_code,
                    active=active,
                    phone=phone,
                )
            )
            await session.flush()
            return Outcome.ADDED
        wanted = (name, address, province_code, ward_code, active, phone)
        held = (site.name, site.address, site.province_code, site.ward_code, site.active)
        if (*held, site.phone) == wanted:
            return Outcome.UNCHANGED
        site.name, site.address, site.province_code, site.ward_code, site.active, site.phone = (
            wanted
        )
        await session.flush()
        return Outcome.UPDATED

    return await _import(source, SITE_COLUMNS, SITE_OPTIONAL, one)


async def import_slots(session: AsyncSession, source: Path | bytes | str) -> ImportReport:
    """Add slots, or change the end and capacity of existing ones, from `source`.

    Columns: site_id, date, start, end, capacity (times are Vietnam local time), and optionally
    children (1/yes: a children's immunisation session, booked from the children's reminders).
    A capacity below the places already booked is refused, in the same conditional UPDATE that
    changes it, so a booking taken meanwhile cannot be squeezed out.
    """
    known_sites: set[str] = set()
    first_seen: dict[tuple[str, datetime], int] = {}

    async def one(row: Row) -> Outcome:
        site_id = _text(row, "site_id", 32)
        if site_id not in known_sites:
            if await session.get(Site, site_id) is None:
                raise RowProblem(f"no site with site_id {site_id!r}: import the site first")
            known_sites.add(site_id)
        day = _date(row, "date")
        starts_at = _moment(day, _time(row, "start"))
        ends_at = _moment(day, _time(row, "end"))
        if ends_at <= starts_at:
            raise RowProblem("end must be after start")
        capacity = _int(row, "capacity", low=1, high=MAX_CAPACITY)
        purpose = CHILDREN_SESSION if _flag(row, "children", default=False) else None
        _once(first_seen, (site_id, starts_at), row.line, "a slot of this site at this start")
        slot = await session.scalar(
            select(Slot).where(Slot.site_id == site_id, Slot.starts_at == starts_at)
        )
        if slot is None:
            session.add(
                Slot(
                    site_id=site_id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    capacity=capacity,
                    booked=0,
                    purpose=purpose,
                )
            )
            await session.flush()
            return Outcome.ADDED
        if (slot.ends_at, slot.capacity, slot.purpose) == (ends_at, capacity, purpose):
            return Outcome.UNCHANGED
        changed = await session.execute(
            update(Slot)
            .where(Slot.id == slot.id, Slot.booked <= capacity)
            .values(ends_at=ends_at, capacity=capacity, purpose=purpose)
            .execution_options(synchronize_session="fetch")
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            await session.refresh(slot)
            raise RowProblem(
                f"capacity {capacity} is below the {slot.booked} places already booked"
            )
        return Outcome.UPDATED

    return await _import(source, SLOT_COLUMNS, SLOT_OPTIONAL, one)


async def import_vaccinations(
    session: AsyncSession,
    source: Path | bytes | str,
    *,
    protector: DataProtector,
    authority: Authority,
    now: datetime,
) -> ImportReport:
    """Record doses given, from `source`, as site staff would in the chat.

    Columns: id_number, dose_number, product, lot, given_on, site_id (may be empty), optional
    booking_code. Each dose marks the person's booking attended and tells the citizen, through
    `record_dose`; a dose already recorded identically is "unchanged" and nobody is told twice.
    """
    today = local_day(now)
    sites: dict[str, Site] = {}

    async def one(row: Row) -> Outcome:
        try:
            pid = parse_personal_id(row["id_number"], current_year=today.year)
        except InvalidId as error:
            raise RowProblem(
                _ID_REASONS.get(error.problem, "the ID number is not valid")
            ) from None
        dose_number = _int(row, "dose_number", low=1, high=MAX_DOSE)
        product = _product(row["product"])
        lot = _text(row, "lot", 40)
        given_on = _date(row, "given_on")
        if given_on > today:
            raise RowProblem(f"given_on {given_on.isoformat()} is in the future")
        site = await _site_or_none(session, sites, row["site_id"])
        found = await people.find_by_id_index(session, id_index(protector, pid.number))
        if found is None:
            masked = mask_id_number(pid.number)
            raise RowProblem(f"no registered person with this ID number ({masked})")
        person = found[0]
        booking = None
        if row["booking_code"]:
            code = read_code(row["booking_code"])
            match = await bookings.find_by_code(session, code) if code else None
            if match is None:
                raise RowProblem(f"no booking with booking_code {row['booking_code']!r}")
            booking = match[0]
            if booking.person_id != person.id:
                raise RowProblem(f"booking {code} belongs to someone else")
            if booking.dose_number != dose_number:
                raise RowProblem(f"booking {code} is for dose {booking.dose_number}")
        entry = DoseEntry(
            person=person,
            dose_number=dose_number,
            product=product,
            lot=lot,
            given_on=given_on,
            site_id=site.id if site else None,
            booking=booking,
        )
        try:
            recorded = await record_dose(
                session,
                entry,
                source="import",
                actor=IMPORT_ACTOR,
                staff_id=None,
                site_name=site.name if site else None,
                authority=authority,
                now=now,
            )
        except DoseRefused as error:
            raise RowProblem(_DOSE_REASONS[error.problem].format(dose=dose_number)) from None
        return Outcome.ADDED if recorded else Outcome.UNCHANGED

    return await _import(source, DOSE_COLUMNS, DOSE_OPTIONAL, one)


async def import_results(
    session: AsyncSession,
    source: Path | bytes | str,
    *,
    now: datetime,
    checkpoint: Callable[[], Awaitable[None]] | None = None,
) -> ImportReport:
    """Record lab results of sample tubes from `source` and tell everyone in each tube.

    Columns: tube_code, result (negative, positive, inconclusive, or âm tính, dương tính, không
    xác định, with or without accents), tested_at (Vietnam time unless it has an offset; not in
    the future), lab, optional correction_reason. A new result is "added"; the same result again
    is "unchanged" and tells nobody twice. A tube's negative or positive result changes only
    with a correction_reason (5 to 300 characters) on the row: a correction ("updated":
    recorded as a new version, audited with the reason, and the people are told it corrects the
    earlier one); without one the row is a problem and nothing changes. After an inconclusive
    result the next one is the awaited result ("added"), no correction. An operator's import
    may result a tube of any site.
    """
    first_seen: dict[str, int] = {}

    async def one(row: Row) -> Outcome:
        value = _text(row, "tube_code", 40)
        code = read_tube_code(value)
        if code is None:
            raise RowProblem(f"tube_code must be 4 to 40 letters, digits or '-', not {value!r}")
        result = results.read_result(_text(row, "result", 40))
        if result is None:
            raise RowProblem(
                "result must be negative, positive or inconclusive (âm tính, dương tính, "
                f"không xác định), not {row['result']!r}"
            )
        tested_at = results.read_tested_at(_text(row, "tested_at", 40))
        if tested_at is None:
            raise RowProblem(
                "tested_at must be a date and time, YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM "
                f"(Vietnam time), not {row['tested_at']!r}"
            )
        if tested_at > now + results.FUTURE_SKEW:
            raise RowProblem(f"tested_at {row['tested_at']} is in the future")
        lab = _text(row, "lab", 120)
        correction = None
        if row["correction_reason"]:
            correction = results.read_reason(row["correction_reason"])
            if correction is None:
                raise RowProblem("correction_reason must be 5 to 300 characters")
        _once(first_seen, code, row.line, f"tube {code}")
        recorded = await results.record_result(
            session,
            tube_code=code,
            result=result,
            tested_at=tested_at,
            lab=lab,
            source="import",
            actor=RESULTS_ACTOR,
            now=now,
            sites=None,
            correction=correction,
        )
        if recorded is results.Outcome.UNKNOWN_TUBE:
            raise RowProblem(f"unknown tube code {code}: no sample was recorded with it")
        if recorded is results.Outcome.BEFORE_SAMPLE:
            raise RowProblem(f"tested_at {row['tested_at']} is before the sample was taken")
        if recorded is results.Outcome.NEEDS_CORRECTION:
            raise RowProblem(
                f"tube {code} already has a result: to change it, give the reason in "
                "correction_reason (5 to 300 characters)"
            )
        return _RESULT_OUTCOMES[recorded]

    return await _import(source, RESULT_COLUMNS, RESULT_OPTIONAL, one, checkpoint=checkpoint)


_RESULT_OUTCOMES = {
    results.Outcome.ADDED: Outcome.ADDED,
    results.Outcome.CORRECTED: Outcome.UPDATED,
    results.Outcome.UNCHANGED: Outcome.UNCHANGED,
}


# -- reading the file ------------------------------------------------------------------------


async def _import(
    source: Path | bytes | str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    one: Handler,
    *,
    checkpoint: Callable[[], Awaitable[None]] | None = None,
) -> ImportReport:
    """Read every row (or refuse the file), then import them one by one.

    With `checkpoint`, it is awaited after every CHECKPOINT_ROWS rows (the CLI commits there).
    """
    report = ImportReport()
    if isinstance(source, Path):
        source = await asyncio.to_thread(source.read_bytes)
    try:
        rows = list(_rows(_read_text(source), required, optional))
    except _FileProblem as problem:
        report.problems.append((problem.line, str(problem)))
        return report
    for done, row in enumerate(rows, start=1):
        if isinstance(row, _BadRow):
            report.problems.append((row.line, row.reason))
        else:
            try:
                report.count(await one(row))
            except RowProblem as problem:
                report.problems.append((row.line, str(problem)))
        if checkpoint is not None and done % CHECKPOINT_ROWS == 0:
            await checkpoint()
    return report


class _FileProblem(RowProblem):
    """The whole file is refused; `line` says where."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line


@dataclass(frozen=True)
class _BadRow:
    line: int
    reason: str


def _read_text(source: bytes | str) -> str:
    """The text of a file's bytes (UTF-8, BOM dropped), or `source` itself if text."""
    if isinstance(source, str):
        return source.removeprefix("\ufeff")
    try:
        return source.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = source[: error.start].count(b"\n") + 1
        raise _FileProblem(line, "the file is not UTF-8 text: save it as CSV UTF-8") from None


def _rows(
    text: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> Iterator[Row | _BadRow]:
    """The data rows, each with the line it starts on; blank rows are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        columns = _check_header(header, required, optional)
        line = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(cells) != len(columns):
                    yield _BadRow(line, f"{len(cells)} values for {len(columns)} columns")
                else:
                    yield Row(line, {c: v.strip() for c, v in zip(columns, cells, strict=True)})
            line = reader.line_num + 1
    except csv.Error as error:
        raise _FileProblem(reader.line_num, f"not a readable CSV file ({error})") from None


def _check_header(
    header: list[str], required: tuple[str, ...], optional: tuple[str, ...]
) -> list[str]:
    if not any(header):
        raise _FileProblem(1, f"the first line must be the header: {', '.join(required)}")
    unknown = [name or "(empty)" for name in header if name not in (*required, *optional)]
    if unknown:
        s = "s" if len(unknown) > 1 else ""
        raise _FileProblem(1, f"unknown column{s} {', '.join(unknown)}")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise _FileProblem(1, f"column {', '.join(twice)} appears more than once")
    missing = [name for name in required if name not in header]
    if missing:
        s = "s" if len(missing) > 1 else ""
        raise _FileProblem(
            1,
            f"missing required column{s} {', '.join(missing)} "
            f"(the header needs {', '.join(required)})",
        )
    return header


# -- reading values --------------------------------------------------------------------------


def _once(first_seen: dict[_Key, int], key: _Key, line: int, what: str) -> None:
    """Refuse a second row for the same thing in one file (the last would silently win)."""
    if key in first_seen:
        raise RowProblem(f"{what} is already on line {first_seen[key]}")
    first_seen[key] = line


def _text(row: Row, column: str, longest: int) -> str:
    value = row[column]
    if not value:
        raise RowProblem(f"{column} is empty")
    if len(value) > longest:
        raise RowProblem(f"{column} is longer than {longest} characters")
    return value


def _int(row: Row, column: str, *, low: int | None = None, high: int | None = None) -> int:
    value = row[column]
    if not value.isdecimal() or not value.isascii():
        raise RowProblem(f"{column} must be a whole number, not {value!r}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise RowProblem(f"{column} must be between {low} and {high}, not {number}")
    return number


SITE_PHONE = re.compile(r"\+?[0-9][0-9 .]{2,18}")  # as the console's site form checks it


def _site_phone(row: Row) -> str | None:
    """A site's phone as given (digits, spaces, dots, a leading +), or None when empty."""
    value = row["phone"].strip()
    if not value:
        return None
    if not SITE_PHONE.fullmatch(value):
        raise RowProblem(f"phone must be 3 to 20 digits, spaces or dots, not {value!r}")
    return value


def _flag(row: Row, column: str, *, default: bool) -> bool:
    value = row[column].lower()
    if not value:
        return default
    if value not in _FLAGS:
        raise RowProblem(f"{column} must be 1, 0, yes, no, true or false, not {row[column]!r}")
    return _FLAGS[value]


def _date(row: Row, column: str) -> date:
    value = row[column]
    if match := _ISO_DATE.fullmatch(value):
        year, month, day = (int(part) for part in match.groups())
    elif match := _VN_DATE.fullmatch(value):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise RowProblem(f"{column} must be YYYY-MM-DD or DD/MM/YYYY, not {value!r}")
    try:
        return date(year, month, day)
    except ValueError:
        raise RowProblem(f"{column} {value!r} is not a date in the calendar") from None


def _time(row: Row, column: str) -> time:
    value = row[column]
    match = _TIME.fullmatch(value)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise RowProblem(f"{column} must be a time HH:MM (00:00 to 23:59), not {value!r}")
    return time(int(match[1]), int(match[2]))


def _moment(day: date, at: time) -> datetime:
    """A Vietnam local date and time, in UTC."""
    return datetime.combine(day, at, tzinfo=TIMEZONE).astimezone(UTC)


def _check_ward(province_code: int, ward_code: int) -> None:
    try:
        province = divisions.province(province_code)
    except KeyError:
        raise RowProblem(f"province_code {province_code} is no current province") from None
    try:
        ward = divisions.ward(ward_code)
    except KeyError:
        raise RowProblem(
            f"ward_code {ward_code} is no current ward (codes since 1 July 2025)"
        ) from None
    if ward.province_code != province_code:
        raise RowProblem(
            f"ward_code {ward_code} ({ward.name}) is in {ward.province_name}, "
            f"not in province_code {province_code} ({province.name})"
        )


def _product(value: str) -> str:
    """A product key, from the key or the label in any case."""
    wanted = value.strip().casefold()
    for key, product in PRODUCTS.items():
        if wanted in (key, product.label.casefold()):
            return key
    raise RowProblem(f"unknown product {value!r}: one of {', '.join(PRODUCTS)}")


async def _site_or_none(
    session: AsyncSession, cache: dict[str, Site], site_id: str
) -> Site | None:
    if not site_id:
        return None
    if site_id not in cache:
        site = await session.get(Site, site_id)
        if site is None:
            raise RowProblem(f"no site with site_id {site_id!r}")
        cache[site_id] = site
    return cache[site_id]
