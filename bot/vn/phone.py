"""Vietnamese mobile numbers: understand what people type, store E.164, show masked."""

from __future__ import annotations

import re

# 2018 conversion of 11-digit mobile numbers (the last 7 digits are kept).
LEGACY_PREFIXES = {
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    "0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036",
    "0167": "037", "0168": "038", "0169": "039",
    "0186": "056", "0188": "058", "0199": "059",
}  # fmt: skip
MOBILE_PREFIXES = frozenset(
    "032 033 034 035 036 037 038 039 086 096 097 098 "  # Viettel
    "081 082 083 084 085 088 091 094 "  # VinaPhone
    "070 076 077 078 079 089 090 093 "  # MobiFone
    "052 056 058 092 059 099 087 055 030 031 051".split()  # others and MVNOs
)
_NOT_PHONE_CHARS = re.compile(r"[\s().\-+]")


def normalize_phone(text: str) -> str | None:
    """Return the E.164 form (`+84912345678`) of a Vietnamese mobile number, or None.

    Accepts `0912 345 678`, `+84 91...`, `84...`, `0084...`, `(+84)`, a stray 0 after +84,
    a missing leading 0, and the old 11-digit numbers converted by the 2018 table.
    """
    digits = _NOT_PHONE_CHARS.sub("", text.strip())
    if not (digits.isascii() and digits.isdigit()):  # "091٢..." is digits to str.isdigit
        return None
    for prefix in ("0084", "84"):
        if digits.startswith(prefix) and len(digits) >= len(prefix) + 9:
            digits = "0" + digits[len(prefix) :].removeprefix("0")
            break
    if not digits.startswith("0"):
        digits = "0" + digits
    if len(digits) == 11 and digits[:4] in LEGACY_PREFIXES:
        digits = LEGACY_PREFIXES[digits[:4]] + digits[4:]
    if len(digits) != 10 or digits[:3] not in MOBILE_PREFIXES:
        return None
    return "+84" + digits[1:]


def mask_phone(e164: str) -> str:
    """Show a stored number without revealing it: `+84 91* *** 678`."""
    national = e164.removeprefix("+84")
    return f"+84 {national[:2]}* *** {national[-3:]}"


def mask_id_number(number: str) -> str:
    """Show an ID number without revealing it: `0791******34`."""
    return number[:4] + "*" * max(len(number) - 6, 0) + number[-2:]


# Runs of 9 or more digits, spaces, dots or dashes allowed in between: phone numbers, ID numbers.
_NUMBER_RUN = re.compile(r"\+?\d(?:[ .-]?\d){8,}")


def mask_numbers(text: str) -> str:
    """Free text with every phone- or ID-like number masked (`0912 345 678` -> `0912****78`)."""

    def masked(found: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", found.group())
        return mask_id_number(digits)

    return _NUMBER_RUN.sub(masked, text)
