"""Catalogs complete and consistent; locale switching; Vietnamese dates in Vietnam time."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, _, format_day, format_moment, negotiate, translations, use_locale

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{(\w+)\}")
VIETNAMESE_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def _catalog(locale: str) -> Catalog:
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _entries(locale: str) -> list[tuple[str, str, bool]]:
    return [(m.id, m.string, m.fuzzy) for m in _catalog(locale) if m.id]


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogs() -> None:
    """The .mo files are build output: compile them if this checkout has none yet."""
    if not all((LOCALES_DIR / c / "LC_MESSAGES" / "messages.mo").exists() for c in ("vi", "en")):
        subprocess.run(
            [Path(sys.executable).parent / "pybabel", "-q", "compile", "-d", LOCALES_DIR],
            check=True,
        )
        translations.cache_clear()


def test_every_vietnamese_entry_is_translated_and_not_fuzzy() -> None:
    entries = _entries("vi")
    assert len(entries) > 40
    assert [msgid for msgid, msgstr, _f in entries if not msgstr] == []
    assert [msgid for msgid, _s, fuzzy in entries if fuzzy] == []


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_placeholders_survive_translation(locale: str) -> None:
    mismatched = [
        (msgid, msgstr)
        for msgid, msgstr, _fuzzy in _entries(locale)
        if msgstr and sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(msgstr))
    ]
    assert mismatched == []


def test_every_string_in_the_code_is_in_the_vietnamese_catalog() -> None:
    in_code = {
        message
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / "bot",
            method_map=[("**.py", "python")],
            keywords={"_": None, "N_": None},
        )
    }
    catalog = {msgid for msgid, _s, _f in _entries("vi")}
    assert len(in_code) > 40
    assert sorted(in_code - catalog) == []


def test_vietnamese_translations_are_vietnamese() -> None:
    entries = _entries("vi")
    with_diacritics = [
        msgstr
        for _id, msgstr, _f in entries
        if any(not ch.isascii() and VIETNAMESE_LETTER.match(ch) for ch in msgstr)
    ]
    assert len(with_diacritics) >= 0.9 * len(entries)


def test_locale_switches_translation() -> None:
    message = "I agree"
    assert _(message) == "Tôi đồng ý"
    with use_locale("en"):
        assert _(message) == "I agree"
        with use_locale("vi"):
            assert _(message) == "Tôi đồng ý"
        assert _(message) == "I agree"
    assert _(message) == "Tôi đồng ý"


@pytest.mark.parametrize("locale", ["fr", "", "xx-YY"], ids=["french", "empty", "nonsense"])
def test_unknown_locale_falls_back_to_vietnamese(locale: str) -> None:
    with use_locale(locale):
        assert _("Delete my data") == "Xóa dữ liệu"


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("en-US", "en"),
        ("en", "en"),
        ("en_GB", "en"),
        ("EN", "en"),
        ("vi", "vi"),
        ("vi-VN", "vi"),
        ("fr", "vi"),
        ("", "vi"),
        (None, "vi"),
    ],
    ids=["en-US", "en", "en_GB", "upper", "vi", "vi-VN", "french", "empty", "none"],
)
def test_negotiate(tag: str | None, locale: str) -> None:
    assert negotiate(tag) == locale


MOMENT = datetime(2021, 8, 23, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("vi", "Thứ Hai, 23/08/2021 lúc 14:30"), ("en", "Monday, 23/08/2021 at 14:30")],
)
def test_format_moment_in_vietnam_time(locale: str, expected: str) -> None:
    with use_locale(locale):
        assert format_moment(MOMENT) == expected


def test_format_moment_across_midnight_in_vietnam() -> None:
    assert format_moment(datetime(2021, 8, 22, 18, 0, tzinfo=UTC)) == (
        "Thứ Hai, 23/08/2021 lúc 01:00"
    )


def test_format_moment_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_moment(datetime(2021, 8, 23, 14, 30))  # naive on purpose


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(1990, 1, 2), "Thứ Ba, 02/01/1990"),
        (date(2021, 9, 2), "Thứ Năm, 02/09/2021"),
        (date(2026, 11, 29), "Chủ Nhật, 29/11/2026"),
    ],
    ids=["tuesday", "national-day-thursday", "sunday"],
)
def test_format_day(day: date, expected: str) -> None:
    assert format_day(day) == expected
