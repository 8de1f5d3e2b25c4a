"""Numbers and days read from a console request: bounded, ASCII only, never an exception.

`str.isdigit()` is true for "²", which `int()` refuses, and a number of 5,000 digits or above
PostgreSQL's `integer` would fail further down: every id, count and day a page reads from a URL
or a form goes through these.
"""

from __future__ import annotations

from datetime import date

LONGEST = 9  # digits: every id and count fits PostgreSQL's `integer`
FIRST_YEAR, LAST_YEAR = 1900, 2100  # days outside these are typing mistakes


def whole_number(text: str, *, longest: int = LONGEST) -> int | None:
    """`text` as a whole number of at most `longest` ASCII digits, or None."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= longest:
        return int(text)
    return None


def numbers(text: str) -> list[int] | None:
    """Numbers typed with commas or spaces between them (`26743, 26740`); None if any is not."""
    parts = [p for p in text.replace(",", " ").split() if p]
    found = [whole_number(p) for p in parts]
    return [n for n in found if n is not None] if None not in found else None


def calendar_day(text: str) -> date | None:
    """A day written `YYYY-MM-DD` (as date fields send it) between 1900 and 2100, or None."""
    text = text.strip()
    if len(text) != 10 or not text.isascii():
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None
