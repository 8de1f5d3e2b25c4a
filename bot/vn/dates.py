"""Dates of birth as people type them, always day first as everywhere in Vietnam.

Accepted: `02/01/1990`, `2/1/1990`, `2-1-1990`, `02.01.1990`, `02011990`, `2/1/90`, and in
words, with or without diacritics: "2 tháng 9 năm 1958", "ngày 2 tháng 9, 1958", "mùng hai tháng
chín năm 58", "2 thang nam nam 1958" (tháng năm is May), "tháng giêng", "tháng chạp".
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from bot.vn.refused import InputRefused

MAX_AGE_YEARS = 120
_SEPARATED = re.compile(r"^(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2}|\d{4})$")
_PACKED = re.compile(r"^(\d{2})(\d{2})(\d{4})$")
_NUMBERS = {
    "mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8,
    "chin": 9, "muoi": 10, "muoi mot": 11, "muoi hai": 12, "gieng": 1, "chap": 12,
}  # fmt: skip
_NUMBER = r"\d{1,2}|muoi mot|muoi hai|" + "|".join(sorted(_NUMBERS, key=len, reverse=True))
# Folded but with its punctuation, so that it can be put back among "17:30" and "15/12".
_IN_WORDS = re.compile(
    rf"(?:\bngay\s+)?(?:\b(?:mung|mong)\s+)?\b(?P<day>{_NUMBER})\s+thang\s+(?P<month>{_NUMBER})"
    rf"(?:\s*,?\s*(?:nam\s+)?(?P<year>\d{{4}}|\d{{2}}))?\b"
)


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
    typed = spell_out_dates(text).strip()
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


def spell_out_dates(text: str) -> str:
    """The text without diacritics, lower case, a date in words written in digits ("2/9/1958").

    "2 tháng 9 năm 1958" -> "2/9/1958", "mùng 2 tháng 9" -> "2/9"; anything else is kept.
    """
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", text).lower())
    plain = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    plain = plain.replace("đ", "d").replace("ð", "d")
    return _IN_WORDS.sub(_in_digits, plain)


def _in_digits(found: re.Match[str]) -> str:
    day, month = (_number(found.group(key)) for key in ("day", "month"))
    year = found.group("year")
    return f"{day}/{month}" + (f"/{year}" if year else "")


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word]


def age_on(born: date, day: date) -> int:
    """Age in whole years on `day`."""
    return _years_between(born, day)


def _years_between(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


_CLOCK = re.compile(r"(?<![\d/])(\d{1,2})\s*(?:gio|:|h)\s*(\d{2})?(?![\d/])")
_DAY_MONTH = re.compile(r"(?<![\d:])(\d{1,2})\s*/\s*(\d{1,2})(?:\s*/\s*(\d{4}))?(?![\d:])")
_FILLER = re.compile(r"\b(?:luc|vao|hom nay|today|at|on)\b|[,.-]")
_TOMORROW = frozenset({"mai", "ngay mai", "tomorrow"})


def parse_send_time(text: str, *, now: datetime, tz: tzinfo) -> datetime | None:
    """A moment staff type for a scheduled message, in Vietnam time; None if not one.

    Accepted: `17:30`, `17h30`, `17h`, `8 giờ`, `9 gio 30`, with a day before or after it
    (`15/12`, `15/12/2026`, "ngày 15/12") or "mai" / "ngày mai" (tomorrow), and "lúc" where
    people put it. Without a day it is today. Whether the moment is in the future is for the
    caller to check; anything else in the text refuses it rather than guess.
    """
    typed = " ".join(spell_out_dates(text).split())
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
    if found is not None and rest == "ngay":
        rest = ""
    if found is None and rest in _TOMORROW:
        day, rest = local_today + timedelta(days=1), ""
    if rest:
        return None
    try:
        return datetime.combine(day, time(hour, minute), tz)
    except ValueError:
        return None
