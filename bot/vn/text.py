"""Folding Vietnamese text so that input matches with or without diacritics, in NFC or NFD.

Order matters: NFC first (some keyboards send NFD), lower-case, decompose, drop the combining
marks, map đ and the look-alike Ð (U+00D0) to d, punctuation to spaces, collapse whitespace.
"""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_D_MAP = str.maketrans({"đ": "d", "ð": "d"})


def fold(text: str) -> str:
    """Return `text` lower-cased, without diacritics, words separated by single spaces."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", text).lower())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _NON_WORD.sub(" ", stripped.translate(_D_MAP)).replace("_", " ").strip()


def clean_text(text: str, *, limit: int | None = None) -> str:
    """NFC-normalise `text`, drop control characters, and cut it to `limit` characters if given."""
    normal = unicodedata.normalize("NFC", text)
    kept = "".join(ch for ch in normal if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return kept.strip()[:limit]
