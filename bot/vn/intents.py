"""Free text to intents, with or without diacritics, in NFC or NFD, and in chat shorthand."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from bot.vn.spelling import Speller
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
    WHY = "why"  # "sao chưa có giấy chứng nhận": explained from the person's own record
    CORRECTION = "correction"  # "thông tin mũi tiêm của tôi bị sai": a correction request


class Topic(StrEnum):
    """What a "why" question is about."""

    CERTIFICATE = "certificate"
    RESULTS = "results"
    REMINDERS = "reminders"
    DOSE = "dose"


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

# ---- Everyday words (issue 16.4): the South's and the North's words, shorthand, English.
# Kept in their own block; joined words, Telex leftovers and typos are repaired first
# (bot.vn.spelling), so only the words themselves are listed here.
EVERYDAY: dict[Intent, tuple[str, ...]] = {
    Intent.REGISTER: (
        "chich", "chich ngua", "chich vac xin", "chich vaccine", "dang ky chich", "di chich",
        "di tiem", "muon tiem", "tiem ngua", "tiem phong", "tiem mui", "tiem mui 1",
        "tiem mui 2", "tiem mui 3", "tiem nhac lai", "mui nhac lai", "mui tang cuong",
        "dang ky mui", "dang ky tiem chung", "dang ky tiem phong", "dang ki chich", "dk chich",
        "lich chich", "dat cho", "dat lich tiem", "sign up", "book a slot", "vaccine", "vax",
        "get vaccinated", "dang ky tiem vac xin", "phieu dang ky",
    ),
    Intent.RESULTS: (
        "ket qua test", "kq test", "kq pcr", "xet nghiem pcr", "am tinh", "duong tinh",
        "test nhanh", "ket qua am tinh", "ket qua duong tinh", "co kq chua", "co ket qua chua",
        "my result", "covid test", "xem ket qua", "xem kq",
    ),
    Intent.QR: ("ma qr cua toi", "qr cua toi", "ma vach", "lay ma qr", "lay qr"),
    Intent.LOOKUP: ("tra", "tra ket qua", "tra xet nghiem", "tra cuu ma mau", "ma mau",
                    "check result", "tra cuu kq xn"),
    Intent.CERTIFICATE: (
        "gcn tiem", "cn tiem", "giay xac nhan", "xac nhan tiem", "giay xac nhan tiem",
        "giay xac nhan da tiem", "lay giay xac nhan", "giay chung nhan tiem",
        "chung nhan tiem chung", "chung nhan da tiem", "ho chieu vacxin", "the xanh",
        "vaccine certificate",
        "vaccination certificate", "proof of vaccination", "gcn tiem chung", "xac nhan da tiem",
    ),
    Intent.APPOINTMENTS: (
        "lich cua toi", "lich hen chich", "may gio tiem", "ngay tiem", "khi nao tiem",
        "bao gio tiem", "doi ngay tiem", "huy lich hen", "my booking", "booking",
    ),
    Intent.SUPPORT: (
        "hotline", "duong day nong", "so hotline", "tong dai", "goi tong dai", "lien he",
        "lien he nhan vien", "can giup do", "giup do", "khieu nai", "phan anh", "bac si",
        "can ho tro", "contact", "call center",
    ),
    Intent.MENU: ("chao ban", "xin chao ad", "hey", "good morning", "main menu", "bat dau lai"),
    Intent.HELP: ("lam sao", "lam the nao", "cach dung", "how to", "how does this work"),
    Intent.CANCEL: ("khong can nua", "thoi khong", "huy bo di"),
    Intent.LANGUAGE: ("doi ngon ngu", "chuyen tieng anh", "in english", "doi sang tieng anh"),
    Intent.ADD_CHILD: ("chich cho con", "chich ngua cho con", "tiem cho be", "chich cho be",
                       "tiem ngua cho be", "dang ky cho be", "them tre", "tiem cho chau"),
    Intent.CHILD_RECORD: ("so chich ngua", "so tiem cua be", "lich tiem cua be", "so vang"),
    # "Why" questions win over the words they are about ("sao chưa có giấy chứng nhận"), when
    # they name what is missing (see why_topic); a wrong record wins over everything.
    Intent.WHY: (
        "sao chua", "sao van chua", "tai sao chua", "vi sao chua", "sao khong", "tai sao khong",
        "vi sao khong", "sao lau", "sao lau the", "sao mai chua", "sao toi chua",
        "sao toi khong", "bao gio co", "khi nao co", "bao lau co", "why", "why no",
        "why not", "why havent", "why didnt", "why dont", "tai sao", "vi sao", "sao",
    ),
    Intent.CORRECTION: (
        "bi sai", "sai thong tin", "thong tin sai", "thong tin bi sai", "ghi sai", "nhap sai",
        "sai mui", "sai ngay tiem", "sai ten vac xin", "sai loai vac xin", "sai vac xin",
        "sua thong tin mui tiem", "sua mui tiem", "sua thong tin tiem", "dinh chinh",
        "dieu chinh thong tin", "sai so lo", "wrong", "wrong dose", "incorrect",
        "correct my record", "fix my record",
    ),
}  # fmt: skip
for _intent, _phrases in EVERYDAY.items():
    PHRASES[_intent] = PHRASES.get(_intent, ()) + _phrases
# Intents ranked above any longer phrase of another: a complaint is about its subject.
_FIRST = {Intent.CORRECTION: 2, Intent.WHY: 1}

TOPICS: dict[Topic, tuple[str, ...]] = {
    Topic.CERTIFICATE: (
        "gcn", "cn", "chung nhan", "giay chung nhan", "giay xac nhan", "xac nhan",
        "ho chieu vac xin", "certificate",
    ),
    Topic.RESULTS: ("kq", "ket qua", "xet nghiem", "xn", "pcr", "result", "results", "test"),
    Topic.REMINDERS: ("nhac", "nhac lich", "nhac nho", "tin nhac", "thong bao", "reminder",
                      "reminders"),
    Topic.DOSE: ("mui", "mui tiem", "ghi nhan", "cap nhat", "dose", "doses"),
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
_SPELLER = Speller.of(
    [p for phrases in PHRASES.values() for p in phrases]
    + [p for phrases in TOPICS.values() for p in phrases]
)


# Phrases filed by their first word, so a message is compared only with phrases that can match.
_BY_FIRST_WORD: dict[str, list[tuple[int, str, Intent]]] = {}
for _intent, _phrases in PHRASES.items():
    for _phrase in _phrases:
        _BY_FIRST_WORD.setdefault(_phrase.split()[0], []).append(
            (len(_phrase.split()), _phrase, _intent)
        )


def _padded(text: str) -> str | None:
    """The text folded and respelled, between spaces; None if empty or too long."""
    words = fold(text).split()
    if not words or len(words) > _MAX_WORDS:
        return None
    return " " + " ".join(_SPELLER.repair(words)) + " "


def match_intent(text: str) -> Intent | None:
    """The intent whose longest phrase appears as whole words in `text`, if any.

    A correction request, then a "why" question about something named (why_topic), come
    first; typed joined, with Telex leftovers or a typo, the words are repaired first.
    """
    padded = _padded(text)
    if padded is None:
        return None
    words = padded.split()
    best: tuple[int, int, Intent] | None = None
    for at, word in enumerate(words):
        for size, phrase, intent in _BY_FIRST_WORD.get(word, ()):
            if " ".join(words[at : at + size]) != phrase:
                continue
            rank = _FIRST.get(intent, 0)
            if intent is Intent.WHY and _topic_in(padded) is None:
                continue
            if best is None or (rank, len(phrase)) > best[:2]:
                best = (rank, len(phrase), intent)
    return best[2] if best else None


def why_topic(text: str) -> Topic | None:
    """What a "why" question is about: the certificate, results, reminders or a dose."""
    padded = _padded(text)
    return None if padded is None else _topic_in(padded)


def _topic_in(padded: str) -> Topic | None:
    for topic, phrases in TOPICS.items():  # in order: a certificate's dose is the certificate
        if any(f" {phrase} " in padded for phrase in phrases):
            return topic
    return None


def is_answer(text: str, intent: Intent) -> bool:
    """Whether the whole of `text` is a typed yes (or no, or cancel).

    Text with diacritics is compared as typed; only plain ASCII is compared folded.
    """
    spoken = " ".join(_PUNCTUATION.sub(" ", unicodedata.normalize("NFC", text).lower()).split())
    if spoken.isascii():
        return spoken in PHRASES[intent]
    return spoken in ANSWERS.get(intent, frozenset())
