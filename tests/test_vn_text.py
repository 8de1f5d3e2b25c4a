"""Folding Vietnamese text: the same words match with or without diacritics, in NFC or NFD."""

from __future__ import annotations

import unicodedata

import pytest

from bot.vn.text import clean_text, fold


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đăng ký tiêm", "dang ky tiem"),
        ("dang ky tiem", "dang ky tiem"),
        ("KẾT QUẢ XÉT NGHIỆM", "ket qua xet nghiem"),
        ("đồng ý", "dong y"),
        ("Đ", "d"),
        ("Ðăng ký", "dang ky"),  # Ð U+00D0, the Icelandic look-alike of Đ
        ("ðăng ký", "dang ky"),  # its lower case U+00F0
        ("Hỗ trợ!!!", "ho tro"),
        ("kq,xn...gcn?", "kq xn gcn"),
        ("ho_tro", "ho tro"),
        ("  nhiều   khoảng\ttrắng\n ", "nhieu khoang trang"),
        ("0912-345-678", "0912 345 678"),
        ("😀😀😀", ""),
        ("👍", ""),
        ("", ""),
    ],
    ids=[
        "diacritics",
        "plain",
        "upper-case",
        "dong-y",
        "capital-d-stroke",
        "eth-look-alike",
        "eth-lower",
        "punctuation",
        "punctuation-between-words",
        "underscore",
        "whitespace",
        "digits",
        "emoji-only",
        "thumbs-up",
        "empty",
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


@pytest.mark.parametrize(
    "text",
    ["Đăng ký tiêm chủng", "Kết quả xét nghiệm", "Giấy chứng nhận", "Hỗ trợ", "Ừ, được ạ"],
)
def test_nfc_and_nfd_fold_the_same(text: str) -> None:
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != unicodedata.normalize("NFC", text)
    assert fold(nfd) == fold(text)
    assert fold(nfd).isascii()


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        (unicodedata.normalize("NFD", "Xin chào"), 100, "Xin chào"),
        ("  Xin chào  ", 100, "Xin chào"),
        ("Xin\x00 chào\x07", 100, "Xin chào"),
        ("a\u200bb\ufeff", 100, "ab"),
        ("dòng 1\ndòng 2\tcột", 100, "dòng 1\ndòng 2\tcột"),
        ("Nguyễn Văn An", 6, "Nguyễn"),
        (unicodedata.normalize("NFD", "Nguyễn Văn An"), 6, "Nguyễn"),
    ],
    ids=[
        "nfd-to-nfc",
        "strip",
        "control-characters",
        "zero-width",
        "keeps-newline-and-tab",
        "limit",
        "limit-counts-nfc-characters",
    ],
)
def test_clean_text(text: str, limit: int, expected: str) -> None:
    cleaned = clean_text(text, limit=limit)
    assert cleaned == expected
    assert unicodedata.is_normalized("NFC", cleaned)
