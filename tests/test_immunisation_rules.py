"""The rules engine against the schedule of Circular 10/2024/TT-BYT: on-time children, late
children's catch-up plans, doses given too early, maximum ages, leap-day births."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.domain.immunisation.rules import (
    Assessment,
    DoseRecord,
    DoseState,
    DoseStatus,
    Problem,
    State,
    UnknownVaccine,
    assess,
)
from bot.domain.immunisation.schedule import load_schedule
from bot.i18n import local_day

SCHEDULE = load_schedule()
BORN = date(2024, 3, 10)


def doses(states: tuple[DoseState, ...]) -> set[tuple[str, int]]:
    return {(s.dose.vaccine, s.dose.number) for s in states}


def on_time(born: date, before: date) -> list[DoseRecord]:
    """Every dose given on its recommended day, for the days before `before`."""
    return [
        DoseRecord(dose.vaccine, dose.number, day)
        for vaccine in SCHEDULE.vaccines
        for dose in vaccine.doses
        if (day := dose.recommended_age.value.after(born)) < before
    ]


def dose_state(assessment: Assessment, vaccine: str, number: int) -> DoseState:
    return next(
        d for d in assessment.doses if (d.dose.vaccine, d.dose.number) == (vaccine, number)
    )


def state_of(assessment: Assessment, vaccine: str, number: int) -> State:
    return dose_state(assessment, vaccine, number).state


@pytest.mark.parametrize(
    ("today", "due", "next_date", "next_doses"),
    [
        (
            date(2024, 5, 10),
            {("dtp", 1), ("opv", 1), ("rota", 1)},
            date(2024, 6, 10),
            {("dtp", 2), ("opv", 2), ("rota", 2)},
        ),
        (
            date(2024, 6, 10),
            {("dtp", 2), ("opv", 2), ("rota", 2)},
            date(2024, 7, 10),
            {("dtp", 3), ("opv", 3)},
        ),
        (date(2024, 7, 10), {("dtp", 3), ("opv", 3)}, date(2024, 8, 10), {("ipv", 1)}),
        (date(2024, 12, 10), {("ipv", 2), ("measles", 1)}, date(2025, 3, 10), {("je", 1)}),
        (date(2025, 9, 10), {("dtp", 4), ("measles", 2)}, date(2026, 3, 24), {("je", 3)}),
    ],
    ids=["2-months", "3-months", "4-months", "9-months", "18-months"],
)
def test_an_on_time_child_is_due_the_doses_of_its_age(
    today: date, due: set[tuple[str, int]], next_date: date, next_doses: set[tuple[str, int]]
) -> None:
    assessment = assess(SCHEDULE, BORN, on_time(BORN, today), today=today)
    assert doses(assessment.due) == due
    assert assessment.overdue == ()
    assert assessment.invalid == ()
    assert assessment.not_indicated == ()
    assert assessment.next_date == next_date
    assert doses(assessment.next) == next_doses
    assert {("hepb_birth", 1), ("bcg", 1)} <= doses(assessment.done)


def test_a_dose_is_overdue_a_month_after_its_day() -> None:
    births = on_time(BORN, date(2024, 3, 11))
    on_the_edge = assess(SCHEDULE, BORN, births, today=date(2024, 6, 10))
    first = dose_state(on_the_edge, "dtp", 1)
    assert (first.state, first.due_on, first.overdue_from) == (
        State.DUE,
        date(2024, 5, 10),
        date(2024, 6, 11),
    )
    assert state_of(assess(SCHEDULE, BORN, births, today=date(2024, 6, 11)), "dtp", 1) is (
        State.OVERDUE
    )


LATE_BORN, LATE_SEEN = date(2024, 1, 15), date(2025, 3, 15)  # first seen at 14 months

LATE_PLAN = [
    (date(2025, 3, 15), "bcg", 1),
    (date(2025, 3, 15), "dtp", 1),
    (date(2025, 3, 15), "opv", 1),
    (date(2025, 3, 15), "ipv", 1),
    (date(2025, 3, 15), "rota", 1),
    (date(2025, 3, 15), "measles", 1),
    (date(2025, 3, 15), "je", 1),
    (date(2025, 3, 22), "je", 2),  # 7 days: the short end of "1-2 weeks"
    (date(2025, 4, 12), "dtp", 2),  # 28 days
    (date(2025, 4, 12), "opv", 2),
    (date(2025, 4, 12), "rota", 2),
    (date(2025, 4, 15), "measles", 2),  # 15 months (28 days after dose 1 would be 12/04)
    (date(2025, 5, 10), "dtp", 3),
    (date(2025, 5, 10), "opv", 3),
    (date(2025, 7, 15), "ipv", 2),  # 4 months after IPV 1
    (date(2025, 11, 10), "dtp", 4),  # 6 months after DTP 3
    (date(2026, 3, 22), "je", 3),
    (date(2031, 1, 15), "td", 1),
]


def test_a_child_first_seen_at_14_months_gets_a_full_catch_up_plan() -> None:
    assessment = assess(SCHEDULE, LATE_BORN, [], today=LATE_SEEN)
    assert [(d.earliest, d.dose.vaccine, d.dose.number) for d in assessment.plan] == LATE_PLAN
    first_doses = {(v, n) for day, v, n in LATE_PLAN if day == LATE_SEEN}
    assert doses(assessment.due) == first_doses
    assert doses(assessment.overdue) == first_doses  # all more than a month late
    assert doses(assessment.not_indicated) == {("hepb_birth", 1)}  # birth dose: up to 2 months
    assert (assessment.next_date, doses(assessment.next)) == (date(2025, 3, 22), {("je", 2)})


def test_the_plan_moves_on_as_the_late_child_catches_up() -> None:
    first_visit = [DoseRecord(v, n, day) for day, v, n in LATE_PLAN if day == LATE_SEEN]
    later = assess(SCHEDULE, LATE_BORN, first_visit, today=date(2025, 4, 12))
    # behind: on the minimum intervals, so due the day the plan said, not a month after dose 1
    assert doses(later.due) == {("dtp", 2), ("opv", 2), ("rota", 2), ("je", 2)}
    assert later.overdue == ()
    assert dose_state(later, "je", 2).due_on == date(2025, 3, 22)
    assert dose_state(later, "measles", 2).earliest == date(2025, 4, 15)


@pytest.mark.parametrize(
    ("second_dose_on", "problem"),
    [
        (date(2024, 6, 7), None),  # 28 days after dose 1
        (date(2024, 6, 3), None),  # 24 days: within the 4-day grace
        (date(2024, 6, 2), Problem.BEFORE_MIN_INTERVAL),  # 23 days: too soon, repeat it
        (date(2024, 5, 20), Problem.BEFORE_MIN_INTERVAL),
    ],
)
def test_a_dose_given_before_the_minimum_interval_is_refused(
    second_dose_on: date, problem: Problem | None
) -> None:
    records = [
        DoseRecord("dtp", 1, date(2024, 5, 10)),
        DoseRecord("dtp", 2, second_dose_on),
    ]
    assessment = assess(SCHEDULE, BORN, records, today=date(2024, 6, 10))
    assert [r.problem for r in assessment.records if r.record.vaccine == "dtp"] == [None, problem]
    second = dose_state(assessment, "dtp", 2)
    if problem is None:
        assert second.state is State.DONE
    else:
        assert second.state is State.UPCOMING
        assert second.earliest == date.fromordinal(second_dose_on.toordinal() + 28)


@pytest.mark.parametrize(
    ("given_on", "problem"),
    [
        (date(2024, 4, 21), None),  # 6 weeks
        (date(2024, 4, 17), None),  # 4 days early
        (date(2024, 4, 16), Problem.BEFORE_MIN_AGE),  # 5 days early
        (date(2024, 3, 10), Problem.BEFORE_MIN_AGE),  # at birth
    ],
)
def test_a_dose_given_before_the_minimum_age_is_refused(
    given_on: date, problem: Problem | None
) -> None:
    assessment = assess(SCHEDULE, BORN, [DoseRecord("dtp", 1, given_on)], today=date(2024, 5, 1))
    assert [r.problem for r in assessment.records] == [problem]
    assert (dose_state(assessment, "dtp", 1).state is State.DONE) is (problem is None)


def test_a_repeat_is_counted_from_the_invalid_dose_and_the_next_from_the_repeat() -> None:
    records = [
        DoseRecord("dtp", 1, date(2024, 5, 10)),
        DoseRecord("dtp", 2, date(2024, 5, 24)),  # 14 days: invalid
        DoseRecord("dtp", 2, date(2024, 6, 21)),  # 28 days after the invalid one: valid
        DoseRecord("dtp", 3, date(2024, 7, 1)),  # 10 days after the repeat: invalid
    ]
    assessment = assess(SCHEDULE, BORN, records, today=date(2024, 7, 2))
    assert [(r.counts_as, r.problem) for r in assessment.records if r.record.vaccine == "dtp"] == [
        (1, None),
        (None, Problem.BEFORE_MIN_INTERVAL),
        (2, None),
        (None, Problem.BEFORE_MIN_INTERVAL),
    ]
    assert dose_state(assessment, "dtp", 3).earliest == date(2024, 7, 29)


@pytest.mark.parametrize(
    ("given_on", "problem", "dose_1_from"),
    [
        (date(2024, 11, 10), Problem.BEFORE_MIN_AGE, date(2024, 12, 10)),  # 8 months: MCV0
        (date(2024, 11, 30), Problem.BEFORE_MIN_AGE, date(2024, 12, 28)),  # 28 days after it
        (date(2024, 12, 6), None, None),  # 9 months less 4 days counts
    ],
    ids=["8-months", "8-months-20-days", "grace"],
)
def test_measles_rubella_given_at_8_months_does_not_count(
    given_on: date, problem: Problem | None, dose_1_from: date | None
) -> None:
    records = [*on_time(BORN, date(2024, 11, 1)), DoseRecord("measles", 1, given_on)]
    assessment = assess(SCHEDULE, BORN, records, today=date(2024, 12, 7))
    measles = [r for r in assessment.records if r.record.vaccine == "measles"]
    assert [r.problem for r in measles] == [problem]
    first = dose_state(assessment, "measles", 1)
    if problem is None:
        assert first.state is State.DONE
    else:
        assert (first.state, first.earliest) == (State.UPCOMING, dose_1_from)


def test_live_vaccines_are_given_together_or_four_weeks_apart() -> None:
    records = [
        DoseRecord("bcg", 1, date(2024, 12, 10)),  # BCG late, at 9 months
        DoseRecord("measles", 1, date(2024, 12, 20)),  # 10 days later: does not count
    ]
    assessment = assess(SCHEDULE, BORN, records, today=date(2024, 12, 21))
    assert [r.problem for r in assessment.records] == [None, Problem.LIVE_SPACING]
    assert dose_state(assessment, "measles", 1).earliest == date(2025, 1, 17)

    same_day = [
        DoseRecord("bcg", 1, date(2024, 12, 10)),
        DoseRecord("measles", 1, date(2024, 12, 10)),
    ]
    assert assess(SCHEDULE, BORN, same_day, today=date(2024, 12, 21)).invalid == ()


def test_a_plan_keeps_a_live_vaccine_four_weeks_after_one_planned_before_it() -> None:
    records = [r for r in on_time(BORN, date(2024, 11, 25)) if r.vaccine != "bcg"]
    assessment = assess(SCHEDULE, BORN, records, today=date(2024, 11, 25))
    assert dose_state(assessment, "bcg", 1).earliest == date(2024, 11, 25)
    measles = dose_state(assessment, "measles", 1)
    assert (measles.earliest, measles.due_on) == (date(2024, 12, 23), date(2024, 12, 23))


def test_a_live_vaccine_due_today_waits_four_weeks_after_another_one() -> None:
    records = [r for r in on_time(BORN, date(2024, 12, 1)) if r.vaccine != "bcg"]
    records.append(DoseRecord("bcg", 1, date(2024, 12, 1)))  # BCG late, 9 days before
    assessment = assess(SCHEDULE, BORN, records, today=date(2024, 12, 10))  # 9 months
    measles = dose_state(assessment, "measles", 1)
    assert (measles.state, measles.earliest) == (State.UPCOMING, date(2024, 12, 29))
    assert ("measles", 1) not in doses(assessment.due)


def test_doses_past_their_maximum_age_are_no_longer_indicated() -> None:
    at_two = assess(SCHEDULE, date(2023, 1, 15), [], today=date(2025, 1, 15))
    assert state_of(at_two, "rota", 1) is State.NOT_INDICATED
    assert state_of(at_two, "rota", 2) is State.NOT_INDICATED

    late_rota = [DoseRecord("rota", 1, date(2025, 12, 20))]  # at 23 months: valid
    too_late = assess(SCHEDULE, date(2024, 1, 15), late_rota, today=date(2025, 12, 21))
    assert state_of(too_late, "rota", 1) is State.DONE
    assert state_of(too_late, "rota", 2) is State.NOT_INDICATED  # 28 days later is past 24 months

    given_late = [DoseRecord("rota", 1, date(2025, 2, 20))]  # at 25 months
    refused = assess(SCHEDULE, date(2023, 1, 15), given_late, today=date(2025, 3, 1))
    assert [r.problem for r in refused.records] == [Problem.AFTER_MAX_AGE]

    at_seven = assess(SCHEDULE, date(2017, 6, 1), [], today=date(2024, 6, 1))
    assert {("dtp", n) for n in range(1, 5)} <= doses(at_seven.not_indicated)
    assert ("td", 1) in doses(at_seven.due)


def test_a_dose_beyond_the_series_does_not_count() -> None:
    records = [*on_time(BORN, date(2024, 5, 1)), DoseRecord("bcg", 1, date(2024, 5, 2))]
    assessment = assess(SCHEDULE, BORN, records, today=date(2024, 5, 3))
    assert [r.problem for r in assessment.invalid] == [Problem.SERIES_COMPLETE]


def test_reported_doses_count_and_stay_marked_reported() -> None:
    records = [
        DoseRecord(r.vaccine, r.number, r.given_on, DoseStatus.REPORTED)
        for r in on_time(BORN, date(2024, 6, 1))
    ]
    assessment = assess(SCHEDULE, BORN, records, today=date(2024, 6, 10))
    assert doses(assessment.due) == {("dtp", 2), ("opv", 2), ("rota", 2)}
    assert {d.record.status for d in assessment.done if d.record} == {DoseStatus.REPORTED}


LEAP_BORN = date(2024, 2, 29)


@pytest.mark.parametrize(
    ("today", "vaccine", "number", "state"),
    [
        (date(2024, 4, 28), "dtp", 1, State.UPCOMING),
        (date(2024, 4, 29), "dtp", 1, State.DUE),  # 2 months after 29/02
        (date(2025, 2, 27), "je", 1, State.UPCOMING),
        (date(2025, 2, 28), "je", 1, State.DUE),  # 12 months: 28/02 in a common year
    ],
)
def test_a_leap_day_child_reaches_its_ages_on_month_ends(
    today: date, vaccine: str, number: int, state: State
) -> None:
    records = [r for r in on_time(LEAP_BORN, today) if (r.vaccine, r.number) != (vaccine, number)]
    assert state_of(assess(SCHEDULE, LEAP_BORN, records, today=today), vaccine, number) is state


@pytest.mark.parametrize(
    ("given_on", "problem"),
    [(date(2025, 2, 24), None), (date(2025, 2, 23), Problem.BEFORE_MIN_AGE)],
)
def test_a_leap_day_child_has_the_grace_counted_from_28_february(
    given_on: date, problem: Problem | None
) -> None:
    assessment = assess(SCHEDULE, LEAP_BORN, [DoseRecord("je", 1, given_on)], today=given_on)
    assert [r.problem for r in assessment.records] == [problem]


def test_a_leap_day_child_has_its_later_doses_on_the_right_days() -> None:
    assessment = assess(SCHEDULE, LEAP_BORN, [], today=LEAP_BORN)
    assert dose_state(assessment, "dtp", 4).due_on == date(2025, 8, 29)
    assert dose_state(assessment, "td", 1).due_on == date(2031, 2, 28)


def test_today_is_the_day_in_vietnam() -> None:
    born = date(2025, 1, 10)
    evening_utc = datetime(2025, 3, 9, 17, 30, tzinfo=UTC)  # 00:30 on 10/03 in Vietnam
    records = on_time(born, date(2025, 1, 11))
    in_vietnam = assess(SCHEDULE, born, records, today=local_day(evening_utc))
    assert state_of(in_vietnam, "dtp", 1) is State.DUE
    in_utc = assess(SCHEDULE, born, records, today=evening_utc.date())
    assert state_of(in_utc, "dtp", 1) is State.UPCOMING


def test_impossible_input_is_refused() -> None:
    with pytest.raises(ValueError, match="before the birth date"):
        assess(SCHEDULE, BORN, [], today=date(2024, 3, 9))
    with pytest.raises(UnknownVaccine):
        assess(SCHEDULE, BORN, [DoseRecord("covid", 1, date(2024, 5, 1))], today=date(2024, 6, 1))
