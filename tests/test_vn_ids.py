"""ID numbers as citizens type them: what is accepted, what is refused and why."""

from __future__ import annotations

import pytest

from bot.vn.ids import Gender, IdProblem, InvalidId, disagreements, parse_personal_id

YEAR = 2026


@pytest.mark.parametrize(
    ("typed", "place", "born", "gender", "abroad"),
    [
        ("079090012345", "079", 1990, Gender.MALE, False),
        ("079 190 012 345", "079", 1990, Gender.FEMALE, False),
        ("001.188.456.789", "001", 1988, Gender.FEMALE, False),
        ("096-205-000001", "096", 2005, Gender.MALE, False),
        ("024 3 20 123456", "024", 2020, Gender.FEMALE, False),
        ("175095000001", "175", 1995, Gender.MALE, True),
        ("295199000001", "295", 1999, Gender.FEMALE, True),
    ],
    ids=["hcm-male", "spaces-female", "dots", "dashes-2000s", "bac-giang-024", "usa", "last-code"],
)
def test_valid_numbers(typed: str, place: str, born: int, gender: Gender, abroad: bool) -> None:
    pid = parse_personal_id(typed, current_year=YEAR)
    assert (pid.place_code, pid.birth_year, pid.gender, pid.born_abroad) == (
        place,
        born,
        gender,
        abroad,
    )
    assert pid.number.isdigit() and len(pid.number) == 12


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", IdProblem.NOT_DIGITS),
        ("07909001234a", IdProblem.NOT_DIGITS),
        ("０７９０９００１２３４５", IdProblem.NOT_DIGITS),  # full-width digits
        ("😀", IdProblem.NOT_DIGITS),
        ("123456789", IdProblem.OLD_CMND),
        ("0790900123", IdProblem.LENGTH),
        ("0790900123456", IdProblem.LENGTH),
        ("003088000001", IdProblem.PLACE),
        ("023088000001", IdProblem.PLACE),
        ("100088000001", IdProblem.PLACE),
        ("296088000001", IdProblem.PLACE),
        ("079230000001", IdProblem.FUTURE),
    ],
    ids=[
        "empty",
        "letter",
        "full-width",
        "emoji",
        "cmnd",
        "too-short",
        "too-long",
        "no-province-003",
        "old-wrong-bac-giang-023",
        "below-countries",
        "above-countries",
        "born-2030",
    ],
)
def test_refused_numbers(typed: str, problem: IdProblem) -> None:
    with pytest.raises(InvalidId) as refused:
        parse_personal_id(typed, current_year=YEAR)
    assert refused.value.problem == problem


@pytest.mark.parametrize(
    ("birth_year", "gender", "problems"),
    [
        (1990, Gender.MALE, []),
        (1989, Gender.MALE, [IdProblem.BIRTH_YEAR]),
        (1990, Gender.FEMALE, [IdProblem.GENDER]),
        (1991, Gender.FEMALE, [IdProblem.BIRTH_YEAR, IdProblem.GENDER]),
    ],
    ids=["agrees", "year-typo", "gender", "both"],
)
def test_disagreements_name_the_part(
    birth_year: int, gender: Gender, problems: list[IdProblem]
) -> None:
    pid = parse_personal_id("079090012345", current_year=YEAR)
    assert disagreements(pid, birth_year=birth_year, gender=gender) == problems
