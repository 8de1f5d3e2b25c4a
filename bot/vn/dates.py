"""Dates of birth as people type them, always day first as everywhere in Vietnam.

Accepted: `02/01/1990`, `2/1/1990`, `2-1-1990`, `02.01.1990`, `02011990`, `2/1/90`.
"""

from __future__ import annotations

import re
from datetime import date
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
