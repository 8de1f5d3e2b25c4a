"""Free text to intents, with or without diacritics, in NFC or NFD, and in chat shorthand."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from bot.vn.text import fold

_PUNCTUATION = re.compile(r"[^\w\s]+", re.UNICODE)


class Intent(StrEnum):
    """What a citizen's free text asks for."""

    REGISTER = "register"
    RESULTS = "results"
    CERTIFICATE = "certificate"
    SUPPORT = "support"
    APPOINTMENTS = "appointments"
    QR = "qr"
    LOOKUP = "lookup"
    MENU = "menu"
    HELP = "help"
    CANCEL = "cancel"
    LANGUAGE = "language"
    VIEW_DATA = "view_data"
    DELETE_DATA = "delete_data"
    ADD_CHILD = "add_child"  # register a child for the children's schedule
    CHILD_RECORD = "child_record"  # the children's immunisation record (sổ tiêm)
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
        "test", "result", "results", "test result",
    ),
    Intent.QR: (
        "ma qr", "qr", "ma qr xet nghiem", "qr xet nghiem", "qr xn", "ma qr xn", "my qr",
        "qr code",
    ),
    Intent.LOOKUP: (
        "tra cuu", "tra cuu ket qua", "tra cuu kq", "tra kq", "tra cuu xet nghiem", "lookup",
    ),
    Intent.CERTIFICATE: (
        "chung nhan", "gcn", "cn", "giay chung nhan", "chung nhan tiem", "ho chieu vac xin",
        "ho chieu vaccine", "certificate", "chung chi",
    ),
    Intent.APPOINTMENTS: (
        "lich hen", "lh", "xem lich", "lich hen cua toi", "huy lich", "doi lich", "hen tiem",
        "lich hen tiem", "appointment", "appointments", "my appointments",
    ),
    Intent.SUPPORT: (
        "ho tro", "tro giup", "gap nhan vien", "nhan vien", "ad", "admin", "tu van",
        "support", "human", "agent", "nguoi that", "noi chuyen voi nguoi",
        "gap nguoi", "gap tu van vien", "tong dai vien", "talk to a human", "real person",
    ),
    Intent.MENU: ("menu", "bat dau", "start", "trang chu", "quay lai", "xin chao", "chao",
                  "hello", "hi", "alo"),
    Intent.HELP: ("huong dan", "giup", "help", "tro giup lenh"),
    Intent.CANCEL: ("huy", "thoi", "thoat", "dung lai", "cancel", "stop", "huy bo"),
    Intent.LANGUAGE: ("ngon ngu", "language", "tieng anh", "english", "tieng viet"),
    Intent.VIEW_DATA: ("xem du lieu", "du lieu cua toi", "my data"),
    Intent.DELETE_DATA: ("xoa du lieu", "xoa tai khoan", "delete my data"),
    Intent.ADD_CHILD: (
        "them con", "them be", "dang ky cho con", "dang ki cho con", "dk cho con",
        "dang ky tiem cho con", "dang ki tiem cho con", "dk tiem cho con", "tiem cho con",
        "tiem chung cho con", "add a child", "add child", "register my child",
    ),
    Intent.CHILD_RECORD: (
        "so tiem", "so tiem chung", "so tiem cua con", "lich tiem cua con", "so tiem cho con",
        "vaccination record", "child record",
    ),
    # Typed without diacritics, "dung" could be đúng (right), dừng (stop) or đừng (don't), and
    # "da" dạ or đã: too ambiguous to confirm anything, so they are not answers.
    Intent.YES: ("co", "dong y", "ok", "oke", "yes", "uh", "vang", "chuan", "dung roi"),
    Intent.NO: ("khong", "ko", "k", "kh", "hong", "no", "sai", "khong dong y"),
}  # fmt: skip

# Erasure said in a sentence: "xoa du lieu cua toi" must not read as "du lieu cua toi" (view).
PHRASES[Intent.DELETE_DATA] += (
    "xoa du lieu cua toi", "xoa het du lieu", "xoa toan bo du lieu", "xoa het du lieu cua toi",
    "xoa thong tin cua toi", "xoa het thong tin", "xoa thong tin ca nhan", "xoa tai khoan cua toi",
    "huy tai khoan", "xoa ho so", "xoa ho so cua toi", "delete my account", "erase my data",
    "delete everything", "remove my data",
)  # fmt: skip

# Answers typed with diacritics are compared as typed (NFC, lower case), never folded: folding
# would make dừng (stop) and đừng (don't) read as đúng (right).
ANSWERS: dict[Intent, frozenset[str]] = {
    Intent.YES: frozenset(
        "có|có ạ|dạ|dạ có|dạ vâng|vâng|vâng ạ|ừ|ừ đúng|đúng|đúng rồi|đúng ạ|đồng ý|ok|chuẩn".split(
            "|"
        )
    ),
    Intent.NO: frozenset(
        "không|không ạ|hông|sai|sai rồi|không đồng ý|không phải|chưa đúng".split("|")
    ),
    Intent.CANCEL: frozenset("hủy|huỷ|hủy bỏ|thôi|thoát|dừng|dừng lại|thôi không".split("|")),
}

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
    """Whether the whole of `text` is a typed yes (or no, or cancel).

    Text with diacritics is compared as typed; only plain ASCII is compared folded.
    """
    spoken = " ".join(_PUNCTUATION.sub(" ", unicodedata.normalize("NFC", text).lower()).split())
    if spoken.isascii():
        return spoken in PHRASES[intent]
    return spoken in ANSWERS.get(intent, frozenset())
