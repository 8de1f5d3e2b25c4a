"""Due lists and coverage for one ward, as U-WIN gives community health workers (issue 21, item 6).

Pure functions over `ChildRow`s (a child and its dose records) and the rules engine, and
`load_rows`, which reads a ward's rows (the CLI, the console and the bench share it); nothing here
reads the clock. Rows are prefiltered in SQL by birth date (`oldest_birth`): nobody older than
the registry's age limit is ever listed.

Due list: each child with a dose due or overdue today, or falling due within the next `days`
days; one dose per vaccine series (the next one: a later dose cannot come before it). Coverage:
for each dose of the schedule, among the ward's children old enough that it is wanted (its
recommended age reached), how many have it on record (valid, reported by a parent or given by a
site), and how many of those a site confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.immunisation.durations import add_months
from bot.domain.immunisation.rules import DoseRecord, DoseState, DoseStatus, State, assess
from bot.domain.immunisation.schedule import Dose, Schedule
from storage import children

MAX_AGE_YEARS = 16  # children are registered under this age (bot.handlers.children)
_WANTED = (State.DUE, State.OVERDUE, State.UPCOMING)


@dataclass(frozen=True)
class ChildRow:
    """A child as the due list needs it: id, name, birth date and dose records."""

    id: int
    name: str
    born: date
    records: tuple[DoseRecord, ...] = ()


@dataclass(frozen=True)
class DueEntry:
    """A child on the due list with the doses to give this week (next one of each series)."""

    child: ChildRow
    doses: tuple[DoseState, ...]

    @property
    def overdue(self) -> bool:
        """Whether any of the doses is overdue."""
        return any(d.state is State.OVERDUE for d in self.doses)

    @property
    def first_day(self) -> date:
        """The earliest day one of the doses was (or will be) due."""
        return min(d.due_on for d in self.doses if d.due_on is not None)


@dataclass(frozen=True)
class Coverage:
    """One dose of the schedule in a ward: children it is wanted for, how many have it."""

    dose: Dose
    eligible: int
    covered: int
    confirmed: int  # of `covered`, given or confirmed by a site

    @property
    def percent(self) -> float:
        """`covered` out of `eligible`, in percent (0 when nobody is eligible)."""
        return 100.0 * self.covered / self.eligible if self.eligible else 0.0


def oldest_birth(today: date) -> date:
    """The earliest birth date a due list looks at (SQL prefilter: `birth_date > this`)."""
    return add_months(today, -12 * MAX_AGE_YEARS)


def next_of_each_series(doses: Iterable[DoseState]) -> list[DoseState]:
    """The first dose of each vaccine series that is not done (and still indicated)."""
    seen: set[str] = set()
    found = []
    for state in doses:
        if state.state is State.DONE or state.dose.vaccine in seen:
            continue
        seen.add(state.dose.vaccine)
        if state.state in _WANTED:
            found.append(state)
    return found


def due_list(
    schedule: Schedule, rows: Iterable[ChildRow], *, today: date, days: int = 7
) -> list[DueEntry]:
    """The children to vaccinate from `today` to `today + days`: overdue first, then by day."""
    horizon = today + timedelta(days=days)
    entries = []
    for row in rows:
        if row.born > today:
            continue  # a birth date from a clock ahead of ours: nothing is due yet
        found = assess(schedule, row.born, row.records, today=today)
        doses = tuple(
            d
            for d in next_of_each_series(found.doses)
            if d.state is not State.UPCOMING or (d.due_on is not None and d.due_on <= horizon)
        )
        if doses:
            entries.append(DueEntry(row, doses))
    return ordered(entries)


def ordered(entries: Iterable[DueEntry]) -> list[DueEntry]:
    """Due entries as the list shows them: overdue first, then by day, name and id."""
    return sorted(entries, key=lambda e: (not e.overdue, e.first_day, e.child.name, e.child.id))


def coverage(schedule: Schedule, rows: Iterable[ChildRow], *, today: date) -> list[Coverage]:
    """For each dose of the schedule, in schedule order: eligible, covered and confirmed."""
    doses = [dose for vaccine in schedule.vaccines for dose in vaccine.doses]
    counts = {(d.vaccine, d.number): [0, 0, 0] for d in doses}
    for row in rows:
        if row.born > today:
            continue
        found = assess(schedule, row.born, row.records, today=today)
        for state in found.doses:
            if state.dose.recommended_age.value.after(row.born) > today:
                continue  # not wanted yet at this age
            count = counts[(state.dose.vaccine, state.dose.number)]
            count[0] += 1
            if state.state is State.DONE:
                count[1] += 1
                if state.record is not None and state.record.status is DoseStatus.GIVEN:
                    count[2] += 1
    return [Coverage(d, *counts[(d.vaccine, d.number)]) for d in doses]


def mask_name(name: str) -> str:
    """A name in staff output without revealing it: the initial of each word (`L. M. A.`)."""
    words = name.split()
    return " ".join(f"{word[0]}." for word in words) if words else "-"


async def load_rows(
    session: AsyncSession,
    ward: int | None,
    today: date,
    *,
    born_after: date | None = None,
    born_before: date | None = None,
) -> list[ChildRow]:
    """The children of a ward (every ward: None) with their records, for the due list.

    Everyone under the registry's age limit, or those born in (`born_after`, `born_before`).
    """
    oldest = max(born_after or oldest_birth(today), oldest_birth(today))
    found, given = await children.area_rows(
        session, ward, born_after=oldest, born_before=born_before
    )
    records: dict[int, list[DoseRecord]] = {}
    for child_id, vaccine, number, given_on, status in given:
        records.setdefault(child_id, []).append(
            DoseRecord(vaccine, number, given_on, DoseStatus(status))
        )
    return [
        ChildRow(child_id, name, born, tuple(records.get(child_id, ())))
        for child_id, name, born in found
    ]
