"""Full names as people type them: Vietnamese with or without diacritics, or foreign names.

The name goes onto certificates, so it is stored in title case: a word typed all in lower case
or all in capitals is capitalised ("nguyễn văn an", "NGUYỄN VĂN AN" -> "Nguyễn Văn An", and
after ' or -: "o'brien" -> "O'Brien"); a word already in mixed case is kept ("McDonald").
It is also cleaned: NFC-normalised (some keyboards send NFD), whitespace collapsed, invisible
format characters (zero-width spaces, BOM, soft hyphens) dropped, and the look-alike "Ð"/"ð"
(U+00D0/U+00F0, Icelandic eth, common in pasted text) replaced by the Vietnamese "Đ"/"đ"
(U+0110/U+0111).
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from bot.vn.refused import InputRefused

MIN_LETTERS = 2
MAX_LETTERS = 80
# After collapsing whitespace, a name of MAX_LETTERS letters has at most this many characters
# (one separator between letters); longer text is refused before looking at each character.
_MAX_CHARS = 2 * MAX_LETTERS
_ETH = str.maketrans({"Ð": "Đ", "ð": "đ"})
_JOINERS = frozenset("'’-‐")  # apostrophes and hyphens, allowed inside a word: O'Brien, Jean-Luc
_JOINER_SPLIT = re.compile("([" + re.escape("".join(sorted(_JOINERS))) + "])")


class NameProblem(StrEnum):
    """Why a typed full name cannot be accepted (handlers turn these into messages)."""

    TOO_SHORT = "too_short"  # fewer than MIN_LETTERS letters
    TOO_LONG = "too_long"  # more than MAX_LETTERS letters
    NOT_LETTERS = "not_letters"  # digits, emoji, punctuation or other symbols


class InvalidName(InputRefused[NameProblem]):
    """A typed full name was refused; `problem` says why."""


def parse_full_name(text: str) -> str:
    """Clean a typed full name, in title case; letters, spaces and ' or - inside words.

    Args:
        text: The name as typed.

    Returns:
        The name, NFC, single-spaced, in title case (see the module), with "Ð" (U+00D0)
        replaced by "Đ" (U+0110).

    Raises:
        InvalidName: TOO_LONG over MAX_LETTERS letters, NOT_LETTERS for anything but letters,
            spaces and ' or - between letters, TOO_SHORT under MIN_LETTERS letters.
    """
    normal = unicodedata.normalize("NFC", text).translate(_ETH)
    visible = "".join(ch for ch in normal if unicodedata.category(ch) != "Cf")
    name = " ".join(visible.split())
    if len(name) > _MAX_CHARS:
        raise InvalidName(NameProblem.TOO_LONG)
    letters = sum(unicodedata.category(ch).startswith("L") for ch in name)
    if letters > MAX_LETTERS:
        raise InvalidName(NameProblem.TOO_LONG)
    if not all(_allowed(name, at) for at in range(len(name))):
        raise InvalidName(NameProblem.NOT_LETTERS)
    if letters < MIN_LETTERS:
        raise InvalidName(NameProblem.TOO_SHORT)
    return " ".join(_title(word) for word in name.split(" "))


def _title(word: str) -> str:
    """A word in one case capitalised, at its start and after ' or -; mixed case kept."""
    if not (word.islower() or word.isupper()):
        return word
    return "".join(part[:1].upper() + part[1:].lower() for part in _JOINER_SPLIT.split(word))


def without_diacritics(name: str) -> bool:
    """Whether a name was typed without any diacritics ("Nguyen Thi Lan"), to be confirmed."""
    return name.isascii()


def _allowed(name: str, at: int) -> bool:
    """Whether the character at `at` may be in a name, given its neighbours."""
    char = name[at]
    kind = unicodedata.category(char)[0]
    if kind == "L" or char == " ":
        return True
    if kind == "M":  # a combining mark left by NFC: only on a letter (or after another mark)
        return at > 0 and unicodedata.category(name[at - 1])[0] in "LM"
    if char in _JOINERS:  # between two letters
        return (
            0 < at < len(name) - 1
            and unicodedata.category(name[at - 1])[0] in "LM"
            and unicodedata.category(name[at + 1])[0] == "L"
        )
    return False
