"""Symptoms first (issue 16): guidance from any state, the reaction report, screening answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.app import Service
from bot.cli import reactions_report
from storage import reactions
from storage.models import (
    Booking,
    OutboxMessage,
    Person,
    Reaction,
    Site,
    Ticket,
    TicketEntry,
    TicketMessage,
)
from tests.chat import consent, labels, say
from tests.conftest import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.registration_fixtures import (
    SITE,
    add_sites,
    answer_screening,
    book_first,
    fill_person,
    give_first_dose,
)
from tests.webchat import Citizen

REPORT = "Báo phản ứng sau tiêm"
SITE_PHONE = "028 3829 1234"


@pytest.fixture
async def citizen(svc: Service, clock: Clock) -> Citizen:
    await add_sites(svc.db, clock())
    person = Citizen(svc)
    await person.consent()
    return person


async def count(svc: Service, entity: type) -> int:
    async with svc.db.read_scope() as session:
        return int(await session.scalar(select(func.count()).select_from(entity)) or 0)


async def test_the_examples_of_the_issue_get_guidance_not_a_registration(citizen: Citizen) -> None:
    for text in ("toi bi sot sau khi tiem thi lam sao", "phan ung sau tiem"):
        (answer,) = await citizen.say(text)
        assert "Bạn đăng ký tiêm cho ai" not in answer
        assert "thường tự hết sau 1–2 ngày" in answer and "115" in answer
        assert citizen.buttons() == [REPORT]
    (answer,) = await citizen.say("toi bi sot cao va kho tho")
    assert answer.startswith("⚠️ Đây có thể là dấu hiệu nguy hiểm. Hãy gọi ngay 115")
    assert "chưa hiểu" not in answer and citizen.buttons() == [REPORT]


async def test_danger_signs_are_answered_before_consent(svc: Service) -> None:
    stranger = Citizen(svc, "stranger")
    (answer,) = await stranger.say("Sốc phản vệ")
    assert "115" in answer and "khoa cấp cứu" in answer


async def test_mid_registration_the_guidance_keeps_the_form(citizen: Citizen) -> None:
    await citizen.say("dang ky tiem")
    await citizen.press("Bản thân tôi")
    for text in ("Nguyen Van An", "có", "2/1/90", "079 090 012 345", "0912 345 678", "tphcm"):
        await citizen.say(text)
    group_question = await citizen.say("ben thanh")
    asked = list(citizen.last)
    assert citizen.buttons()[0].startswith("✓ ")
    (answer,) = await citizen.say("tiem xong bi xiu")
    assert "115" in answer and "Thông tin bạn đã nhập vẫn được giữ" in answer
    citizen.last = asked  # the group buttons still work after the guidance
    texts = await citizen.press(citizen.buttons()[0])
    assert "Không có điều nào" in citizen.buttons(), (group_question, texts)


async def test_a_report_mid_registration_resumes_the_form(citizen: Citizen, svc: Service) -> None:
    await citizen.say("dang ky tiem")
    await citizen.press("Bản thân tôi")
    await citizen.say("Nguyen Van An")
    await citizen.say("có")  # no diacritics: kept as typed
    await citizen.say("phan ung sau tiem")
    (question,) = await citizen.press(REPORT)
    assert "triệu chứng gì" in question  # no dose on the account: straight to what happened
    await citizen.say("nổi mẩn khắp tay")
    await citizen.press("Hôm qua")
    texts = await citizen.press("Nhẹ: vẫn sinh hoạt bình thường")
    assert "Báo cáo #1 đã được ghi nhận" in texts[0]
    # No desk: the urgent ticket is in the console's inbox; the citizen talks with staff, and
    # after "End" the form is where it was.
    assert citizen.buttons() == ["Kết thúc"]
    (ended,) = await citizen.press("Kết thúc")
    assert "Thông tin bạn đã nhập vẫn được giữ" in ended
    texts = await citizen.say("2/1/90")
    assert "định danh" in texts[-1]
    async with svc.db.read_scope() as session:
        report = await session.scalar(select(Reaction))
    assert report is not None and report.vaccination_id is None and report.site_id is None
    assert report.note == "nổi mẩn khắp tay" and report.started == "yesterday"
    assert report.ticket_id is not None  # the console's inbox has it, with the report as a note
    async with svc.db.read_scope() as session:
        notes = (
            await session.scalars(select(TicketEntry.text).where(TicketEntry.kind == "note"))
        ).all()
    assert len(notes) == 1 and "nổi mẩn khắp tay" in notes[0]


async def test_report_kept_with_the_dose_opens_a_ticket_and_is_counted(
    desk_svc: Service, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    svc = desk_svc
    await add_sites(svc.db, clock())
    async with svc.db.session_scope() as session:
        await session.execute(update(Site).where(Site.id == SITE).values(phone=SITE_PHONE))
    citizen = Citizen(svc)
    await citizen.consent()
    await fill_person(citizen)
    await book_first(citizen)
    await give_first_dose(svc, clock(), clock().date(), SITE, with_booking=True)
    clock.advance(timedelta(days=1))

    (answer,) = await citizen.say("chich ngua xong bi sot")
    assert f"Trạm Y tế phường Bến Thành: {SITE_PHONE}" in answer
    await citizen.press(REPORT)
    (dose_button, other) = citizen.buttons()
    assert dose_button.startswith("Nguyen Van An, mũi 1") and other == "Mũi tiêm khác"
    await citizen.press(dose_button)
    await citizen.press("Sốt")
    await citizen.press("Hôm nay")
    danger, thanks = await citizen.press("Nặng: không sinh hoạt được")
    assert "gọi ngay 115" in danger and SITE_PHONE in danger  # severe: the 115 advice again
    assert "Báo cáo #1 đã được ghi nhận" in thanks and "yêu cầu #" in thanks
    assert citizen.buttons() == ["Kết thúc"]

    async with svc.db.read_scope() as session:
        report = await session.scalar(select(Reaction))
        person = await session.scalar(select(Person))
        ticket = await session.scalar(select(Ticket))
        counted = await reactions.counts(session)
    assert report is not None and person is not None and ticket is not None
    assert (report.site_id, report.product, report.person_id) == (SITE, "astrazeneca", person.id)
    assert report.vaccination_id is not None and report.symptoms == ["fever"]
    assert report.severity == "severe" and report.ticket_id == ticket.id
    assert ticket.status == "open" and ticket.reason.startswith("KHẨN: phản ứng sau tiêm")
    assert [(c.site_id, c.product, c.total, c.severe) for c in counted] == [
        (SITE, "astrazeneca", 1, 1)
    ]
    assert await reactions_report.run(None, svc) == 0
    printed = capsys.readouterr().out
    assert "BT-01" in printed and "astrazeneca" in printed


async def test_reactions_are_counted_per_site_and_product(svc: Service, clock: Clock) -> None:
    await add_sites(svc.db, clock())
    citizen = Citizen(svc)
    await citizen.consent()
    async with svc.db.session_scope() as session:
        account_id = (await citizen.state())[0].id  # type: ignore[union-attr]
        for site, product, severity in (
            (SITE, "pfizer", "mild"),
            (SITE, "pfizer", "severe"),
            (SITE, "moderna", "mild"),
            (None, None, "moderate"),
        ):
            session.add(
                Reaction(
                    account_id=account_id, site_id=site, product=product, symptoms=["fever"],
                    started="today", severity=severity, reported_at=clock(),
                )
            )  # fmt: skip
    async with svc.db.read_scope() as session:
        counted = await reactions.counts(session)
        later = await reactions.counts(session, since=clock() + timedelta(hours=1))
    assert [(c.site_id, c.product, c.total, c.severe) for c in counted] == [
        (SITE, "pfizer", 2, 1),
        (None, None, 1, 0),
        (SITE, "moderna", 1, 0),
    ]
    assert later == []


async def test_screening_yes_to_current_illness_is_explained_and_not_booked(
    citizen: Citizen, svc: Service
) -> None:
    await citizen.say("/dangky")
    await citizen.press("Người thân")
    for text in ("Tran Van Binh", "có", "2/1/90"):
        await citizen.say(text)
    for text in ("079 090 012 346", "0912 345 678", "tphcm", "ben thanh"):
        await citizen.say(text)
    await citizen.say("5")
    await citizen.press("Có hoặc không rõ: trả lời từng câu")
    await citizen.say("khong")
    await citizen.say("khong")
    texts = await citizen.say("Có")  # "Is he ill right now?"
    assert any("tạm hoãn tiêm" in t and "khỏi hẳn" in t for t in texts)
    assert "Vui lòng kiểm tra" in texts[-1] or "kiểm tra" in texts[-1].lower()
    assert citizen.buttons() == ["Xác nhận", "Sửa"]
    done = await citizen.press("Xác nhận")
    assert "Tran Van Binh" in done[0] and "khỏi hẳn" in done[0]
    assert await count(svc, Person) == 1 and await count(svc, Booking) == 0


async def test_anaphylaxis_for_a_registered_person_sends_to_a_hospital(
    citizen: Citizen, svc: Service, clock: Clock
) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    await give_first_dose(svc, clock(), clock().date(), SITE, with_booking=True)
    clock.advance(timedelta(days=90))
    await citizen.say("/dangky")
    await citizen.press("Nguyen Van An")
    await citizen.say("co")  # something applies: the questions one by one
    (answer,) = await citizen.say("co")  # a severe allergic reaction before
    assert "cần được tiêm tại bệnh viện" in answer
    assert await count(svc, Booking) == 1  # only the first dose's


async def test_a_man_of_68_is_not_asked_about_pregnancy_a_woman_of_30_is(
    citizen: Citizen,
) -> None:
    await citizen.say("/dangky")
    await citizen.press("Người thân")
    await citizen.say("Le Van Cu")
    await citizen.say("có")
    await citizen.say("15/3/1958")
    for text in ("079 058 012 345", "0912 345 678", "tphcm", "ben thanh"):
        await citizen.say(text)
    texts = await citizen.say("5")
    listed = [line for line in texts[-1].splitlines() if line.startswith("• ")]
    assert len(listed) == 8 and not any("mang thai" in q for q in listed)
    texts = await citizen.press("Có hoặc không rõ: trả lời từng câu")
    assert texts[-1].startswith("Câu 1/8")
    asked = [texts[-1]]
    while True:
        texts = await citizen.say("khong")
        if not texts[-1].startswith("Câu "):
            break
        asked.append(texts[-1])
    assert len(asked) == 8 and not any("mang thai" in q for q in asked)

    woman = Citizen(citizen.svc, "woman")
    await woman.consent()
    await woman.say("dang ky")
    await woman.press("Bản thân tôi")
    for text in ("Tran Thi Hoa", "có", "1/6/1996"):
        await woman.say(text)
    for text in ("079 196 012 345", "0913 345 678", "tphcm", "ben thanh"):
        await woman.say(text)
    texts = await woman.say("5")
    assert "mang thai" in texts[-1]
    assert await answer_screening(woman) == 9


async def test_over_telegram_danger_signs_get_115(
    service: Service, emulator: TelegramEmulator
) -> None:
    chat = 4242
    await consent(emulator, chat)
    answer = await say(emulator, chat, "toi bi sot cao va kho tho")
    assert "115" in answer["text"] and labels(answer) == [REPORT]
    answer = await say(emulator, chat, "phản ứng sau tiêm")
    assert "thường tự hết" in answer["text"] and labels(answer) == [REPORT]


async def test_with_staff_on_the_line_the_guidance_comes_and_staff_read_it(
    desk_svc: Service, clock: Clock
) -> None:
    citizen = Citizen(desk_svc)
    await citizen.consent()
    await citizen.say("gap nhan vien")
    (answer,) = await citizen.say("con toi kho tho qua")
    assert "115" in answer
    async with desk_svc.db.read_scope() as session:
        bodies = [
            row.body
            for row in await session.scalars(select(OutboxMessage))
            if row.chat_id != citizen.chat_id
        ]
        waiting = await session.scalar(select(func.count()).select_from(Ticket))
    assert waiting == 1
    relayed = [b for b in bodies if "con toi kho tho qua" in (b.get("text") or "")]
    async with desk_svc.db.read_scope() as session:
        held = [m.body for m in await session.scalars(select(TicketMessage)) if m.body]
    assert relayed or any("con toi kho tho qua" in (b.get("text") or "") for b in held)


async def test_a_screening_answer_that_says_wait_is_never_booked_through_a_change(
    citizen: Citizen, svc: Service
) -> None:
    await citizen.say("/dangky")
    await citizen.press("Người thân")
    for text in ("Tran Van Binh", "có", "2/1/90"):
        await citizen.say(text)
    for text in ("079 090 012 346", "0912 345 678", "tphcm", "ben thanh"):
        await citizen.say(text)
    await citizen.say("5")
    await citizen.press("Có hoặc không rõ: trả lời từng câu")
    await citizen.say("khong")
    await citizen.say("khong")
    await citizen.say("Có")  # ill right now: wait until well
    await citizen.press("Sửa")
    await citizen.press("Tỉnh và phường/xã")  # a change that forgets the (empty) site
    await citizen.say("tphcm")
    await citizen.say("ben thanh")
    assert citizen.buttons() == ["Xác nhận", "Sửa"]  # straight back to the summary: no site
    (done,) = await citizen.press("Xác nhận")
    assert "Đặt lịch thành công" not in done and "Tran Van Binh" in done
    assert await count(svc, Booking) == 0 and await count(svc, Person) == 1


async def test_a_name_that_reads_like_a_symptom_is_a_name_at_the_name_step(
    citizen: Citizen,
) -> None:
    await citizen.say("dang ky tiem")
    await citizen.press("Bản thân tôi")
    texts = await citizen.say("Nguyễn Thị Xỉu")  # a faint elsewhere; a name here
    assert not any("115" in t for t in texts)
    assert any("ngày sinh" in t.lower() for t in texts), texts
    (answer,) = await citizen.say("tiem xong bi xiu")  # at the next step, a faint again
    assert "115" in answer
