"""The next-dose rules (intervals, mixing, boosters) and booking codes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.domain.booking import ALPHABET, new_code, read_code
from bot.domain.vaccines import Given, allowed, next_dose

TODAY = date(2026, 12, 1)


def test_first_dose_is_any_product_from_today() -> None:
    upcoming = next_dose([], today=TODAY)
    assert upcoming.number == 1 and upcoming.earliest == TODAY
    assert {"astrazeneca", "pfizer", "janssen"} <= upcoming.products


@pytest.mark.parametrize(
    ("product", "days", "mix"),
    [
        ("astrazeneca", 56, {"astrazeneca", "pfizer", "moderna"}),
        ("pfizer", 21, {"pfizer", "moderna"}),
        ("moderna", 28, {"pfizer", "moderna"}),
        ("verocell", 21, {"verocell", "hayatvax"}),
        ("sputnikv", 21, {"sputnikv"}),
    ],
)
def test_second_dose_waits_for_the_label_interval(product: str, days: int, mix: set[str]) -> None:
    given = TODAY - timedelta(days=3)
    upcoming = next_dose([Given(product, given)], today=TODAY)
    assert upcoming.number == 2
    assert upcoming.earliest == given + timedelta(days=days)
    assert upcoming.products == mix
    assert not allowed(product, [Given(product, given)], today=TODAY)
    assert allowed(product, [Given(product, given)], today=given + timedelta(days=days))


def test_abdala_has_three_primary_doses_then_a_booster() -> None:
    history = [
        Given("abdala", TODAY - timedelta(days=60)),
        Given("abdala", TODAY - timedelta(days=40)),
    ]
    third = next_dose(history, today=TODAY)
    assert third.number == 3 and not third.booster and third.products == {"abdala"}
    booster = next_dose([*history, Given("abdala", TODAY - timedelta(days=10))], today=TODAY)
    assert booster.number == 4 and booster.booster
    assert booster.earliest == TODAY - timedelta(days=10) + timedelta(days=90)


def test_janssen_is_one_dose_and_the_schedule_ends_after_two_boosters() -> None:
    upcoming = next_dose([Given("janssen", TODAY - timedelta(days=100))], today=TODAY)
    assert upcoming.number == 2 and upcoming.booster and upcoming.earliest == TODAY
    done = next_dose(
        [
            Given("janssen", TODAY - timedelta(days=400)),
            Given("pfizer", TODAY - timedelta(days=300)),
            Given("pfizer", TODAY - timedelta(days=200)),
        ],
        today=TODAY,
    )
    assert done.number is None


def test_booking_codes_are_unambiguous_and_checked() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        assert len(code) == 7 and set(code) <= set(ALPHABET)
        assert not set(code) & set("01ILO")
        assert read_code(code) == code
        assert read_code(f" {code[:3].lower()}-{code[3:]} ") == code
        typo = code[:2] + next(c for c in ALPHABET if c != code[2]) + code[3:]
        assert read_code(typo) is None
        swapped = code[1] + code[0] + code[2:]
        assert code[0] == code[1] or read_code(swapped) is None


@pytest.mark.parametrize("text", ["", "ABC", "K7Q9AB30", "🙂" * 7, "x" * 5000])
def test_garbage_is_not_a_booking_code(text: str) -> None:
    assert read_code(text) is None
