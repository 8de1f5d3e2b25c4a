"""Days and times typed as Vietnamese write them, read against the offers (bot.vn.when)."""

from __future__ import annotations

from datetime import date, time

import pytest

from bot.vn.when import pick_time, read_day, read_time

TODAY = date(2026, 12, 3)  # a Thursday
OFFERED = [date(2026, 12, 4), date(2026, 12, 5), date(2026, 12, 7), date(2026, 12, 8)]


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("8/12", date(2026, 12, 8)),
        ("08-12", date(2026, 12, 8)),
        ("5.12.2026", date(2026, 12, 5)),
        ("Thứ Hai", date(2026, 12, 7)),
        ("thu 2", date(2026, 12, 7)),
        ("t7", date(2026, 12, 5)),
        ("mai", date(2026, 12, 4)),
        ("sáng mai", date(2026, 12, 4)),
        ("ngày mốt", date(2026, 12, 5)),
        ("Thứ Ba, 08/12", date(2026, 12, 8)),
        ("8/12 8h", date(2026, 12, 8)),
        ("monday", date(2026, 12, 7)),
    ],
)
def test_an_offered_day_is_read(typed: str, day: date) -> None:
    assert read_day(typed, today=TODAY, offered=OFFERED) == day


@pytest.mark.parametrize("typed", ["24/12", "hôm nay", "chủ nhật", "abc", "8h", "31/2"])
def test_a_day_not_offered_or_not_a_day_is_none(typed: str) -> None:
    assert read_day(typed, today=TODAY, offered=OFFERED) is None


@pytest.mark.parametrize(
    ("typed", "window"),
    [
        ("8h", (time(8), time(9))),
        ("8h30", (time(8, 30), time(9, 30))),
        ("14:00", (time(14), time(15))),
        ("2h chiều", (time(14), time(15))),
        ("sáng", (time(0), time(12))),
        ("chieu mai", (time(12), time(18))),
        ("mai", None),
        ("25h", None),
    ],
)
def test_a_time_or_part_of_the_day_is_read(typed: str, window: tuple[time, time] | None) -> None:
    assert read_time(typed) == window


def test_the_slot_a_time_names() -> None:
    starts = [time(7, 30), time(8, 30), time(13, 30)]
    ends = [time(8, 30), time(9, 30), time(14, 30)]
    assert pick_time((time(8), time(9)), starts, ends) == 0  # 8:00 falls in 7:30-8:30
    assert pick_time((time(8, 30), time(9, 30)), starts, ends) == 1
    assert pick_time((time(12), time(18)), starts, ends) == 2  # the afternoon
    assert pick_time((time(17), time(23, 59)), starts, ends) is None
