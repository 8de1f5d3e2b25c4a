"""The registration and booking conversation, driven through the dispatcher as a web chat."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import Service, build_service
from bot.config import ConfigError, Settings
from bot.crypto import DataProtector
from bot.domain.form_lists import priority_groups
from bot.domain.identity import id_index
from storage.models import Account, Booking, OutboxMessage, Person, Slot, Ticket
from tests.conftest import Clock
from tests.registration_fixtures import (
    REFUSED,
    SITE,
    add_holder,
    add_sites,
    answer_screening,
    book_first,
    fill_person,
    give_first_dose,
)
from tests.webchat import MENU, Citizen

CODE = re.compile(r"\b([2-9A-HJKMNP-Z]{7})\b")


@pytest.fixture
async def citizen(svc: Service, clock: Clock) -> Citizen:
    await add_sites(svc.db, clock())
    person = Citizen(svc)
    await person.consent()
    return person


async def count(svc: Service, entity: type) -> int:
    async with svc.db.read_scope() as session:
        return int(await session.scalar(select(func.count()).select_from(entity)) or 0)


async def test_whole_journey_for_oneself_typed_without_diacritics(citizen: Citizen, svc) -> None:
    assert await citizen.say("dk tiem")
    assert citizen.buttons() == ["Bản thân tôi", "Người thân"]
    await citizen.press("Bản thân tôi")
    (question,) = await citizen.say("nguyen van an")
    assert "“Nguyen Van An”" in question and "không dấu" in question
    assert citizen.buttons() == ["Giữ “Nguyen Van An”", "Gõ lại có dấu"]
    await citizen.press("Giữ “Nguyen Van An”")
    texts = await citizen.say("2/1/90")
    # One message per step: the date in words opens the next question.
    assert len(texts) == 1 and "Thứ Ba, 02/01/1990" in texts[0] and "định danh" in texts[0]
    texts = await citizen.say("079 090 012 345")
    assert len(texts) == 1 and "Giới tính: Nam (theo số định danh" in texts[0]  # 4th digit
    texts = await citizen.say("+84 912 345 678")
    assert "+84 91* *** 678" in texts[0]
    await citizen.say("tphcm")
    texts = await citizen.say("phuong ben thanh")
    assert len(texts) == 1 and "Phường Bến Thành" in texts[0]
    # Each group a button, the one suggested by age (36: "others") first.
    assert "có lẽ là nhóm 9" in texts[0]
    assert citizen.buttons()[0] == "✓ Các đối tượng khác do Bộ Y tế quyết định"
    assert citizen.buttons()[1].startswith("1. ")
    await citizen.say("5")
    await answer_screening(citizen)
    assert citizen.buttons()[0] == "Trạm Y tế phường Bến Thành"  # the person's ward first
    await citizen.press("Trạm Y tế phường Bến Thành")
    assert all("(còn 40 chỗ)" in label for label in citizen.buttons())
    await citizen.press(citizen.buttons()[0])
    assert citizen.buttons() == ["08:00–09:00 (còn 20 chỗ)", "09:00–10:00 (còn 20 chỗ)"]
    summary = await citizen.press("08:00–09:00 (còn 20 chỗ)")
    assert "Nguyen Van An" in summary[-1] and "0790******45" in summary[-1]
    assert "Phường Bến Thành" in summary[-1] and "08:00–09:00" in summary[-1]
    assert citizen.buttons() == ["Xác nhận", "Sửa"]
    done = await citizen.press("Xác nhận")
    code = CODE.search(done[0])
    assert code, done
    assert "186 Lê Thánh Tôn" in done[0]
    assert citizen.last[-1]["text"] and code.group(1) in citizen.last[-1]["text"]
    assert await count(svc, Person) == 1 and await count(svc, Booking) == 1
    async with svc.db.read_scope() as session:
        person = await session.scalar(select(Person))
        assert person is not None and person.ward_code == 26743 and person.is_holder
        assert b"079090012345" not in person.id_sealed  # sealed at rest
        booked = await session.scalar(select(func.sum(Slot.booked)))
    assert booked == 1


async def test_booking_confirmation_carries_a_qr_image(citizen: Citizen, svc) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    async with svc.db.read_scope() as session:
        images = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.image.is_not(None)))
        ).all()
    assert len(images) == 1 and images[0].image is not None
    assert images[0].image.startswith(b"\x89PNG")


async def test_relative_then_list_and_cancel(citizen: Citizen, svc) -> None:
    await fill_person(
        citizen, who="Người thân", name="Trần Thị Bình", gender="Nữ", id="079 190 012 346"
    )
    await book_first(citizen)
    texts = await citizen.say("/lichhen")
    assert "Trần Thị Bình" in texts[0]
    code = CODE.search(texts[0])
    assert code
    await citizen.press(f"Hủy lịch {code.group(1)}")
    assert citizen.buttons() == ["Có, hủy lịch", "Không, giữ lịch hẹn"]
    await citizen.press("Có, hủy lịch")
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(Booking))
        assert booking is not None and booking.status == "cancelled"
        assert await session.scalar(select(func.sum(Slot.booked))) == 0
    texts = await citizen.say("/lichhen")
    assert "Trần Thị Bình" in texts[0] and not CODE.search(texts[0])


async def test_move_keeps_the_code_and_frees_the_old_place(citizen: Citizen, svc) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    async with svc.db.read_scope() as session:
        before = await session.scalar(select(Booking))
    assert before is not None
    await citizen.say("/lichhen")
    await citizen.press(f"Đổi lịch {before.code}")
    await citizen.press("Trung tâm Y tế Sài Gòn")
    await citizen.press(citizen.buttons()[-1])
    await citizen.press(citizen.buttons()[-1])
    summary = await citizen.last_texts()
    assert "Trung tâm Y tế Sài Gòn" in summary[-1]
    texts = await citizen.press("Xác nhận")
    assert before.code in texts[0]
    async with svc.db.read_scope() as session:
        after = await session.scalar(select(Booking))
        slots = {s.id: s.booked for s in (await session.scalars(select(Slot))).all()}
    assert after is not None and after.code == before.code and after.slot_id != before.slot_id
    assert slots[before.slot_id] == 0 and slots[after.slot_id] == 1


async def test_change_one_field_from_the_summary(citizen: Citizen, svc) -> None:
    await fill_person(citizen)
    for _ in range(3):
        await citizen.press(citizen.buttons()[0])
    await citizen.press("Sửa")
    assert "Họ tên" in citizen.buttons() and "Điểm tiêm" in citizen.buttons()
    await citizen.press("Họ tên")
    summary = await citizen.say("Nguyễn Văn Anh")
    assert "Nguyễn Văn Anh" in summary[-1] and citizen.buttons() == ["Xác nhận", "Sửa"]
    await citizen.press("Sửa")
    await citizen.press("Tỉnh và phường/xã")
    await citizen.say("HCM")
    await citizen.say("Sài Gòn")
    assert citizen.buttons()[0] == "Trung tâm Y tế Sài Gòn"  # sites follow the new ward
    for _ in range(3):
        await citizen.press(citizen.buttons()[0])
    await citizen.press("Xác nhận")
    async with svc.db.read_scope() as session:
        person = await session.scalar(select(Person))
    assert person is not None and person.full_name == "Nguyễn Văn Anh"
    assert person.ward_code == 26740


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("Nguyen 2", "chữ cái"),
        ("🙂🙂", "chữ cái"),
        ("A", "quá ngắn"),
        ("x" * 5000, ""),
    ],
)
async def test_bad_names_are_refused_and_nothing_is_lost(
    citizen: Citizen, typed: str, fragment: str
) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    texts = await citizen.say(typed)
    assert fragment in texts[0]
    texts = await citizen.say("Nguyễn Văn An")  # still on the name step
    assert "Ngày sinh" in texts[0] or "ngày sinh" in texts[0]


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("31/02/1990", "không tồn tại"),
        ("1/1/2999", "tương lai"),
        ("1/1/1890", "120"),
        ("hôm qua", "02/01/1990"),
        ("1/1/2015", "18"),
    ],
)
async def test_bad_birth_dates(citizen: Citizen, typed: str, fragment: str) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    await citizen.say("Nguyễn Văn An")
    texts = await citizen.say(typed)
    assert fragment in texts[0], texts
    texts = await citizen.say("02011990")
    assert "Thứ Ba, 02/01/1990" in texts[0]


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("012345678", "CMND"),
        ("07909001234", "12"),
        ("003090012345", "003"),
        ("07909001234a", "chỉ"),
    ],
)
async def test_bad_id_numbers(citizen: Citizen, typed: str, fragment: str) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    await citizen.say("Nguyễn Văn An")
    await citizen.say("02/01/1990")
    texts = await citizen.say(typed)
    assert fragment in texts[0], texts


async def test_id_disagreeing_with_birth_year_and_gender_offers_fixes(citizen: Citizen) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    await citizen.say("Nguyễn Thị Hoa")
    await citizen.say("02/01/1991")
    texts = await citizen.say("079 090 012 345")  # male, born 1990
    assert "1990" in texts[-1] and "1991" in texts[-1]
    # The gender is read from the number, so only the birth year can disagree here.
    assert citizen.buttons() == ["Sửa số định danh", "Sửa ngày sinh"]
    await citizen.press("Sửa số định danh")
    texts = await citizen.say("079 191 012 345")  # female, born 1991: the gender read again
    assert "Giới tính: Nữ" in texts[-1] and "điện thoại" in texts[-1]
    for text in ("0912 345 678", "tphcm", "ben thanh", "5", "khong"):
        await citizen.say(text)
    for _ in range(3):
        await citizen.press(citizen.buttons()[0])
    await citizen.press("Sửa")
    await citizen.press("Giới tính")
    assert citizen.buttons() == ["Nam", "Nữ"]  # a change is asked, not read again
    texts = await citizen.press("Nam")
    assert citizen.buttons() == ["Sửa số định danh", "Sửa giới tính"]
    await citizen.press("Sửa giới tính")
    texts = await citizen.press("Nữ")
    assert "Vui lòng kiểm tra" in texts[-1] and "Giới tính: Nữ" in texts[-1]


async def test_three_wrong_answers_offer_support_and_back(citizen: Citizen) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    await citizen.say("Nguyễn Văn An")
    await citizen.say("abc")
    await citizen.say("abc")
    assert "Gặp nhân viên hỗ trợ" not in citizen.buttons()
    await citizen.say("abc")
    assert citizen.buttons() == ["Gặp nhân viên hỗ trợ", "Quay lại"]
    texts = await citizen.press("Quay lại")
    assert "họ tên" in texts[-1].lower() or "Họ và tên" in texts[-1]


async def test_cancel_says_what_was_kept(citizen: Citizen, svc) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    await citizen.say("/dangky")
    await citizen.press("Người thân")
    await citizen.say("Trần Thị Bình")
    texts = await citizen.say("/huy")
    assert "1" in texts[0] and "/lichhen" in texts[0]
    assert citizen.buttons() == MENU
    assert await count(svc, Person) == 1


async def test_the_same_person_cannot_be_registered_twice(citizen: Citizen, svc) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    other = Citizen(svc, chat_id="citizen-2")
    await other.consent()
    await other.say("/dangky")
    await other.press("Người thân")
    await other.say("Nguyễn Văn An")
    await other.say("02/01/1990")
    texts = await other.say("079090012345")
    # On purpose (issue 14, item 10): neither the other account, its channel nor its phone.
    assert texts == [REFUSED]
    assert other.buttons() == ["Đây là số của tôi", "Hỗ trợ", "Quay lại"]
    assert await count(svc, Person) == 1


async def type_relative_id(citizen: Citizen, number: str) -> list[str]:
    """Start registering a relative and type their ID number; the answers to it."""
    await citizen.say("/dangky")
    await citizen.press("Người thân")
    await citizen.say("Trần Thị Bình")
    await citizen.say("15/03/1958")
    return await citizen.say(number)


async def test_a_refused_id_number_gets_one_answer_whoever_holds_it(
    citizen: Citizen, svc: Service
) -> None:
    await add_holder(svc, "079158000123", chat_id="tg-1")  # another account
    await add_holder(svc, "079158000124", chat_id=None)  # kept after its account was erased
    answers = [await type_relative_id(citizen, "079158000123")]
    await citizen.say("/huy")
    answers.append(await type_relative_id(citizen, "079158000124"))
    await citizen.say("/huy")
    await fill_person(citizen, "Người thân", name="Trần Thị Bình", dob="15/03/1958",
                      gender="Nữ", id="079158000125")  # fmt: skip
    await add_holder(svc, "079158000125", chat_id="tg-2")  # taken while the form was filled in
    answers.append((await book_first(citizen))[:1])
    assert answers == [[REFUSED]] * 3
    assert citizen.buttons() == ["Đây là số của tôi", "Hỗ trợ", "Quay lại"]
    for word in ("Telegram", "Zalo", "web", "đã được đăng ký", "tài khoản khác", "hồ sơ", "lúc"):
        assert word not in REFUSED
    assert not any(ch.isdigit() for ch in REFUSED)
    # "Hỗ trợ" opens a ticket (no desk here: the console's inbox) and the form is kept.
    texts = await citizen.press("Hỗ trợ")
    assert texts[0].startswith("Tôi đã nhờ nhân viên hỗ trợ giúp bạn")
    texts = await citizen.press("Kết thúc")
    assert "vẫn được giữ" in texts[0]
    summary = await citizen.say("079158000126")  # another number: the form goes on
    assert "0791******26" in summary[-1] and citizen.buttons() == ["Xác nhận", "Sửa"]
    await citizen.press("Xác nhận")
    # One's own account's people are no secret: the kinder answer stays.
    texts = await type_relative_id(citizen, "079158000126")
    assert texts[0] == "Trần Thị Bình đã được đăng ký trong tài khoản này."
    assert await count(svc, Person) == 4


async def test_support_from_a_refused_id_number_opens_a_ticket(
    desk_svc: Service, clock: Clock
) -> None:
    await add_sites(desk_svc.db, clock())
    await add_holder(desk_svc, "079158000123", chat_id="tg-1")
    citizen = Citizen(desk_svc)
    await citizen.consent()
    assert await type_relative_id(citizen, "079158000123") == [REFUSED]
    texts = await citizen.press("Hỗ trợ")
    assert texts[0].startswith("Tôi đã nhờ nhân viên hỗ trợ giúp bạn (yêu cầu số 1).")
    async with desk_svc.db.read_scope() as session:
        ticket = await session.scalar(select(Ticket))
    assert ticket is not None and ticket.status == "open"
    assert ticket.reason == "Cần giúp khi đang đăng ký tiêm (bước “id”)"


async def test_old_ward_name_is_confirmed_with_its_former_name(citizen: Citizen) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    await citizen.say("Nguyễn Văn An")
    await citizen.say("02/01/1990")
    await citizen.say("079090012345")
    await citizen.say("0912345678")
    await citizen.say("Sài Gòn")
    await citizen.say("pham ngu lao")
    assert citizen.buttons() == ["Phường Bến Thành (trước đây: Phường Phạm Ngũ Lão, Quận 1)"]
    texts = await citizen.press(citizen.buttons()[0])
    assert "trước đây" in texts[0]


async def test_full_slot_is_not_offered_and_a_slot_taken_meanwhile_is_reported(
    citizen: Citizen, svc
) -> None:
    async with svc.db.session_scope() as session:
        slots = (
            await session.scalars(
                select(Slot).where(Slot.site_id == SITE).order_by(Slot.starts_at)
            )
        ).all()
        slots[0].booked = slots[0].capacity  # the very first slot of Bến Thành is full
    await fill_person(citizen)
    await citizen.press("Trạm Y tế phường Bến Thành")
    await citizen.press(citizen.buttons()[0])
    assert citizen.buttons() == ["09:00–10:00 (còn 20 chỗ)"]
    await citizen.press("09:00–10:00 (còn 20 chỗ)")
    async with svc.db.session_scope() as session:  # someone else takes the last places
        slot = await session.get(Slot, slots[1].id)
        assert slot is not None
        slot.booked = slot.capacity
    texts = await citizen.press("Xác nhận")
    assert "vừa hết chỗ" in texts[0]
    assert await count(svc, Booking) == 0


async def test_next_dose_waits_for_the_interval(citizen: Citizen, svc, clock: Clock) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    await give_first_dose(svc, clock(), clock().date(), "BT-01", with_booking=True)
    await citizen.say("/dangky")
    await citizen.press("Nguyen Van An")
    await answer_screening(citizen)
    summary = await citizen.last_texts()
    assert "mũi 2" in summary[-1].lower() or "Mũi 2" in summary[-1]
    expected = (clock() + timedelta(days=56)).strftime("%d/%m/%Y")
    assert expected in summary[-1]


async def test_stale_button_and_duplicate_update(citizen: Citizen, svc) -> None:
    await citizen.say("/dangky")
    first = citizen.last
    await citizen.press("Bản thân tôi")
    citizen.last = first
    texts = await citizen.press("Người thân")
    assert "tin nhắn cũ" in texts[0]
    update = citizen.incoming("Nguyễn Văn An", id="same")
    await svc.dispatcher.handle(update)
    await svc.dispatcher.handle(update)
    assert len(await citizen.replies()) == 1


async def test_person_limit_per_account(citizen: Citizen, svc) -> None:
    protector: DataProtector = svc.protector
    async with svc.db.session_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == "citizen-1"))
        assert account is not None
        for i in range(5):
            number = f"07909001234{i}"
            session.add(
                Person(
                    account_id=account.id,
                    full_name=f"Người {i}",
                    birth_date=date(1960, 5, 5),
                    gender="male",
                    id_sealed=protector.seal(number),
                    id_index=id_index(protector, number),
                    province_code=79,
                    ward_code=26743,
                    divisions_version="x",
                    priority_group="nq21-9",
                    is_holder=False,
                )
            )
    await citizen.say("/dangky")
    assert "Bản thân tôi" not in citizen.buttons() and "Người thân" not in citizen.buttons()
    assert len(citizen.buttons()) == 5


async def test_erasing_the_account_frees_places_and_keeps_dose_records(
    citizen: Citizen, svc, clock: Clock
) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    await citizen.say("/dangky")
    await citizen.press("Người thân")
    await citizen.say("Trần Thị Bình")
    await citizen.say("15/03/1958")
    await citizen.say("079158000123")
    texts = await citizen.say("0912345678")
    # Bình lives where the holder, An, does: no address question.
    assert "Nơi ở: Phường Bến Thành, Thành phố Hồ Chí Minh (như của bạn" in texts[0]
    await citizen.say("5")
    await answer_screening(citizen)
    await book_first(citizen)
    texts = await citizen.say("/xemdulieu")
    assert "Trần Thị Bình" in texts[0] and "0791******23" in texts[0]
    assert "079158000123" not in texts[0]
    # An had dose 1; Bình has only a booking
    await give_first_dose(svc, clock(), clock().date(), "BT-01", with_booking=True)
    await citizen.say("/xoadulieu")
    await citizen.press("Xóa dữ liệu")
    async with svc.db.read_scope() as session:
        kept = (await session.scalars(select(Person))).all()
        assert [(p.full_name, p.account_id, p.phone_sealed) for p in kept] == [
            ("Nguyen Van An", None, None)
        ]
        # Bình's place is free again; An's stays taken by the attended appointment.
        assert await session.scalar(select(func.sum(Slot.booked))) == 1
    # The same ID number on a new account is not linked by itself (the number alone proves
    # nothing): support staff check, and nothing about the kept record is shown.
    again = Citizen(svc, chat_id="citizen-3")
    await again.consent()
    await again.say("/dangky")
    await again.press("Bản thân tôi")
    for text in ("Ke La", "có", "02/01/1990"):
        await again.say(text)
    texts = await again.say("079090012345")
    assert texts == [REFUSED]  # on purpose (issue 14, item 10): the one answer for all refusals
    assert again.buttons() == ["Đây là số của tôi", "Hỗ trợ", "Quay lại"]
    async with svc.db.read_scope() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1


async def test_priority_groups_come_from_the_configured_file(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    path = tmp_path / "groups.json"
    path.write_text(
        json.dumps([{"code": "hcm-a", "vi": "Người bán hàng ở chợ", "en": "Market traders"}]),
        encoding="utf-8",
    )
    assert [g.code for g in priority_groups(path)] == ["hcm-a"]
    assert Settings.from_env({"PRIORITY_GROUPS_FILE": str(path)}).priority_groups_file == path
    with pytest.raises(ConfigError, match="PRIORITY_GROUPS_FILE"):
        Settings.from_env({"PRIORITY_GROUPS_FILE": str(tmp_path / "missing.json")})
    bad = tmp_path / "bad.json"
    bad.write_text('[{"code": "x"}]', encoding="utf-8")
    with pytest.raises(ConfigError, match="vi label"):
        priority_groups(bad)
    svc = build_service(replace(settings, priority_groups_file=path), clock=clock)
    await svc.db.migrate()
    await add_sites(svc.db, clock())
    citizen = Citizen(svc)
    await citizen.consent()
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    for text in ("Nguyễn Văn An", "02/01/1990"):
        await citizen.say(text)
    for text in ("079090012345", "0912345678", "hcm"):
        await citizen.say(text)
    await citizen.say("ben thanh")
    await svc.db.dispose()
    assert citizen.buttons() == ["1. Người bán hàng ở chợ"]  # no age suggestion: not NQ 21


async def test_an_old_screening_button_cannot_answer_the_current_question(
    citizen: Citizen, svc
) -> None:
    await fill_person(citizen)  # all nine answered "khong"
    for _ in range(3):
        await citizen.press(citizen.buttons()[0])
    await citizen.press("Sửa")
    await citizen.press("Câu trả lời sàng lọc")
    await citizen.press("Có hoặc không rõ: trả lời từng câu")
    first = citizen.last
    await citizen.press("Không")  # question 1
    await citizen.press("Không")  # question 2
    citizen.last = first  # question 1's buttons, pressed again (a double tap, or scrolling up)
    texts = await citizen.press("Có")
    assert "tin nhắn cũ" in texts[0]
    state = (await citizen.state())[1]
    assert state is not None and state.data["screen"] == {"anaphylaxis": "no", "covid6m": "no"}


async def test_a_registration_whose_slot_filled_up_is_kept_and_booked_again(
    citizen: Citizen, svc
) -> None:
    await fill_person(citizen)
    await citizen.press("Trạm Y tế phường Bến Thành")
    await citizen.press(citizen.buttons()[0])
    await citizen.press(citizen.buttons()[0])
    async with svc.db.session_scope() as session:  # someone else takes the last places
        for slot in (await session.scalars(select(Slot).where(Slot.site_id == SITE))).all()[:1]:
            slot.booked = slot.capacity
    texts = await citizen.press("Xác nhận")
    assert "vừa hết chỗ" in texts[0]
    assert await count(svc, Person) == 1  # the registration itself is kept
    await citizen.press(citizen.buttons()[0])
    texts = await citizen.press("Xác nhận")
    assert CODE.search(texts[0]) and await count(svc, Booking) == 1


async def test_moving_when_nothing_else_is_free_keeps_the_appointment(
    citizen: Citizen, svc
) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    async with svc.db.session_scope() as session:
        for slot in (await session.scalars(select(Slot))).all():
            slot.booked = slot.capacity
    await citizen.say("/lichhen")
    code = CODE.search(citizen.last[0]["text"])
    assert code
    texts = await citizen.press(f"Đổi lịch {code.group(1)}")
    assert "giữ nguyên" in texts[0]
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(Booking))
    assert booking is not None and booking.status == "booked"


async def test_cancel_during_a_move_says_the_appointment_is_unchanged(citizen: Citizen) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    await citizen.say("/lichhen")
    code = CODE.search(citizen.last[0]["text"])
    assert code
    await citizen.press(f"Đổi lịch {code.group(1)}")
    texts = await citizen.say("/huy")
    assert "lịch hẹn của bạn vẫn giữ nguyên" in texts[0]


async def test_free_text_after_the_appointment_list_is_understood(citizen: Citizen) -> None:
    await fill_person(citizen)
    await book_first(citizen)
    await citizen.say("/lichhen")
    await citizen.say("dang ky tiem")
    assert citizen.buttons()[-1] == "Người thân"


@pytest.mark.parametrize(
    "payload", ["reg:person:x", "reg:person:99999", "reg:prov:x", "reg:prov:999", "reg:site:zz"]
)
async def test_forged_or_garbled_payloads_get_a_kind_answer(
    citizen: Citizen, svc, payload: str
) -> None:
    await citizen.say("/dangky")
    prompt = citizen.last[-1]["buttons"][0][0][1].partition("|")[0]
    await citizen.press("Bản thân tôi") if payload.startswith("reg:prov") else None
    if payload.startswith("reg:prov"):
        for text in ("Nguyễn Văn An", "02/01/1990"):
            await citizen.say(text)
        for text in ("079090012345", "0912345678"):
            await citizen.say(text)
        prompt = citizen.last[-1]["buttons"][0][0][1].partition("|")[0]
    await svc.dispatcher.handle(citizen.incoming(payload=f"{prompt}|{payload}"))
    texts = [body["text"] for body in await citizen.replies()]
    assert texts and not any("sự cố" in text for text in texts), texts


async def test_unicode_digits_at_the_priority_group_step(citizen: Citizen) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    for text in ("Nguyễn Văn An", "02/01/1990"):
        await citizen.say(text)
    for text in ("079090012345", "0912345678", "hcm", "ben thanh"):
        await citizen.say(text)
    texts = await citizen.say("²")
    assert "1 đến 9" in texts[0]


async def test_support_button_mid_form_keeps_what_was_entered(citizen: Citizen) -> None:
    await citizen.say("/dangky")
    await citizen.press("Bản thân tôi")
    await citizen.say("Nguyễn Văn An")
    for _ in range(3):
        await citizen.say("abc")
    texts = await citizen.press("Gặp nhân viên hỗ trợ")  # a ticket for the console's inbox
    assert "vẫn được giữ" in texts[0]
    texts = await citizen.press("Kết thúc")
    assert "vẫn được giữ" in texts[0]
    texts = await citizen.say("02/01/1990")
    assert "Thứ Ba, 02/01/1990" in texts[0]
