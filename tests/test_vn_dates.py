"""Dates of birth in every common form, day first; times staff type for a scheduled send."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.i18n import TIMEZONE
from bot.vn.dates import DateProblem, InvalidDate, age_on, parse_birth_date, parse_send_time

TODAY = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("02/01/1990", date(1990, 1, 2)),
        ("2/1/1990", date(1990, 1, 2)),
        ("2-1-1990", date(1990, 1, 2)),
        ("02.01.1990", date(1990, 1, 2)),
        ("02011990", date(1990, 1, 2)),
        ("2/1/90", date(1990, 1, 2)),
        (" 2 / 1 / 1990 ", date(1990, 1, 2)),
        ("29/02/2024", date(2024, 2, 29)),
        ("15/3/05", date(2005, 3, 15)),
        ("15/3/27", date(1927, 3, 15)),
        ("30/11/2026", TODAY),
    ],
    ids=[
        "slashes",
        "short",
        "dashes",
        "dots",
        "packed",
        "two-digit-year",
        "spaces",
        "leap-day",
        "two-digit-2000s",
        "two-digit-future-means-1900s",
        "born-today",
    ],
)
def test_accepted(typed: str, expected: date) -> None:
    assert parse_birth_date(typed, today=TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", DateProblem.FORMAT),
        ("hôm qua", DateProblem.FORMAT),
        ("1990-01-02x", DateProblem.FORMAT),
        ("😀", DateProblem.FORMAT),
        ("2/1", DateProblem.FORMAT),
        ("31/02/1990", DateProblem.NO_SUCH_DAY),
        ("29/02/2023", DateProblem.NO_SUCH_DAY),
        ("01/13/1990", DateProblem.NO_SUCH_DAY),
        ("01/12/2026", DateProblem.FUTURE),
        ("29/11/1905", DateProblem.TOO_OLD),
    ],
    ids=[
        "empty",
        "words",
        "trailing-junk",
        "emoji",
        "no-year",
        "31-feb",
        "29-feb-common-year",
        "month-first",
        "tomorrow",
        "over-120",
    ],
)
def test_refused(typed: str, problem: DateProblem) -> None:
    with pytest.raises(InvalidDate) as refused:
        parse_birth_date(typed, today=TODAY)
    assert refused.value.problem == problem


def test_exactly_120_is_accepted_and_age_counts_birthdays() -> None:
    assert parse_birth_date("30/11/1906", today=TODAY) == date(1906, 11, 30)
    assert age_on(date(1990, 12, 1), TODAY) == 35
    assert age_on(date(1990, 11, 30), TODAY) == 36


NOW = datetime(2026, 12, 3, 10, 0, tzinfo=TIMEZONE)  # a Thursday morning in Vietnam


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("17:30", datetime(2026, 12, 3, 17, 30)),
        ("17h30", datetime(2026, 12, 3, 17, 30)),
        ("17h", datetime(2026, 12, 3, 17, 0)),
        ("8 giờ", datetime(2026, 12, 3, 8, 0)),
        ("9 gio 30", datetime(2026, 12, 3, 9, 30)),
        ("8:00 15/12", datetime(2026, 12, 15, 8, 0)),
        ("15/12 08:00", datetime(2026, 12, 15, 8, 0)),
        ("ngày 15/12 lúc 8:00", datetime(2026, 12, 15, 8, 0)),
        ("15/12/2026 8h30", datetime(2026, 12, 15, 8, 30)),
        ("lúc 9h ngày mai", datetime(2026, 12, 4, 9, 0)),
        ("mai 9:00", datetime(2026, 12, 4, 9, 0)),
        ("05/01 7:00", datetime(2027, 1, 5, 7, 0)),  # typed in December: next January
        ("17:30 hôm nay", datetime(2026, 12, 3, 17, 30)),
    ],
)
def test_send_time(typed: str, expected: datetime) -> None:
    assert parse_send_time(typed, now=NOW, tz=TIMEZONE) == expected.replace(tzinfo=TIMEZONE)


@pytest.mark.parametrize(
    "typed", ["", "abc", "25:00", "9:61", "31/02 8:00", "17:30 và 18:00", "0912345678", "🙂"]
)
def test_not_a_send_time(typed: str) -> None:
    assert parse_send_time(typed, now=NOW, tz=TIMEZONE) is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2 thang 9 nam 1958", date(1958, 9, 2)),
        ("2 tháng 9 năm 1958", date(1958, 9, 2)),
        ("Ngày 2 tháng 9, 1958", date(1958, 9, 2)),
        ("mùng 2 tháng 9 năm 1958", date(1958, 9, 2)),
        ("mồng hai tháng chín năm 58", date(1958, 9, 2)),
        ("2 thang nam nam 1958", date(1958, 5, 2)),
        ("15 tháng chạp năm 1960", date(1960, 12, 15)),
        ("mùng 1 tháng giêng 1970", date(1970, 1, 1)),
        ("20 tháng mười hai năm 1999", date(1999, 12, 20)),
        ("NGÀY 2 THÁNG 9 NĂM 1958", date(1958, 9, 2)),
    ],
    ids=[
        "plain", "diacritics", "ngay-comma", "mung", "mong-words-two-digit-year",
        "thang-nam-is-may", "thang-chap", "thang-gieng", "muoi-hai", "upper-case",
    ],
)  # fmt: skip
def test_accepted_in_words(typed: str, expected: date) -> None:
    assert parse_birth_date(typed, today=TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("mùng 2 tháng 9", DateProblem.FORMAT),  # a birth date needs its year
        ("31 tháng 2 năm 1990", DateProblem.NO_SUCH_DAY),
        ("2 tháng 13 năm 1990", DateProblem.NO_SUCH_DAY),
        ("1 tháng 12 năm 2026", DateProblem.FUTURE),
        ("hai tháng", DateProblem.FORMAT),
    ],
    ids=["no-year", "no-such-day", "no-such-month", "future", "half"],
)
def test_refused_in_words(typed: str, problem: DateProblem) -> None:
    with pytest.raises(InvalidDate) as refused:
        parse_birth_date(typed, today=TODAY)
    assert refused.value.problem == problem


def test_send_time_with_a_day_in_words() -> None:
    now = datetime(2026, 8, 1, 9, 0, tzinfo=TIMEZONE)
    expected = datetime(2026, 9, 2, 8, 0, tzinfo=TIMEZONE)
    assert parse_send_time("8 giờ mùng 2 tháng 9", now=now, tz=TIMEZONE) == expected
    assert parse_send_time("mùng 2 tháng 9 lúc 8h", now=now, tz=TIMEZONE) == expected
    assert parse_send_time("ngay 2 thang 9 nam 2026 luc 8:00", now=now, tz=TIMEZONE) == expected
