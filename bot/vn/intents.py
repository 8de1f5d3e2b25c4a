"""Free text to intents, with or without diacritics, in NFC or NFD, and in chat shorthand."""

from __future__ import annotations

from enum import StrEnum

from bot.vn.text import fold


class Intent(StrEnum):
    """What a citizen's free text asks for."""

    REGISTER = "register"
    RESULTS = "results"
    CERTIFICATE = "certificate"
    SUPPORT = "support"
    MENU = "menu"
    HELP = "help"
    CANCEL = "cancel"
    LANGUAGE = "language"
    VIEW_DATA = "view_data"
    DELETE_DATA = "delete_data"
    YES = "yes"
    NO = "no"


# Phrases in folded form (see bot.vn.text.fold). A phrase matches whole words; the longest
# matching phrase wins, so "ket qua xet nghiem" beats "xet nghiem" and "dang ky" alone.
PHRASES: dict[Intent, tuple[str, ...]] = {
    Intent.REGISTER: (
        "dang ky", "dang ki", "dk", "dky", "dki", "dang ky tiem", "dang ki tiem", "dk tiem",
        "tiem", "tiem chung", "tiem vac xin", "tiem vaccine", "lich tiem", "dat lich",
        "register", "vaccination", "book",
    ),
    Intent.RESULTS: (
        "ket qua", "kq", "xet nghiem", "xn", "ket qua xet nghiem", "kq xn", "pcr",
        "test", "result", "results", "ma qr", "test result",
    ),
    Intent.CERTIFICATE: (
        "chung nhan", "gcn", "cn", "giay chung nhan", "chung nhan tiem", "ho chieu vac xin",
        "ho chieu vaccine", "certificate", "chung chi",
    ),
    Intent.SUPPORT: (
        "ho tro", "tro giup", "gap nhan vien", "nhan vien", "ad", "admin", "tu van",
        "support", "human", "agent",
    ),
    Intent.MENU: ("menu", "bat dau", "start", "trang chu", "quay lai", "xin chao", "chao",
                  "hello", "hi", "alo"),
    Intent.HELP: ("huong dan", "giup", "help", "tro giup lenh"),
    Intent.CANCEL: ("huy", "thoi", "thoat", "dung lai", "cancel", "stop", "huy bo"),
    Intent.LANGUAGE: ("ngon ngu", "language", "tieng anh", "english", "tieng viet"),
    Intent.VIEW_DATA: ("xem du lieu", "du lieu cua toi", "my data"),
    Intent.DELETE_DATA: ("xoa du lieu", "xoa tai khoan", "delete my data"),
    Intent.YES: ("co", "dong y", "ok", "oke", "yes", "u", "uh", "vang", "da", "dung", "chuan"),
    Intent.NO: ("khong", "ko", "k", "kh", "hong", "no", "sai", "khong dong y"),
}  # fmt: skip

_MAX_WORDS = 12  # long messages are sentences to read, not commands to guess


def match_intent(text: str) -> Intent | None:
    """The intent whose longest phrase appears as whole words in `text`, if any."""
    words = fold(text).split()
    if not words or len(words) > _MAX_WORDS:
        return None
    padded = " " + " ".join(words) + " "
    best: tuple[int, Intent] | None = None
    for intent, phrases in PHRASES.items():
        for phrase in phrases:
            if f" {phrase} " in padded and (best is None or len(phrase) > best[0]):
                best = (len(phrase), intent)
    return best[1] if best else None


def is_answer(text: str, intent: Intent) -> bool:
    """Whether the whole of `text` is one of `intent`'s phrases (a typed yes/no, say)."""
    return fold(text) in PHRASES[intent]
