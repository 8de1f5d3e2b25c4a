"""Free text to intents: diacritics or not, NFC or NFD, any case, chat shorthand."""

from __future__ import annotations

import unicodedata

import pytest

from bot.vn.intents import PHRASES, Intent, is_answer, match_intent
from bot.vn.text import fold

CASES = [
    ("Đăng ký tiêm", Intent.REGISTER),
    ("dang ky tiem", Intent.REGISTER),
    (unicodedata.normalize("NFD", "Đăng ký tiêm"), Intent.REGISTER),
    ("ĐĂNG KÝ", Intent.REGISTER),
    ("dk", Intent.REGISTER),
    ("đk", Intent.REGISTER),
    ("ĐK tiêm", Intent.REGISTER),
    ("dky", Intent.REGISTER),
    ("kq", Intent.RESULTS),
    ("KQ XN", Intent.RESULTS),
    ("xn", Intent.RESULTS),
    ("ket qua xet nghiem", Intent.RESULTS),
    ("Kết quả xét nghiệm của tôi", Intent.RESULTS),
    ("gcn", Intent.CERTIFICATE),
    ("giấy chứng nhận", Intent.CERTIFICATE),
    ("ho tro", Intent.SUPPORT),
    ("Hỗ trợ", Intent.SUPPORT),
    ("ad ơi", Intent.SUPPORT),
    ("gap nhan vien", Intent.SUPPORT),
    ("cho toi noi chuyen voi nguoi that", Intent.SUPPORT),
    ("Cho tôi nói chuyện với người thật", Intent.SUPPORT),
    ("menu", Intent.MENU),
    ("hướng dẫn", Intent.HELP),
    ("hủy", Intent.CANCEL),
    ("ngôn ngữ", Intent.LANGUAGE),
    ("xem dữ liệu", Intent.VIEW_DATA),
    ("xóa dữ liệu", Intent.DELETE_DATA),
    ("Thêm con", Intent.ADD_CHILD),
    ("them con", Intent.ADD_CHILD),
    ("đăng ký cho con", Intent.ADD_CHILD),
    ("dang ky cho con", Intent.ADD_CHILD),
    ("Đăng ký tiêm cho con", Intent.ADD_CHILD),
    ("dk tiem cho con", Intent.ADD_CHILD),
    ("Sổ tiêm", Intent.CHILD_RECORD),
    ("so tiem cua con", Intent.CHILD_RECORD),
    ("có", Intent.YES),
    ("đồng ý", Intent.YES),
    ("OK", Intent.YES),
    ("không", Intent.NO),
    ("khong dong y", Intent.NO),
    ("Không đồng ý", Intent.NO),
    (unicodedata.normalize("NFD", "Không đồng ý"), Intent.NO),
    ("tôi muốn biết kết quả xét nghiệm của mẹ tôi hôm qua ở trạm y tế phường", None),
    ("😀😀😀", None),
    ("", None),
    ("xin cảm ơn nhiều", None),
    ("đăng", None),
]


@pytest.mark.parametrize(
    ("text", "intent"),
    CASES,
    ids=[f"{i:02d}-{fold(t).replace(' ', '-') or 'blank'}" for i, (t, _) in enumerate(CASES)],
)
def test_match_intent(text: str, intent: Intent | None) -> None:
    assert match_intent(text) == intent


def test_long_sentence_is_not_guessed() -> None:
    sentence = "kq " + " ".join(["chữ"] * 12)
    assert len(sentence.split()) > 12
    assert match_intent(sentence) is None
    assert match_intent(" ".join(["kq"] + ["chữ"] * 11)) == Intent.RESULTS


def test_every_phrase_is_already_folded() -> None:
    for intent, phrases in PHRASES.items():
        for phrase in phrases:
            assert fold(phrase) == phrase, (intent, phrase)


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("đồng ý", Intent.YES, True),
        ("Đồng ý!", Intent.YES, True),
        (unicodedata.normalize("NFD", "Đồng ý"), Intent.YES, True),
        ("co", Intent.YES, True),
        ("Có", Intent.YES, True),
        ("ok", Intent.YES, True),
        ("vâng", Intent.YES, True),
        ("không", Intent.NO, True),
        ("ko", Intent.NO, True),
        ("không đồng ý", Intent.NO, True),
        ("không đồng ý", Intent.YES, False),
        ("có lẽ không", Intent.YES, False),
        ("đồng ý đăng ký", Intent.YES, False),
        ("", Intent.YES, False),
        ("😀", Intent.NO, False),
    ],
    ids=[
        "dong-y",
        "dong-y-punctuated",
        "dong-y-nfd",
        "co",
        "co-diacritics",
        "ok",
        "vang",
        "khong",
        "ko",
        "khong-dong-y-is-no",
        "khong-dong-y-is-not-yes",
        "maybe-is-not-yes",
        "yes-plus-more-is-not-an-answer",
        "empty",
        "emoji",
    ],
)
def test_is_answer(text: str, intent: Intent, expected: bool) -> None:
    assert is_answer(text, intent) is expected


@pytest.mark.parametrize("text", ["dừng", "Đừng", "đừng!"], ids=["dung-stop", "Dung-dont", "dont"])
def test_stop_and_dont_are_not_yes(text: str) -> None:
    assert not is_answer(text, Intent.YES)
