"""Folded words as people mistype them, put back to the words a phrase table knows.

Only words the table does not know are touched, and only when the repair lands on exactly one
known word, so a real word is never turned into another:

- joined words: "dangky", "kqxn", "maqr" are a known phrase without its spaces;
- Telex or VNI leftovers of a keyboard with the input method off: "ddang", "kys", "tieem",
  "nghieemj", "chuwngs", "da8ng" (doubled letters, w, a trailing tone key, digits in a word);
- one slip of the finger in a word of four letters or more: "dnag", "ngiem", "chugn", "ketqa"
  (a letter missing, added, changed, or two swapped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_TONE_KEYS = "sfrxj"
_TELEX = (("dd", "d"), ("aa", "a"), ("aw", "a"), ("ee", "e"), ("oo", "o"), ("ow", "o"),
          ("uw", "u"))  # fmt: skip
_VNI_DIGITS = re.compile(r"(?<=[a-z])[1-9]|[1-9](?=[a-z])")
MIN_TYPO_LETTERS = 4  # shorter words are too close to each other to guess


def _deletions(word: str) -> set[str]:
    return {word[:at] + word[at + 1 :] for at in range(len(word))}


def _untelex(word: str) -> str:
    """The word without Telex or VNI marks ("ddawngs" -> "dang", "da8ng" -> "dang")."""
    plain = _VNI_DIGITS.sub("", word)
    for marked, letter in _TELEX:
        plain = plain.replace(marked, letter)
    return plain.replace("w", "u")


@dataclass(frozen=True)
class Speller:
    """Repairs words against the words (and joined phrases) of a phrase table."""

    words: frozenset[str]
    joined: dict[str, str] = field(default_factory=dict)
    near: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, phrases: Iterable[str]) -> Speller:
        """A speller for these folded phrases."""
        listed = list(phrases)
        words = frozenset(word for phrase in listed for word in phrase.split())
        joined = {p.replace(" ", ""): p for p in listed if " " in p and p.isascii()}
        near: dict[str, set[str]] = {}
        for word in words:
            if len(word) >= MIN_TYPO_LETTERS and word.isalpha():
                for key in {word} | _deletions(word):
                    near.setdefault(key, set()).add(word)
        return cls(words, joined, {key: frozenset(found) for key, found in near.items()})

    def repair(self, words: list[str]) -> list[str]:
        """The words, each unknown one replaced by what it was meant to be when that is clear."""
        out: list[str] = []
        for word in words:
            out.extend(self._repair_word(word).split())
        return out

    def _repair_word(self, word: str) -> str:
        if word in self.words or word.isdigit():
            return word
        if word in self.joined:
            return self.joined[word]
        plain = _untelex(word)
        # The tone key is typed last, or right after the vowel ("nhaajn", "nghieemj").
        toneless = {plain[:at] + plain[at + 1 :] for at in range(1, len(plain))
                    if plain[at] in _TONE_KEYS}  # fmt: skip
        for candidate in [plain, *sorted(toneless)]:
            if candidate in self.words or candidate in self.joined:
                return self.joined.get(candidate, candidate)
        return self._one_slip(word) or word

    def _one_slip(self, word: str) -> str | None:
        """The one known word a single slip away from `word`, if exactly one."""
        if len(word) < MIN_TYPO_LETTERS or not word.isalpha():
            return None
        found: set[str] = set()
        for key in {word} | _deletions(word):
            found |= self.near.get(key, frozenset())
        close = {known for known in found if _one_edit(word, known)}
        return close.pop() if len(close) == 1 else None


def _one_edit(typed: str, known: str) -> bool:
    """Whether one letter added, dropped, changed, or two neighbours swapped, make `known`."""
    if typed == known or abs(len(typed) - len(known)) > 1:
        return False
    if len(typed) == len(known):
        diff = [at for at in range(len(typed)) if typed[at] != known[at]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and typed[diff[0]] == known[diff[1]]
            and typed[diff[1]] == known[diff[0]]
        )
    longer, shorter = (typed, known) if len(typed) > len(known) else (known, typed)
    return shorter in _deletions(longer)
