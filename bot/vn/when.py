"""A day and a time of day typed as Vietnamese write them: "8/12", "thu 2", "mai", "8h", "sáng".

For choosing among offered appointment days and times, so each reader takes the offers and
returns one of them (or None): "thứ 2" is the first offered Monday, "8/12" the offered 8
December, "sáng mai" tomorrow morning.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, time, timedelta

_WEEKDAYS = {
    "thu hai": 0, "thu 2": 0, "t2": 0, "mon": 0, "monday": 0,
    "thu ba": 1, "thu 3": 1, "t3": 1, "tue": 1, "tuesday": 1,
    "thu tu": 2, "thu 4": 2, "t4": 2, "wed": 2, "wednesday": 2,
    "thu nam": 3, "thu 5": 3, "t5": 3, "thursday": 3,
    "thu sau": 4, "thu 6": 4, "t6": 4, "fri": 4, "friday": 4,
    "thu bay": 5, "thu 7": 5, "t7": 5, "sat": 5, "saturday": 5,
    "chu nhat": 6, "cn": 6, "sun": 6, "sunday": 6,
}  # fmt: skip
_RELATIVE = {
    "hom nay": 0, "nay": 0, "today": 0,
    "ngay mai": 1, "mai": 1, "tomorrow": 1,
    "ngay mot": 2, "mot": 2, "ngay kia": 2,
}  # fmt: skip
# Parts of the day: (from, until), local time.
_PARTS = {
    "sang": (time(0), time(12)), "morning": (time(0), time(12)),
    "trua": (time(11), time(13)), "noon": (time(11), time(13)),
    "chieu": (time(12), time(18)), "afternoon": (time(12), time(18)),
    "toi": (time(17), time(23, 59)), "evening": (time(17), time(23, 59)),
}  # fmt: skip
_DAY_MONTH = re.compile(r"\b(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{2,4}))?\b")
_HOUR = re.compile(r"\b(\d{1,2})\s*(?:h|g|gio|:)\s*(\d{2})?\b")


def _plain(text: str) -> str:
    """Lower case without diacritics, punctuation kept (unlike `fold`: "8/12" stays a date)."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(kept.replace(",", " ").split())


def _has(words: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w/]){re.escape(phrase)}(?![\w/])", words) is not None


def read_day(text: str, *, today: date, offered: Sequence[date]) -> date | None:
    """The offered day the text names: a date, a weekday, or today / tomorrow / after."""
    words = _plain(text)
    found = _DAY_MONTH.search(_HOUR.sub(" ", words))
    if found:
        day, month = int(found.group(1)), int(found.group(2))
        return next((d for d in offered if (d.day, d.month) == (day, month)), None)
    for phrase, ahead in sorted(_RELATIVE.items(), key=lambda item: -len(item[0])):
        if _has(words, phrase):
            wanted = today + timedelta(days=ahead)
            return wanted if wanted in offered else None
    for phrase, weekday in sorted(_WEEKDAYS.items(), key=lambda item: -len(item[0])):
        if _has(words, phrase):
            return next((d for d in sorted(offered) if d.weekday() == weekday), None)
    return None


def read_time(text: str) -> tuple[time, time] | None:
    """The time or part of the day the text names, as a (from, until) window, or None.

    "8h" or "8:30" is the hour from that moment; "sáng" the morning, "chiều" the afternoon.
    A small hour said with "chiều" or "tối" is in the afternoon ("2h chiều" is 14:00).
    """
    words = _plain(text)
    part = next((window for name, window in _PARTS.items() if _has(words, name)), None)
    found = _HOUR.search(words)
    if found is None:
        return part
    hour, minute = int(found.group(1)), int(found.group(2) or 0)
    if part is not None and part[0] >= time(12) and hour < 12:
        hour += 12
    if hour > 23 or minute > 59:
        return None
    start = time(hour, minute)
    return start, time(min(hour + 1, 23), minute if hour < 23 else 59)


def pick_time(
    window: tuple[time, time], starts: Sequence[time], ends: Sequence[time]
) -> int | None:
    """The index of the first slot the window names: one it falls in, or one starting in it."""
    begin, until = window
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if start <= begin < end:
            return index
    for index, start in enumerate(starts):
        if begin <= start < until:
            return index
    return None
