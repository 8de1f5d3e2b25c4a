"""Real phrasings mapped to intents: a table of how citizens actually type (issue 16.4).

Southern and northern words, no diacritics, joined words, Telex leftovers ("dangky",
"ddang kys"), typos, shorthand, English. New words must not steal others' messages: "đăng ký
cho con" stays with children, "sao chưa có giấy chứng nhận" is a question about the record, and
symptom messages go to the symptoms guide before any intent is looked at.
"""

from __future__ import annotations

import pytest

from bot.vn.intents import Intent, Topic, match_intent, why_topic
from bot.vn.symptoms import classify
from bot.vn.text import fold

R, RES, C, Q = Intent.REGISTER, Intent.RESULTS, Intent.CERTIFICATE, Intent.QR
L, A, S, M = Intent.LOOKUP, Intent.APPOINTMENTS, Intent.SUPPORT, Intent.MENU
KID, BOOK, WHY, FIX = Intent.ADD_CHILD, Intent.CHILD_RECORD, Intent.WHY, Intent.CORRECTION

PHRASINGS: list[tuple[str, Intent | None]] = [
    # registering: the South says chích (ngừa), the North tiêm (phòng)
    ("chích ngừa", R), ("chich ngua", R), ("Chích ngừa ở đâu vậy", R), ("cho em chích với", R),
    ("em muốn chích vaccine", R), ("chích vắc xin", R), ("đi chích", R), ("di tiem", R),
    ("tiêm phòng", R), ("tiem phong covid", R), ("đăng ký tiêm chủng", R), ("Đăng kí tiêm", R),
    ("dang ki tiem", R), ("dăng ký tiêm", R), ("đăng ký mũi 3", R), ("tiêm mũi 2", R),
    ("tiem mui nhac lai", R), ("mũi tăng cường", R), ("đk chích", R), ("dky tiem", R),
    ("đặt lịch tiêm", R), ("đặt chỗ", R), ("muốn tiêm", R), ("cho mình đăng ký tiêm với ạ", R),
    ("i want to register", R), ("sign up", R), ("book a slot", R), ("get vaccinated", R),
    ("vaccine", R), ("phiếu đăng ký", R),
    # ... joined, Telex leftovers, typos
    ("dangky", R), ("dangki", R), ("dangkytiem", R), ("ddang ky", R), ("ddang kys", R),
    ("ddawng kys tieem", R), ("dang kys", R), ("tieems chungr", R), ("da8ng ky1", R),
    ("dnag ky", R), ("dang ky tiemm", R), ("dang kyf tieem", R), ("chichs nguwaf", R),
    # results
    ("kết quả", RES), ("ket qua xn", RES), ("kqxn", RES), ("kq xét nghiệm", RES),
    ("ketqua", RES), ("ketquaxetnghiem", RES), ("xet ngiem", RES), ("ket qua xet nghiem", RES),
    ("keets quar", RES), ("xeets nghieemj", RES), ("kq pcr", RES), ("kết quả test", RES),
    ("âm tính chưa", RES), ("em dương tính hả", RES), ("test nhanh", RES), ("có kq chưa", RES),
    ("xem kết quả", RES), ("my result", RES), ("covid test", RES), ("Kết Quả XN", RES),
    # QR
    ("mã qr", Q), ("maqr", Q), ("ma qr cua toi", Q), ("qr xn", Q), ("lấy mã QR", Q),
    ("mã vạch", Q), ("qr code", Q), ("maqr xn", Q),
    # looking up a result by sample
    ("tra cứu", L), ("tracuu", L), ("tra cuu kq", L), ("tracuu kq", L), ("tra kết quả", L),
    ("mã mẫu", L), ("tra cứu mã mẫu", L), ("check result", L),
    # certificate
    ("gcn", C), ("gcn tiem", C), ("GCN tiêm", C), ("gcn tiêm chủng", C), ("cn tiem", C),
    ("lấy giấy xác nhận tiêm", C), ("giấy xác nhận đã tiêm", C), ("xin giấy xác nhận", C),
    ("giay chung nhan", C), ("giaychungnhan", C), ("giaays chuwngs nhaajn", C),
    ("chứng nhận tiêm chủng", C), ("hộ chiếu vắc xin", C), ("ho chieu vacxin", C),
    ("thẻ xanh", C), ("vaccination certificate", C), ("proof of vaccination", C),
    ("chung nhna", C), ("xác nhận đã tiêm", C),
    # appointments
    ("lịch hẹn", A), ("lichhen", A), ("lich hen cua toi", A), ("lịch của tôi", A),
    ("mấy giờ tiêm", A), ("ngày tiêm", A), ("khi nào tiêm", A), ("bao giờ tiêm vậy", A),
    ("đổi ngày tiêm", A), ("huy lich hen", A), ("doi lich", A), ("my booking", A),
    # support: hotline, staff, complaints
    ("hotline", S), ("số hotline", S), ("đường dây nóng", S), ("tổng đài", S),
    ("gọi tổng đài", S), ("liên hệ", S), ("lien he nhan vien", S), ("cần giúp đỡ", S),
    ("khiếu nại", S), ("phản ánh", S), ("bác sĩ ơi", S), ("ad oi", S), ("hotro", S),
    ("hoo trowj", S), ("gặp nhân viên", S), ("contact", S), ("call center", S),
    ("cho gặp người thật", S),
    # menu, help, language, cancel
    ("chào bạn", M), ("xin chào ad", M), ("hello", M), ("hey", M), ("alo alo", M),
    ("bắt đầu lại", M), ("main menu", M), ("trang chủ", M),
    ("làm sao", Intent.HELP), ("làm thế nào để dùng", Intent.HELP), ("cách dùng", Intent.HELP),
    ("how to", Intent.HELP), ("huongdan", Intent.HELP),
    ("đổi ngôn ngữ", Intent.LANGUAGE), ("in english", Intent.LANGUAGE),
    ("tieng anh", Intent.LANGUAGE), ("ngonngu", Intent.LANGUAGE),
    ("không cần nữa", Intent.CANCEL), ("huy bo", Intent.CANCEL),
    # children: "cho con" and "cho bé" keep their own flow whatever the verb
    ("đăng ký cho con", KID), ("dang ky cho con", KID), ("dangky cho con", KID),
    ("chích cho con", KID), ("chích ngừa cho con", KID), ("tiêm cho bé", KID),
    ("chich cho be", KID), ("tiêm ngừa cho bé", KID), ("đăng ký cho bé", KID),
    ("thêm bé", KID), ("them tre", KID), ("dk tiem cho con", KID),
    ("sổ tiêm", BOOK), ("sổ chích ngừa", BOOK), ("so tiem cua be", BOOK), ("sổ vàng", BOOK),
    ("lịch tiêm của bé", BOOK),
    # "why" about the person's record
    ("sao chưa có giấy chứng nhận", WHY), ("sao chua co gcn", WHY),
    ("tại sao chưa có kết quả", WHY), ("tai sao chua co kq", WHY),
    ("sao không nhận được nhắc lịch", WHY), ("sao ko thay nhac lich", WHY),
    ("sao lâu có kết quả thế", WHY), ("bao giờ có kết quả", WHY), ("khi nào có gcn", WHY),
    ("sao chưa ghi nhận mũi 2", WHY), ("vì sao chưa cập nhật mũi tiêm", WHY),
    ("why no certificate", WHY), ("why no result", WHY),
    # a wrong record
    ("thông tin mũi tiêm của tôi bị sai", FIX), ("thong tin mui tiem bi sai", FIX),
    ("mũi 2 bị ghi sai", FIX), ("sai ngày tiêm", FIX), ("sai tên vắc xin", FIX),
    ("sửa thông tin mũi tiêm", FIX), ("đính chính mũi tiêm", FIX), ("nhập sai mũi 1", FIX),
    ("my dose is wrong", FIX), ("giấy chứng nhận bị sai", FIX),
    # nothing to guess
    ("cảm ơn", None), ("dạ", None), ("sao", None), ("tại sao", None), ("bao nhiêu tiền", None),
    ("nguyen thi lan", None), ("hôm nay trời đẹp", None),
]  # fmt: skip


def test_the_table_is_large_and_unique() -> None:
    assert len(PHRASINGS) >= 150
    texts = [text for text, _ in PHRASINGS]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(
    ("text", "intent"),
    PHRASINGS,
    ids=[f"{i:03d}-{fold(t).replace(' ', '-')}" for i, (t, _) in enumerate(PHRASINGS)],
)
def test_phrasing(text: str, intent: Intent | None) -> None:
    assert match_intent(text) == intent


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("sao chưa có giấy chứng nhận", Topic.CERTIFICATE),
        ("tại sao chưa có kết quả", Topic.RESULTS),
        ("sao không nhận được nhắc lịch", Topic.REMINDERS),
        ("sao không có thông báo kết quả", Topic.RESULTS),
        ("sao chưa ghi nhận mũi 2", Topic.DOSE),
        ("sao chua co chung nhan xet nghiem", Topic.CERTIFICATE),
        ("tai sao", None),
    ],
)
def test_why_topic(text: str, topic: Topic | None) -> None:
    assert why_topic(text) == topic


@pytest.mark.parametrize(
    "text",
    [
        "chích ngừa xong bị sốt",
        "sau khi chich bi met",
        "tiêm mũi 2 xong khó thở",
        "sao tiêm xong bị sốt cao",
        "bị sai... à không, tôi bị chóng mặt",
        "dang ky tiem xong bi ngat",
    ],
)
def test_symptoms_are_still_read_first(text: str) -> None:
    """The router asks the symptom classifier before any intent: these must reach it."""
    assert classify(text) is not None
