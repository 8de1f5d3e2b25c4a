"""Vietnamese mobile numbers: what people type, the E.164 we store, the masked form we show."""

from __future__ import annotations

import pytest

from bot.vn.phone import LEGACY_PREFIXES, mask_id_number, mask_numbers, mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("0912 345 678", "+84912345678"),
        ("0912345678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("0912-345-678", "+84912345678"),
        ("+84 912 345 678", "+84912345678"),
        ("+84 0912 345 678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("0084912345678", "+84912345678"),
        ("(+84) 91-234-5678", "+84912345678"),
        ("912345678", "+84912345678"),
        ("  0386 123 456  ", "+84386123456"),
        ("0845123456", "+84845123456"),
        ("01662345678", "+84362345678"),
        ("(0168) 234 5678", "+84382345678"),
        ("841662345678", "+84362345678"),
        ("0122 345 6789", "+84773456789"),
        ("0199 123 4567", "+84591234567"),
    ],
    ids=[
        "spaces",
        "plain",
        "dots",
        "dashes",
        "plus-84",
        "plus-84-with-stray-0",
        "84-no-plus",
        "0084",
        "parenthesised-84",
        "missing-leading-0",
        "surrounding-spaces",
        "vinaphone-084-not-a-country-code",
        "legacy-0166",
        "legacy-0168-parenthesised",
        "legacy-with-84",
        "legacy-0122-mobifone",
        "legacy-0199-gmobile",
    ],
)
def test_normalize_phone(typed: str, e164: str) -> None:
    assert normalize_phone(typed) == e164


@pytest.mark.parametrize(
    "typed",
    [
        "02439123456",
        "024 3912 3456",
        "0123456789",
        "1900 9095",
        "113",
        "091234567",
        "09123456789",
        "0912 345 67a",
        "không có",
        "",
        "   ",
        "📞",
        "😀😀😀",
        "+",
    ],
    ids=[
        "hanoi-landline",
        "landline-spaced",
        "unknown-prefix-012",
        "hotline-1900",
        "emergency-113",
        "one-digit-short",
        "one-digit-long",
        "letter-inside",
        "words",
        "empty",
        "blank",
        "phone-emoji",
        "emoji",
        "plus-only",
    ],
)
def test_not_a_mobile_number_is_refused(typed: str) -> None:
    assert normalize_phone(typed) is None


@pytest.mark.parametrize("legacy", sorted(LEGACY_PREFIXES))
def test_every_legacy_prefix_converts_to_a_current_mobile_number(legacy: str) -> None:
    converted = normalize_phone(legacy + "2345678")
    assert converted == "+84" + LEGACY_PREFIXES[legacy][1:] + "2345678"


@pytest.mark.parametrize(
    ("e164", "shown"),
    [("+84912345678", "+84 91* *** 678"), ("+84362345678", "+84 36* *** 678")],
    ids=["vinaphone", "viettel"],
)
def test_mask_phone(e164: str, shown: str) -> None:
    assert mask_phone(e164) == shown
    assert e164[5:9] not in shown.replace(" ", "")


@pytest.mark.parametrize(
    ("number", "shown"),
    [("079123456734", "0791******34"), ("123456789", "1234***89")],
    ids=["cccd-12-digits", "cmnd-9-digits"],
)
def test_mask_id_number(number: str, shown: str) -> None:
    assert mask_id_number(number) == shown
    assert len(shown) == len(number)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("số tôi 0912 345 678 nhé", "số tôi 0912****78 nhé"),
        ("CCCD 079190012345", "CCCD 0791******45"),
        ("+84.912.345.678", "8491*****78"),
        ("mã 1234 và 12/12", "mã 1234 và 12/12"),  # short numbers and dates stay
    ],
)
def test_numbers_in_free_text_are_masked(text: str, shown: str) -> None:
    assert mask_numbers(text) == shown
