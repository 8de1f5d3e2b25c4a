"""Full names: cleaned and put in title case, or refused with a reason."""

from __future__ import annotations

import unicodedata

import pytest

from bot.vn.names import (
    MAX_LETTERS,
    InvalidName,
    NameProblem,
    parse_full_name,
    without_diacritics,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        ("nguyễn văn an", "Nguyễn Văn An"),
        ("NGUYEN VAN AN", "Nguyen Van An"),
        ("nguyen thi lan", "Nguyen Thi Lan"),
        ("ĐẶNG THỊ ĐÀO", "Đặng Thị Đào"),
        ("đặng thị đào", "Đặng Thị Đào"),
        ("o'brien jean-luc", "O'Brien Jean-Luc"),
        ("McDonald nguyễn", "McDonald Nguyễn"),
        ("lÊ văn an", "lÊ Văn An"),  # mixed case within a word is kept as typed
        ("  Trần   Thị\tBích\u00a0Ngọc \n", "Trần Thị Bích Ngọc"),
        ("Lê Đức Thọ", "Lê Đức Thọ"),
        ("Lê \u00d0ức Thọ", "Lê Đức Thọ"),  # Icelandic eth look-alike
        ("lê \u00f0ức thọ", "Lê Đức Thọ"),
        ("Nguyễn\u200b Văn An", "Nguyễn Văn An"),  # zero-width space from a paste
        ("O'Brien", "O'Brien"),
        ("O’Neill Jean-Luc", "O’Neill Jean-Luc"),
        ("Anh", "Anh"),
        ("An", "An"),
        ("Ng", "Ng"),
        ("Ēōwyn Müller", "Ēōwyn Müller"),
        ("王小明", "王小明"),
    ],
)
def test_accepted(typed: str, expected: str) -> None:
    assert parse_full_name(typed) == expected


def test_nfd_input_gives_nfc_output() -> None:
    typed = unicodedata.normalize("NFD", "Nguyễn Thị Hường")
    assert typed != "Nguyễn Thị Hường"
    result = parse_full_name(typed)
    assert result == "Nguyễn Thị Hường"
    assert unicodedata.is_normalized("NFC", result)


def test_eth_becomes_vietnamese_d() -> None:
    result = parse_full_name("\u00d0ặng Văn Lâm")
    assert result[0] == "\u0110"


def test_combining_mark_without_precomposed_form_is_kept() -> None:
    typed = "Ma\u0304\u0301ria"  # a + macron + acute: no single code point after NFC
    assert parse_full_name(typed) == unicodedata.normalize("NFC", typed)


@pytest.mark.parametrize(
    "typed",
    [
        "Nguyen Van 2",
        "Nguyễn Văn An 😀",
        "😀😀",
        "Nguyen.Van.An",
        "Nguyen, Van An",
        "Nguyễn Văn An!",
        "an@example.com",
        "Jean--Luc",
        "-An",
        "An-",
        "O' Brien",
        "\u0301An",  # a combining mark on nothing
        "Lê <b>An</b>",
        "12",
    ],
)
def test_not_letters(typed: str) -> None:
    with pytest.raises(InvalidName) as refused:
        parse_full_name(typed)
    assert refused.value.problem is NameProblem.NOT_LETTERS


@pytest.mark.parametrize("typed", ["", "   ", "A", " đ ", "\u200b"])
def test_too_short(typed: str) -> None:
    with pytest.raises(InvalidName) as refused:
        parse_full_name(typed)
    assert refused.value.problem is NameProblem.TOO_SHORT


def test_length_limits() -> None:
    assert parse_full_name("a" * MAX_LETTERS) == "A" + "a" * (MAX_LETTERS - 1)
    spaced = " ".join("a" * MAX_LETTERS)  # letters are counted, not spaces
    assert parse_full_name(spaced) == spaced.upper()
    for typed in ("a" * (MAX_LETTERS + 1), " ".join("a" * (MAX_LETTERS + 1))):
        with pytest.raises(InvalidName) as refused:
            parse_full_name(typed)
        assert refused.value.problem is NameProblem.TOO_LONG


@pytest.mark.parametrize("typed", ["a" * 5000, "Nguyễn Văn An " * 358, "😀" * 5000])
def test_very_long_text_is_too_long(typed: str) -> None:
    with pytest.raises(InvalidName) as refused:
        parse_full_name(typed)
    assert refused.value.problem is NameProblem.TOO_LONG


def test_error_carries_the_problem_code() -> None:
    with pytest.raises(ValueError, match=r"^not_letters$"):
        parse_full_name("R2D2")


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("Nguyen Thi Lan", True),
        ("Nguyễn Thị Lan", False),
        ("Dang Van Đuc", False),
        ("John Smith", True),
        ("王小明", False),
    ],
)
def test_without_diacritics(name: str, plain: bool) -> None:
    assert without_diacritics(name) is plain
