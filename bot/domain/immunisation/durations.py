"""Ages and intervals as calendar durations (`P2M`, `P6W`, `P28D`, `P7Y`) and their arithmetic.

Month rule: adding N months keeps the day of the month, and when the target month has no such
day (31 January + 1 month, 29 February + 12 months) it lands on that month's last day. So a
child born on 31/01 is "2 months old" on 31/03, "1 month old" on 28/02 (29/02 in a leap year),
and a child born on 29/02/2024 is 12 months old on 28/02/2025. Years are 12 months; weeks are
7 days; months and years are added first, then weeks and days.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

_ISO = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass(frozen=True, order=False)
class Duration:
    """A non-negative calendar duration: years, months, weeks and days."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Read an ISO 8601 duration of whole years, months, weeks and days (`P1Y6M`, `P28D`).

        Raises:
            ValueError: not such a duration (negative, fractional or time parts included).
        """
        match = _ISO.match(text)
        if match is None or text == "P":
            raise ValueError(f"{text!r} is not a duration such as P2M, P6W, P28D or P1Y")
        years, months, weeks, days = (int(part or 0) for part in match.groups())
        return cls(years, months, weeks, days)

    def after(self, day: date) -> date:
        """The day this long after `day`, by the month rule of this module."""
        return _after(self.years * 12 + self.months, 7 * self.weeks + self.days, day)

    def __str__(self) -> str:
        parts = ((self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D"))
        return "P" + ("".join(f"{n}{unit}" for n, unit in parts if n) or "0D")


@lru_cache(maxsize=1 << 18)
def _after(months: int, days: int, day: date) -> date:
    """Cached: a due list over a city asks the same few ages of the same birth dates often."""
    moved = add_months(day, months)
    return moved + timedelta(days=days) if days else moved


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, onto the last day of the month when the day is missing."""
    if not months:
        return day
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if day.day <= 28:  # every month has this day: no need to look the month's length up
        return date(year, month + 1, day.day)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def completed_months(born: date, day: date) -> int:
    """Whole months of age on `day` (the largest N with `add_months(born, N) <= day`)."""
    months = (day.year - born.year) * 12 + day.month - born.month
    while months > 0 and add_months(born, months) > day:
        months -= 1
    return max(months, 0)


def age_in_days(born: date, day: date) -> int:
    """Days of age on `day` (0 on the day of birth)."""
    return (day - born).days
