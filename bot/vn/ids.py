"""Vietnamese personal ID numbers (số định danh cá nhân / CCCD): read, check, cross-check.

Twelve digits `PPP G YY NNNNNN` with no check digit: `PPP` is where the birth was registered
(one of the 63 pre-2025 province codes, or a country code 101-295 for births registered
abroad; the 2025 merger renumbered nobody), `G` is century and sex (even: male, odd: female;
0/1 the 1900s, 2/3 the 2000s...), `YY` the last two digits of the birth year. A 9-digit CMND
stopped being valid on 31/12/2024. Source: Thông tư 07/2016/TT-BCA, Luật Căn cước 2023
(reference/vietnam-domain.md §1). Nothing here can tell whether a number is real.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.vn.refused import InputRefused

PROVINCE_CODES = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 "
    "035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 "
    "070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096".split()
)
COUNTRY_CODES = range(101, 296)
_SEPARATORS = re.compile(r"[\s.\-]")


class Gender(StrEnum):
    """Sex as the ID number encodes it."""

    MALE = "male"
    FEMALE = "female"


class IdProblem(StrEnum):
    """Why a typed ID number cannot be accepted (handlers turn these into messages)."""

    NOT_DIGITS = "not_digits"
    LENGTH = "length"
    OLD_CMND = "old_cmnd"  # 9 digits: a CMND, invalid since 31/12/2024
    PLACE = "place"  # first three digits are no province or country code
    FUTURE = "future"  # the birth year it encodes is still to come
    BIRTH_YEAR = "birth_year"  # disagrees with the date of birth given
    GENDER = "gender"  # disagrees with the gender given


@dataclass(frozen=True)
class PersonalId:
    """A well-formed 12-digit ID number and what it says about its holder."""

    number: str
    place_code: str
    birth_year: int
    gender: Gender

    @property
    def born_abroad(self) -> bool:
        """Whether the birth was registered abroad (a country code, not a province code)."""
        return self.place_code not in PROVINCE_CODES


class InvalidId(InputRefused[IdProblem]):
    """A typed ID number was refused; `problem` says why."""


def parse_personal_id(text: str, *, current_year: int) -> PersonalId:
    """Read an ID number typed with or without spaces, dots or dashes.

    Raises:
        InvalidId: with the first problem found.
    """
    digits = _SEPARATORS.sub("", text.strip())
    if not digits.isdigit() or not digits.isascii():
        raise InvalidId(IdProblem.NOT_DIGITS)
    if len(digits) == 9:
        raise InvalidId(IdProblem.OLD_CMND)
    if len(digits) != 12:
        raise InvalidId(IdProblem.LENGTH)
    place = digits[:3]
    if place not in PROVINCE_CODES and int(place) not in COUNTRY_CODES:
        raise InvalidId(IdProblem.PLACE)
    code = int(digits[3])
    birth_year = 1900 + 100 * (code // 2) + int(digits[4:6])
    if birth_year > current_year:
        raise InvalidId(IdProblem.FUTURE)
    gender = Gender.FEMALE if code % 2 else Gender.MALE
    return PersonalId(number=digits, place_code=place, birth_year=birth_year, gender=gender)


def disagreements(pid: PersonalId, *, birth_year: int, gender: Gender) -> list[IdProblem]:
    """Which of the birth year and gender the citizen gave the ID number contradicts."""
    problems = []
    if pid.birth_year != birth_year:
        problems.append(IdProblem.BIRTH_YEAR)
    if pid.gender != gender:
        problems.append(IdProblem.GENDER)
    return problems
