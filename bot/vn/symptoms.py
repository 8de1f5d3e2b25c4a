"""Is a message about symptoms or a reaction after vaccination, and how urgent does it sound?

A pure, table-driven classifier over folded text (bot.vn.text.fold), so it works with and
without diacritics, in NFC or NFD. Three outcomes besides "no": DANGER (a sign that needs
emergency care now: breathing difficulty, chest pain, fainting, seizure, blue lips, swelling of
lips/face/throat, anaphylaxis, fever of 39 °C or more), MILD (fever, a sore arm, tiredness...)
and REACTION ("phản ứng sau tiêm" and the like, without a named symptom). The danger signs
follow the Ministry of Health's home-monitoring advice after vaccination (docs/safety.md).

Folding makes some words collide ("xỉu" faint / "xíu" a little, "sốt" fever / "sốt ruột"
impatient, "tím tái" blue / "tìm tài khoản" find an account): a word typed with diacritics must
be the one meant (ACCENTED), and phrases that only look alike are masked first (NOT_MEANT).
A symptom right after a negation ("không khó thở", "hết sốt") does not count.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from bot.vn.text import fold


class Concern(StrEnum):
    """How a message about health sounds."""

    DANGER = "danger"
    MILD = "mild"
    REACTION = "reaction"


MAX_CHARACTERS = 1000  # longer texts are refused as too long before anyone reads them

DANGER: tuple[str, ...] = (
    "kho tho", "tho kho", "tho gap", "tho doc", "tho khong duoc", "khong tho duoc", "kho khe",
    "ngat tho", "ngop tho", "ngot tho", "tuc tho", "het tho", "dau nguc", "tuc nguc", "nang nguc",
    "ngat", "ngat xiu", "xiu", "bi xiu", "choang", "choang vang", "bat tinh", "hon me",
    "mat y thuc", "li bi", "lu du", "co giat", "giat kinh", "tim tai", "tim moi", "moi tim",
    "sung moi", "sung mat", "sung hong", "sung luoi", "phu mat", "phu moi", "phan ve",
    "soc phan ve", "soc", "sot cao", "sot cao khong ha", "sot khong ha", "sot 39", "sot 40",
    "noi man toan than", "me day toan than", "tim dap nhanh", "danh trong nguc",
    "difficulty breathing", "short of breath", "cant breathe", "chest pain", "fainted",
    "faint", "seizure", "anaphylaxis", "swollen lips", "swollen face",
)  # fmt: skip
MILD: tuple[str, ...] = (
    "sot", "sot nhe", "hoi sot", "bi sot", "dau cho tiem", "dau tay", "nhuc tay", "moi tay",
    "sung cho tiem", "sung tay", "sung do", "do cho tiem", "cung cho tiem", "met", "met moi",
    "uon lanh", "on lanh", "lanh run", "dau dau", "nhuc dau", "buon non", "non oi", "bi non",
    "oi mua", "dau co", "dau minh", "nhuc moi", "dau nhuc", "moi nguoi", "noi man", "me day",
    "noi me day", "bi ngua", "ngua cho tiem", "tieu chay", "chong mat", "dau bung",
    "fever", "headache", "sore arm", "chills", "rash", "nausea", "tired",
)  # fmt: skip
REACTION: tuple[str, ...] = (
    "phan ung sau tiem", "phan ung sau khi tiem", "phan ung vac xin", "phan ung vaccine",
    "phan ung thuoc", "phan ung sau chich", "tac dung phu", "bien chung sau tiem",
    "sau tiem bi", "sau khi tiem bi", "tiem xong bi", "chich xong bi", "chich ngua xong bi",
    "sau chich bi", "sau khi chich bi", "phan ung", "side effect", "side effects",
    "reaction", "adverse reaction", "after vaccination",
)  # fmt: skip
# Look-alikes once folded: masked before any symptom is looked for.
NOT_MEANT: tuple[str, ...] = (
    "doi xiu", "cho xiu", "mot xiu", "chut xiu", "ti xiu", "xiu nua", "mot ti xiu",
    "sot ruot", "bo sot", "thieu sot", "so sot", "tim tai khoan", "tim tai lieu",
    "ngat ket noi", "ngat dien", "ngat mang", "cup ngat", "soc dien", "soc tien", "gay soc",
    "soc trang", "soc son", "soc ha", "con soc", "xa sung do",
    "met roi", "met ghe", "phan ung nhanh", "tin nhan phan ung", "faint hope",
)  # fmt: skip
# A folded word typed with diacritics counts only in one of these spellings.
ACCENTED: dict[str, frozenset[str]] = {
    "xiu": frozenset({"xỉu"}),
    "sot": frozenset({"sốt"}),
    "ngat": frozenset({"ngất", "ngạt"}),
    "choang": frozenset({"choáng"}),
    "tho": frozenset({"thở"}),
    "kho": frozenset({"khó"}),
    "tim": frozenset({"tím"}),
    "sung": frozenset({"sưng"}),
    "soc": frozenset({"sốc"}),
    "met": frozenset({"mệt"}),
    "giat": frozenset({"giật"}),
    "ngua": frozenset({"ngứa"}),
    "non": frozenset({"nôn"}),
}
NEGATIONS = frozenset({"khong", "ko", "k", "kh", "hong", "hok", "chua", "het", "no", "not"})
_LINKS = frozenset({"bi", "con", "thay", "co", "have"})
_HIGH_FEVER = re.compile(r"\b(39|4[0-2])(?: [0-9])? ?(?:do|d|oc|c)?\b")
_FEVER_WORD = re.compile(r"\b(sot|nhiet|fever)\b")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _typed_words(text: str) -> list[str]:
    """The words as typed (NFC, lower case), aligned with the words of `fold(text)`."""
    return _WORD.findall(unicodedata.normalize("NFC", text).lower())


Phrases = dict[str, tuple[tuple[str, ...], ...]]


def _by_first_word(phrases: tuple[str, ...]) -> Phrases:
    """The phrases split into words, filed under their first word (one look-up per word)."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        parts = tuple(phrase.split())
        index.setdefault(parts[0], []).append(parts)
    return {first: tuple(found) for first, found in index.items()}


def _spans(words: list[str], phrases: Phrases) -> list[tuple[int, int]]:
    """Where each of `phrases` (folded words) starts in `words`, with its length in words."""
    found = []
    for start, word in enumerate(words):
        for parts in phrases.get(word, ()):
            if tuple(words[start : start + len(parts)]) == parts:
                found.append((start, len(parts)))
    return found


def _as_typed(typed: list[str], start: int, length: int, words: list[str]) -> bool:
    """Whether the words at `start` were typed as the symptom: no diacritics, or the right ones."""
    for i in range(start, start + length):
        raw = typed[i] if i < len(typed) else words[i]
        if not raw.isascii() and words[i] in ACCENTED and raw not in ACCENTED[words[i]]:
            return False
    return True


def _negated(words: list[str], start: int) -> bool:
    """Whether a negation comes right before `start` ("không khó thở", "không bị sốt")."""
    before = words[max(0, start - 2) : start]
    if before and before[-1] in NEGATIONS:
        return True
    return len(before) == 2 and before[0] in NEGATIONS and before[1] in _LINKS


def _found(words: list[str], typed: list[str], phrases: Phrases) -> bool:
    for start, length in _spans(words, phrases):
        if _negated(words, start):
            continue
        if _as_typed(typed, start, length, words):
            return True
    return False


def _masked(words: list[str]) -> list[str]:
    """`words` with every look-alike phrase (NOT_MEANT) blanked out."""
    kept = list(words)
    for start, length in _spans(words, _NOT_MEANT):
        kept[start : start + length] = ["_"] * length
    return kept


_DANGER, _MILD, _REACTION, _NOT_MEANT = (
    _by_first_word(phrases) for phrases in (DANGER, MILD, REACTION, NOT_MEANT)
)


def classify(text: str) -> Concern | None:
    """How urgent `text` sounds as a message about health, or None if it is about nothing of it."""
    if not text or len(text) > MAX_CHARACTERS:
        return None
    folded = fold(text)
    words = folded.split()
    typed = _typed_words(text)
    if len(typed) != len(words):  # folding changed the word count: compare folded only
        typed = words
    words = _masked(words)
    if _found(words, typed, _DANGER) or (
        _FEVER_WORD.search(folded) and _HIGH_FEVER.search(folded)
    ):
        return Concern.DANGER
    if _found(words, typed, _MILD):
        return Concern.MILD
    if _found(words, typed, _REACTION):
        return Concern.REACTION
    return None
