"""PCR for citizens: the sampling QR, results on the account, and the lookup with its limits."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import Service
from bot.handlers.privacy import CONSENT_VERSION
from bot.services import qr_tokens
from bot.services.identity import id_index
from bot.services.results import record_result
from bot.services.samples import record_sample
from storage.models import Account, LookupFailure, OutboxMessage, Person
from tests.conftest import Clock
from tests.webchat import Citizen

RELATIVE_ID = "079158000123"


@pytest.fixture
async def citizen(svc: Service) -> Citizen:
    person = Citizen(svc)
    await person.consent()
    return person


async def register_identity(citizen: Citizen, who: str = "Bản thân tôi") -> list[str]:
    """From /maqr on an empty account through the identity questions to the QR."""
    await citizen.say("/maqr")
    assert citizen.buttons() == ["Bản thân tôi", "Người thân"]
    await citizen.press(who)
    for text in ("Nguyen Van An", "2/1/1990"):
        await citizen.say(text)
    await citizen.press("Nam")
    for text in ("079090012345", "0912345678", "hcm", "ben thanh"):
        await citizen.say(text)
    summary = await citizen.last_texts()
    assert "Nhóm ưu tiên" not in summary[-1] and "Sàng lọc" not in summary[-1]
    return await citizen.press("Xác nhận")


async def add_relative(
    svc: Service,
    account_holder: str = "someone-else",
    *,
    locale: str = "vi",
    number: str = RELATIVE_ID,
) -> Person:
    """A person on another account, to be looked up from a paper slip."""
    protector = svc.protector
    async with svc.db.session_scope() as session:
        account = Account(
            channel="web", chat_id=account_holder, locale=locale, consent_version=CONSENT_VERSION
        )
        session.add(account)
        await session.flush()
        person = Person(
            account_id=account.id,
            full_name="Trần Thị Bình",
            birth_date=date(1958, 3, 15),
            gender="female",
            id_sealed=protector.seal(number),
            id_index=id_index(protector, number),
            province_code=79,
            ward_code=26743,
            divisions_version="test",
            priority_group="",
            is_holder=True,
        )
        session.add(person)
        await session.flush()
        return person


async def sample_and_result(
    svc: Service, clock: Clock, people: list[Person], tube: str, result: str | None
) -> None:
    async with svc.db.session_scope() as session:
        tokens = [qr_tokens.issue(svc.protector, p.id, now=clock()) for p in people]
        outcome = await record_sample(
            session, svc.protector, tube_code=tube, tokens=tokens, site_id=None,
            taken_by=None, actor="test", now=clock(),
        )  # fmt: skip
        assert outcome.created, outcome.problems
        if result:
            await record_result(
                session, tube_code=tube, result=result, tested_at=clock() - timedelta(hours=1),
                lab="Viện Pasteur TP.HCM", source="test", actor="test", now=clock(),
                sites=None,
            )  # fmt: skip


async def test_qr_after_the_identity_questions_only(citizen: Citizen, svc: Service) -> None:
    texts = await register_identity(citizen)
    assert "Nguyen Van An" in texts[0]
    qr = citizen.last[1]
    assert "Nguyen Van An" in qr["text"]
    async with svc.db.read_scope() as session:
        image = await session.scalar(
            select(OutboxMessage.image).where(OutboxMessage.image.is_not(None))
        )
        person = await session.scalar(select(Person))
    assert image is not None and image.startswith(b"\x89PNG")
    assert person is not None and person.priority_group == ""
    # With someone registered, /maqr gives their QR straight away, a fresh token each time.
    texts = await citizen.say("mã qr xét nghiệm")
    assert "Nguyen Van An" in texts[0] and len(texts) == 2


async def test_results_on_the_account(citizen: Citizen, svc: Service, clock: Clock) -> None:
    await register_identity(citizen)
    texts = await citizen.say("/ketqua")
    assert "Nguyen Van An" in texts[0]
    async with svc.db.read_scope() as session:
        person = await session.scalar(select(Person))
    assert person is not None
    await sample_and_result(svc, clock, [person], "HCM-000001", None)
    texts = await citizen.say("kq xn")
    assert "HCM-000001" in texts[0]
    async with svc.db.session_scope() as session:
        await record_result(
            session, tube_code="HCM-000001", result="negative", tested_at=clock(),
            lab="Viện Pasteur TP.HCM", source="test", actor="test", now=clock(),
            sites=None,
        )  # fmt: skip
    texts = await citizen.say("/ketqua")
    assert "ÂM TÍNH" in texts[0]


async def test_lookup_by_tube_and_by_id_needs_the_birth_date(
    citizen: Citizen, svc: Service, clock: Clock
) -> None:
    relative = await add_relative(svc)
    await sample_and_result(svc, clock, [relative], "HCM-000777", "positive")
    await citizen.say("/tracuu")
    await citizen.press("Theo mã ống")
    await citizen.say("hcm-000777")
    texts = await citizen.say("16/03/1958")  # wrong date of birth
    assert "Trần Thị Bình" not in texts[0] and "DƯƠNG TÍNH" not in texts[0]
    wrong_tube = texts[0]
    await citizen.say("/tracuu")
    await citizen.press("Theo mã ống")
    await citizen.say("HCM-999999")  # no such tube: the very same answer
    assert (await citizen.say("15/03/1958"))[0] == wrong_tube
    await citizen.say("/tracuu")
    await citizen.press("Theo mã ống")
    await citizen.say("HCM-000777")
    texts = await citizen.say("15/03/1958")
    assert "Trần Thị Bình" in texts[0] and "DƯƠNG TÍNH" in texts[0]
    await citizen.say("/tracuu")
    await citizen.press("Theo số định danh")
    await citizen.say("079 158 000 123")
    texts = await citizen.say("15.03.1958")
    assert "DƯƠNG TÍNH" in texts[0] and "1900 9095" in texts[0]


async def test_the_sixth_failed_lookup_is_refused_with_the_wait(
    citizen: Citizen, svc: Service, clock: Clock
) -> None:
    for _ in range(5):
        await citizen.say("/tracuu")
        await citizen.press("Theo số định danh")
        await citizen.say("079158000123")
        await citizen.say("01/01/1950")
    texts = await citizen.say("/tracuu")
    assert "60 phút" in texts[0]
    async with svc.db.read_scope() as session:
        assert await session.scalar(select(func.count()).select_from(LookupFailure)) == 5
    clock.advance(timedelta(minutes=61))
    texts = await citizen.say("/tracuu")
    assert citizen.buttons() == ["Theo mã ống", "Theo số định danh"]


async def notices_to(svc: Service, chat_id: str) -> list[str]:
    async with svc.db.read_scope() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id)
            .order_by(OutboxMessage.id)
        )
        return [row.body["text"] for row in rows]


async def test_results_are_pushed_in_each_persons_language(svc: Service, clock: Clock) -> None:
    vi = await add_relative(svc, "vi-chat")
    en = await add_relative(svc, "en-chat", locale="en", number="079190012346")
    await sample_and_result(svc, clock, [vi, en], "HCM-000100", "positive")
    told_vi, told_en = await notices_to(svc, "vi-chat"), await notices_to(svc, "en-chat")
    assert "mẫu gộp" in told_vi[0] and "mẫu gộp" in told_vi[1] and "DƯƠNG TÍNH" in told_vi[1]
    assert "pooled sample" in told_en[1] and "POSITIVE" in told_en[1]
    async with svc.db.session_scope() as session:  # the lab corrects its result
        outcome = await record_result(
            session, tube_code="HCM-000100", result="negative", tested_at=clock(),
            lab="Viện Pasteur TP.HCM", source="test", actor="test", now=clock(),
            sites=None, correction="the pool was re-run: the first run was contaminated",
        )  # fmt: skip
    assert outcome == "corrected"
    told_vi, told_en = await notices_to(svc, "vi-chat"), await notices_to(svc, "en-chat")
    assert told_vi[2].startswith("ĐÍNH CHÍNH") and "ÂM TÍNH" in told_vi[2]
    assert told_en[2].startswith("Correction") and "NEGATIVE" in told_en[2]
    assert len(told_vi) == len(told_en) == 3


async def test_an_old_file_after_a_correction_changes_nothing(svc: Service, clock: Clock) -> None:
    person = await add_relative(svc, "c-1")
    await sample_and_result(svc, clock, [person], "HCM-000200", None)
    first = clock() - timedelta(minutes=30)

    async def send(result: str, lab: str = "Viện Pasteur TP.HCM", at=None, correction=None) -> str:
        async with svc.db.session_scope() as session:
            return await record_result(
                session, tube_code="HCM-000200", result=result, tested_at=at or first, lab=lab,
                source="test", actor="test", now=clock(), sites=None, correction=correction,
            )  # fmt: skip

    assert await send("positive") == "added"
    assert await send("negative", at=clock(), correction="sample mix-up") == "corrected"
    assert await send("positive") == "unchanged"  # yesterday's file again
    # A typo fixed is a correction too, with its reason (told to nobody: the result is the same)
    assert await send("negative", lab="Pasteur HCM", at=clock()) == "needs_correction"
    typo = "lab name typo"
    assert await send("negative", lab="Pasteur HCM", at=clock(), correction=typo) == "corrected"
    told = await notices_to(svc, "c-1")
    assert len(told) == 3  # sample taken, positive, the correction; not the re-run nor the typo
    assert await send("negative", at=clock() - timedelta(days=3)) == "before_sample"


async def test_lookup_locks_a_target_whatever_the_chat(svc: Service, clock: Clock) -> None:
    relative = await add_relative(svc)
    await sample_and_result(svc, clock, [relative], "HCM-000300", "negative")
    for chat in range(5):  # five different browsers guess the birth date
        guesser = Citizen(svc, chat_id=f"guesser-{chat}")
        await guesser.consent()
        await guesser.say("/tracuu")
        await guesser.press("Theo mã ống")
        await guesser.say("HCM-000300")
        await guesser.say(f"0{chat + 1}/01/1950")
    lucky = Citizen(svc, chat_id="lucky")
    await lucky.consent()
    await lucky.say("/tracuu")
    await lucky.press("Theo mã ống")
    await lucky.say("HCM-000300")
    texts = await lucky.say("15/03/1958")  # right, but the tube is locked for today
    assert "ÂM TÍNH" not in texts[0] and "Không tìm thấy" in texts[0]


async def test_erasing_the_chat_does_not_reset_its_failed_lookups(citizen: Citizen) -> None:
    for _ in range(5):
        await citizen.say("/tracuu")
        await citizen.press("Theo số định danh")
        await citizen.say("079158000123")
        await citizen.say("01/01/1950")
    await citizen.say("/xoadulieu")
    await citizen.press("Xóa dữ liệu")
    await citizen.consent()
    texts = await citizen.say("/tracuu")
    assert "phút" in texts[0]


async def test_lookup_by_id_does_not_tell_who_is_registered(
    citizen: Citizen, svc: Service
) -> None:
    await add_relative(svc)  # registered, never tested
    await citizen.say("/tracuu")
    await citizen.press("Theo số định danh")
    await citizen.say("079158000123")
    texts = await citizen.say("15/03/1958")
    assert "Trần Thị Bình" not in texts[0] and "Không tìm thấy" in texts[0]


async def test_kept_records_of_an_erased_account_take_no_new_sample(
    citizen: Citizen, svc: Service, clock: Clock
) -> None:
    await register_identity(citizen)
    async with svc.db.read_scope() as session:
        person = await session.scalar(select(Person))
    assert person is not None
    await sample_and_result(svc, clock, [person], "HCM-000400", "negative")
    token = qr_tokens.issue(svc.protector, person.id, now=clock())
    await citizen.say("/xoadulieu")
    await citizen.press("Xóa dữ liệu")
    async with svc.db.session_scope() as session:
        kept = await session.get(Person, person.id)
        assert kept is not None and kept.account_id is None  # a PCR record is kept
        outcome = await record_sample(
            session, svc.protector, tube_code="HCM-000401", tokens=[token], site_id=None,
            taken_by=None, actor="test", now=clock(),
        )  # fmt: skip
    assert [problem for _index, problem in outcome.problems] == ["unknown_person"]


async def test_a_child_can_get_a_sampling_qr(citizen: Citizen) -> None:
    await citizen.say("/maqr")
    await citizen.press("Người thân")
    await citizen.say("Nguyễn Bé Na")
    texts = await citizen.say("05/06/2016")
    assert "Chủ Nhật, 05/06/2016" in texts[0]


async def test_a_tube_lost_for_three_days_does_not_block_a_new_sample(
    svc: Service, clock: Clock
) -> None:
    person = await add_relative(svc)
    await sample_and_result(svc, clock, [person], "HCM-000500", None)
    async with svc.db.session_scope() as session:
        token = qr_tokens.issue(svc.protector, person.id, now=clock())
        blocked = await record_sample(
            session, svc.protector, tube_code="HCM-000501", tokens=[token], site_id=None,
            taken_by=None, actor="test", now=clock(),
        )  # fmt: skip
    assert [problem for _index, problem in blocked.problems] == ["in_open_tube"]
    clock.advance(timedelta(days=3, minutes=1))
    async with svc.db.session_scope() as session:
        token = qr_tokens.issue(svc.protector, person.id, now=clock())
        again = await record_sample(
            session, svc.protector, tube_code="HCM-000502", tokens=[token], site_id=None,
            taken_by=None, actor="test", now=clock(),
        )  # fmt: skip
    assert again.created


async def test_booking_later_asks_the_priority_group_a_qr_registration_skipped(
    citizen: Citizen, svc: Service, clock: Clock
) -> None:
    from tests.registration_fixtures import add_sites

    await add_sites(svc.db, clock())
    await register_identity(citizen)
    await citizen.say("/dangky")
    await citizen.press("Nguyen Van An")
    texts = await citizen.last_texts()
    assert "nhóm ưu tiên" in texts[-1] and citizen.buttons()[:2] == ["1", "2"]
    await citizen.press("5")
    for _ in range(9):
        await citizen.say("khong")
    for _ in range(3):
        await citizen.press(citizen.buttons()[0])
    await citizen.press("Xác nhận")
    async with svc.db.read_scope() as session:
        person = await session.scalar(select(Person))
    assert person is not None and person.priority_group == "nq21-5"
