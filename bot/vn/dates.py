"""Dates of birth as people type them, always day first as everywhere in Vietnam.

Accepted: `02/01/1990`, `2/1/1990`, `2-1-1990`, `02.01.1990`, `02011990`, `2/1/90`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from bot.vn.refused import InputRefused

MAX_AGE_YEARS = 120
_SEPARATED = re.compile(r"^(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2}|\d{4})$")
_PACKED = re.compile(r"^(\d{2})(\d{2})(\d{4})$")


class DateProblem(StrEnum):
    """Why a typed date of birth cannot be accepted (handlers turn these into messages)."""

    FORMAT = "format"  # not a day, month and year
    NO_SUCH_DAY = "no_such_day"  # 31/02, 29/02 of a common year...
    FUTURE = "future"
    TOO_OLD = "too_old"  # more than MAX_AGE_YEARS ago


class InvalidDate(InputRefused[DateProblem]):
    """A typed date was refused; `problem` says why."""


def parse_birth_date(text: str, *, today: date) -> date:
    """Read a date of birth, day first; a two-digit year is the latest one not in the future.

    Raises:
        InvalidDate: with the reason.
    """
    typed = text.strip()
    match = _SEPARATED.match(typed) or _PACKED.match(typed)
    if match is None:
        raise InvalidDate(DateProblem.FORMAT)
    day, month, year = (int(part) for part in match.groups())
    if len(match.group(3)) == 2:
        year += 2000 if 2000 + year <= today.year else 1900
    try:
        born = date(year, month, day)
    except ValueError:
        raise InvalidDate(DateProblem.NO_SUCH_DAY) from None
    if born > today:
        raise InvalidDate(DateProblem.FUTURE)
    if _years_between(born, today) > MAX_AGE_YEARS:
        raise InvalidDate(DateProblem.TOO_OLD)
    return born


def age_on(born: date, day: date) -> int:
    """Age in whole years on `day`."""
    return _years_between(born, day)


def _years_between(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


_CLOCK = re.compile(r"(?<![\d/])(\d{1,2})\s*(?:giờ|gio|:|h)\s*(\d{2})?(?![\d/])")
_DAY_MONTH = re.compile(r"(?<![\d:])(\d{1,2})\s*/\s*(\d{1,2})(?:\s*/\s*(\d{4}))?(?![\d:])")
_FILLER = re.compile(r"\b(?:lúc|luc|vào|vao|hôm nay|hom nay|today|at|on)\b|[,.-]")
_TOMORROW = frozenset({"mai", "ngày mai", "ngay mai", "tomorrow"})


def parse_send_time(text: str, *, now: datetime, tz: tzinfo) -> datetime | None:
    """A moment staff type for a scheduled message, in Vietnam time; None if not one.

    Accepted: `17:30`, `17h30`, `17h`, `8 giờ`, `9 gio 30`, with a day before or after it
    (`15/12`, `15/12/2026`, "ngày 15/12") or "mai" / "ngày mai" (tomorrow), and "lúc" where
    people put it. Without a day it is today. Whether the moment is in the future is for the
    caller to check; anything else in the text refuses it rather than guess.
    """
    typed = " ".join(text.lower().split())
    clock = _CLOCK.search(typed)
    if clock is None:
        return None
    hour, minute = int(clock.group(1)), int(clock.group(2) or 0)
    rest = typed[: clock.start()] + " " + typed[clock.end() :]
    local_today = now.astimezone(tz).date()
    day = local_today
    found = _DAY_MONTH.search(rest)
    if found is not None:
        rest = rest[: found.start()] + " " + rest[found.end() :]
        year = int(found.group(3)) if found.group(3) else local_today.year
        try:
            day = date(year, int(found.group(2)), int(found.group(1)))
        except ValueError:
            return None
        if found.group(3) is None and day < local_today:
            try:
                day = day.replace(year=year + 1)  # "05/01" typed in December: next January
            except ValueError:  # 29/02 typed after it, in a leap year
                return None
    rest = " ".join(_FILLER.sub(" ", rest).split())
    if found is not None and rest in ("ngày", "ngay"):
        rest = ""
    if found is None and rest in _TOMORROW:
        day, rest = local_today + timedelta(days=1), ""
    if rest:
        return None
    try:
        return datetime.combine(day, time(hour, minute), tz)
    except ValueError:
        return None
