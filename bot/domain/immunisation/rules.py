"""What a child needs on a given day: doses done, due, overdue, next, and the catch-up plan.

Pure functions over a `Schedule`, a birth date, the doses recorded and `today` (a Vietnam
calendar day the caller passes in: `bot.i18n.local_day(clock.now())`; nothing here reads the
clock). Ages use the month rule of `durations` (month ends clamp to the last day).

How records are judged (per vaccine, in date order; a record's own dose number is kept but the
series is counted in order, as a vaccination card is read):
- a dose more than `validity_grace` (4 days) before its minimum age, or before the minimum
  interval from the previous valid dose, is invalid and has to be repeated; so is a dose on or
  after its maximum age, and a live injected dose 1-27 days after another live injected vaccine
  (no grace on that rule);
- the repeat of an invalid dose is spaced after it by the dose's minimum interval (dose 1 of a
  live injected vaccine: by `live_spacing`);
- "given" and "reported" doses count alike; the record stays on the result so a card can show
  which doses a site has not confirmed yet.

For each missing dose: `earliest` is the first valid day (never before today), `due_on` the day
the schedule wants it given the history: its recommended age, or the recommended interval after
the previous dose, never before it is valid; a child already more than `overdue_after` (1 month)
past a dose's recommended age is on the accelerated schedule for it (minimum intervals only, as
catch-up schedules do). The first missing dose of a series is due once `due_on` has come and
overdue once it is more than `overdue_after` past; later ones are upcoming. A dose whose
earliest day is on or after its maximum age is no longer indicated, nor are the doses after it.
The catch-up plan is every missing indicated dose on its earliest day, a late child's shortest
valid path back onto the schedule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from bot.domain.immunisation.schedule import Dose, Schedule, Vaccine


class DoseStatus(StrEnum):
    """Who vouches for a recorded dose."""

    GIVEN = "given"  # recorded by a vaccination site
    REPORTED = "reported"  # entered by a parent, not yet confirmed by a site


class Problem(StrEnum):
    """Why a recorded dose does not count and must be repeated."""

    BEFORE_MIN_AGE = "before_min_age"
    BEFORE_MIN_INTERVAL = "before_min_interval"
    LIVE_SPACING = "live_spacing"  # 1-27 days after a different live injected vaccine
    AFTER_MAX_AGE = "after_max_age"
    SERIES_COMPLETE = "series_complete"  # more doses than the series has


class State(StrEnum):
    """Where a dose of the schedule stands for the child today."""

    DONE = "done"
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"
    NOT_INDICATED = "no_longer_indicated"


@dataclass(frozen=True)
class DoseRecord:
    """A dose the child received: which vaccine, which dose, on which day, vouched by whom."""

    vaccine: str
    number: int
    given_on: date
    status: DoseStatus = DoseStatus.GIVEN


@dataclass(frozen=True)
class CheckedRecord:
    """A record and the verdict on it: the dose it counts as, or why it does not count."""

    record: DoseRecord
    counts_as: int | None
    problem: Problem | None = None


@dataclass(frozen=True)
class DoseState:
    """One dose of the schedule for this child.

    DONE: `record` is the valid dose. Otherwise `earliest` is the first valid day from today on,
    `due_on` the day it is wanted, `overdue_from` the first overdue day (NOT_INDICATED: the
    dates are those it would have had).
    """

    dose: Dose
    state: State
    record: DoseRecord | None = None
    earliest: date | None = None
    due_on: date | None = None
    overdue_from: date | None = None


@dataclass(frozen=True)
class Assessment:
    """Everything the card, the reminders and the due lists need for one child on one day."""

    born: date
    today: date
    doses: tuple[DoseState, ...]  # every dose of the schedule, in schedule order
    records: tuple[CheckedRecord, ...]  # every record, with its verdict

    def _in(self, *states: State) -> tuple[DoseState, ...]:
        return tuple(d for d in self.doses if d.state in states)

    @property
    def done(self) -> tuple[DoseState, ...]:
        """Doses validly given (or reported)."""
        return self._in(State.DONE)

    @property
    def due(self) -> tuple[DoseState, ...]:
        """Doses to give now, overdue ones included."""
        return self._in(State.DUE, State.OVERDUE)

    @property
    def overdue(self) -> tuple[DoseState, ...]:
        """Doses more than the overdue margin past the day they were due."""
        return self._in(State.OVERDUE)

    @property
    def upcoming(self) -> tuple[DoseState, ...]:
        """Doses not due yet, with the day they will be."""
        return self._in(State.UPCOMING)

    @property
    def not_indicated(self) -> tuple[DoseState, ...]:
        """Missed doses the child is now too old for."""
        return self._in(State.NOT_INDICATED)

    @property
    def invalid(self) -> tuple[CheckedRecord, ...]:
        """Records that do not count (to be repeated)."""
        return tuple(r for r in self.records if r.problem is not None)

    @property
    def next_date(self) -> date | None:
        """The next day a dose falls due after today (None when nothing is left)."""
        return min((d.due_on for d in self.upcoming if d.due_on is not None), default=None)

    @property
    def next(self) -> tuple[DoseState, ...]:
        """The doses falling due on `next_date`."""
        return tuple(d for d in self.upcoming if d.due_on == self.next_date)

    @property
    def plan(self) -> tuple[DoseState, ...]:
        """The catch-up plan: every missing indicated dose on its earliest valid day, in order."""
        missing = self._in(State.DUE, State.OVERDUE, State.UPCOMING)  # in schedule order
        return tuple(sorted(missing, key=lambda d: d.earliest or self.today))  # stable sort


class UnknownVaccine(ValueError):
    """A record names a vaccine the schedule does not have."""


def assess(
    schedule: Schedule, born: date, records: Iterable[DoseRecord], *, today: date
) -> Assessment:
    """Judge the records of a child born on `born` and say where every dose stands on `today`.

    Raises:
        ValueError: `today` is before `born`.
        UnknownVaccine: a record names a vaccine that is not in the schedule.
    """
    if today < born:
        raise ValueError("today is before the birth date")
    by_vaccine: dict[str, list[DoseRecord]] = {v.code: [] for v in schedule.vaccines}
    for record in records:
        if record.vaccine not in by_vaccine:
            raise UnknownVaccine(record.vaccine)
        by_vaccine[record.vaccine].append(record)
    judge = _Judge(schedule, born, today, by_vaccine)
    states: list[DoseState] = []
    checked: list[CheckedRecord] = []
    for vaccine in schedule.vaccines:
        vaccine_states, vaccine_checked = judge.series(vaccine)
        states.extend(vaccine_states)
        checked.extend(vaccine_checked)
    return Assessment(born, today, tuple(states), tuple(checked))


class _Judge:
    """The rules for one child, vaccine by vaccine (live injected plans are shared across)."""

    def __init__(
        self, schedule: Schedule, born: date, today: date, records: dict[str, list[DoseRecord]]
    ) -> None:
        self.born, self.today, self.records = born, today, records
        self.grace = schedule.rules.validity_grace.value
        self.overdue_after = schedule.rules.overdue_after.value
        self.live_spacing = schedule.rules.live_spacing.value
        self.live_codes = {v.code for v in schedule.vaccines if v.live_injected}
        self.planned_live: list[tuple[str, date]] = []  # live injected doses planned so far

    def series(self, vaccine: Vaccine) -> tuple[list[DoseState], list[CheckedRecord]]:
        """Count the vaccine's records in order, then project its missing doses."""
        states: list[DoseState] = []
        checked: list[CheckedRecord] = []
        last_valid: date | None = None
        repeat_after: date | None = None  # a repeat is due no earlier than this
        doses = vaccine.doses
        for record in sorted(self.records[vaccine.code], key=lambda r: (r.given_on, r.number)):
            if len(states) == len(doses):
                checked.append(CheckedRecord(record, None, Problem.SERIES_COMPLETE))
                continue
            dose = doses[len(states)]
            problem = self._problem(vaccine, dose, record.given_on, last_valid, repeat_after)
            if problem is None:
                checked.append(CheckedRecord(record, dose.number))
                states.append(DoseState(dose, State.DONE, record))
                last_valid, repeat_after = record.given_on, None
            else:
                checked.append(CheckedRecord(record, None, problem))
                repeat_after = self._repeat_after(vaccine, dose, record.given_on)
        states.extend(self._missing(vaccine, doses[len(states) :], last_valid, repeat_after))
        return states, checked

    def _problem(
        self,
        vaccine: Vaccine,
        dose: Dose,
        given_on: date,
        last_valid: date | None,
        repeat_after: date | None,
    ) -> Problem | None:
        counted_as = self.grace.after(given_on)  # a dose this little early still counts
        if counted_as < dose.min_age.value.after(self.born):
            return Problem.BEFORE_MIN_AGE
        if dose.max_age is not None and given_on >= dose.max_age.value.after(self.born):
            return Problem.AFTER_MAX_AGE
        not_before = [] if repeat_after is None else [repeat_after]
        if dose.min_interval is not None and last_valid is not None:
            not_before.append(dose.min_interval.value.after(last_valid))
        if any(counted_as < day for day in not_before):
            return Problem.BEFORE_MIN_INTERVAL
        if vaccine.live_injected and self._too_close_to_other_live(vaccine, given_on):
            return Problem.LIVE_SPACING
        return None

    def _repeat_after(self, vaccine: Vaccine, dose: Dose, invalid_on: date) -> date | None:
        if dose.min_interval is not None:
            return dose.min_interval.value.after(invalid_on)
        return self.live_spacing.after(invalid_on) if vaccine.live_injected else None

    def _too_close_to_other_live(self, vaccine: Vaccine, day: date) -> bool:
        others = self._other_live_given(vaccine)
        return any(other < day < self.live_spacing.after(other) for other in others)

    def _other_live_given(self, vaccine: Vaccine) -> list[date]:
        """Days other live injected vaccines were recorded (valid or not: the body saw them)."""
        codes = self.live_codes - {vaccine.code}
        return [record.given_on for code in codes for record in self.records[code]]

    def _missing(
        self,
        vaccine: Vaccine,
        doses: tuple[Dose, ...],
        last_valid: date | None,
        repeat_after: date | None,
    ) -> list[DoseState]:
        """Project the missing doses: earliest valid day, wanted day, state."""
        states: list[DoseState] = []
        previous_earliest = previous_due = last_valid
        for position, dose in enumerate(doses):
            if states and states[-1].state is State.NOT_INDICATED:
                states.append(DoseState(dose, State.NOT_INDICATED))
                continue
            valid_from = dose.min_age.value.after(self.born)
            if dose.min_interval is not None and previous_earliest is not None:
                valid_from = max(valid_from, dose.min_interval.value.after(previous_earliest))
            if position == 0 and repeat_after is not None:
                valid_from = max(valid_from, repeat_after)
            earliest = max(valid_from, self.today)
            if vaccine.live_injected:
                earliest = self._clear_of_other_live(vaccine, earliest)
            due_on = dose.recommended_age.value.after(self.born)
            behind = self.today > self.overdue_after.after(due_on)  # accelerated: min intervals
            if not behind and dose.recommended_interval and previous_due is not None:
                due_on = max(due_on, dose.recommended_interval.value.after(previous_due))
            due_on = max(due_on, valid_from if earliest == self.today else earliest)
            overdue_from = self.overdue_after.after(due_on) + timedelta(days=1)
            if dose.max_age is not None and earliest >= dose.max_age.value.after(self.born):
                state = State.NOT_INDICATED
            elif position == 0 and self.today >= overdue_from:
                state = State.OVERDUE
            elif position == 0 and self.today >= due_on:
                state = State.DUE
            else:
                state = State.UPCOMING
            states.append(DoseState(dose, state, None, earliest, due_on, overdue_from))
            if vaccine.live_injected and state is not State.NOT_INDICATED:
                self.planned_live.append((vaccine.code, earliest))
            previous_earliest, previous_due = earliest, due_on
        return states

    def _clear_of_other_live(self, vaccine: Vaccine, day: date) -> date:
        """The first day from `day` that is not 1-27 days after another live injected dose."""
        others = [planned for code, planned in self.planned_live if code != vaccine.code]
        others += self._other_live_given(vaccine)
        moved = True
        while moved:
            moved = False
            for other in others:
                if other < day < self.live_spacing.after(other):
                    day, moved = self.live_spacing.after(other), True
        return day
