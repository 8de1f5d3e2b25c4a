"""A wrong dose record (issue 16.7): reported in the chat, routed to the site that recorded the
dose, decided by its staff (audited), and the citizen told in their language."""

from __future__ import annotations

import asyncio
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from bot.app import Service
from bot.domain.dose_corrections import (
    CorrectionProblem,
    CorrectionRefused,
    decide,
    photo_of,
)
from bot.domain.doses import DoseEntry, record_dose
from run_bot import main
from storage.db import Database
from storage.models import (
    Account,
    AuditEvent,
    DoseCorrection,
    OutboxMessage,
    Person,
    Site,
    Vaccination,
)
from tests.chat import consent, labels, press, say
from tests.clock import Clock
from tests.fakes.telegram_api import TelegramEmulator
from tests.quiet import quiet
from tests.registration_fixtures import (
    OTHER_SITE,
    SITE,
    add_sites,
    book_first,
    fill_person,
    give_first_dose,
)
from tests.webchat import Citizen

DOSE_1 = "Nguyen Van An · Mũi 1 · AstraZeneca"


@pytest.fixture
async def vaccinated(svc: Service, clock: Clock) -> Citizen:
    """A citizen whose first dose (AstraZeneca) the Bến Thành site recorded yesterday."""
    await add_sites(svc.db, clock())
    citizen = Citizen(svc)
    await citizen.consent()
    await fill_person(citizen)
    await book_first(citizen)
    clock.advance(timedelta(days=2))
    yesterday = clock().date() - timedelta(days=1)
    await give_first_dose(svc, clock(), yesterday, SITE, with_booking=True)
    return citizen


async def _requests(svc: Service) -> list[DoseCorrection]:
    async with svc.db.read_scope() as session:
        return list(await session.scalars(select(DoseCorrection).order_by(DoseCorrection.id)))


async def _report(citizen: Citizen, problem: str = "ngày tiêm sai, đúng là 04/12") -> list[str]:
    (question,) = await citizen.say("thông tin mũi tiêm của tôi bị sai")
    assert question == "Mũi tiêm nào bị ghi sai?"
    (dose_button,) = citizen.buttons()
    assert dose_button.startswith(DOSE_1)
    (what,) = await citizen.press(dose_button)
    assert what.startswith("Thông tin nào bị sai?")
    (photo,) = await citizen.say(problem)
    assert "gửi ảnh chụp phiếu" in photo and citizen.buttons() == ["Không có ảnh"]
    return await citizen.press("Không có ảnh")


async def test_a_wrong_record_is_reported_routed_decided_and_told(
    vaccinated: Citizen, svc: Service, clock: Clock
) -> None:
    (sent,) = await _report(vaccinated)
    assert sent.startswith("Yêu cầu #1 đã được gửi tới Trạm Y tế phường Bến Thành")
    (request,) = await _requests(svc)
    assert (request.status, request.site_id, request.photo_sealed) == ("open", SITE, None)
    assert request.problem == "ngày tiêm sai, đúng là 04/12"
    # Staff of another site neither see nor decide it; the site's staff do, once.
    async with svc.db.session_scope() as session:
        with pytest.raises(CorrectionRefused) as refused:
            await decide(session, request.id, accept=True, note="", actor="staff:2",
                         sites=[OTHER_SITE], now=clock())  # fmt: skip
        assert refused.value.problem is CorrectionProblem.NOT_FOUND
    async with svc.db.session_scope() as session:
        await decide(session, request.id, accept=True, note="Đã sửa ngày tiêm thành 04/12.",
                     actor="staff:1", sites=[SITE], now=clock())  # fmt: skip
    async with svc.db.session_scope() as session:
        with pytest.raises(CorrectionRefused) as refused:
            await decide(session, request.id, accept=False, note="", actor="staff:1",
                         sites=None, now=clock())  # fmt: skip
        assert refused.value.problem is CorrectionProblem.DECIDED
    async with svc.db.read_scope() as session:
        audit = (await session.scalars(select(AuditEvent).where(
            AuditEvent.action == "dose_correction_decided"))).all()  # fmt: skip
        told = [
            m.body["text"]
            for m in await session.scalars(select(OutboxMessage))
            if m.chat_id == vaccinated.chat_id and "#1" in (m.body.get("text") or "")
        ]
    assert [(a.actor, a.subject, a.detail["status"]) for a in audit] == [
        ("staff:1", "correction:1", "accepted")
    ]
    assert told[-1].startswith(
        "Yêu cầu điều chỉnh #1 về mũi tiêm của Nguyen Van An (Mũi 1 · AstraZeneca"
    )
    assert "đã được Trạm Y tế phường Bến Thành chấp nhận" in told[-1]
    assert told[-1].endswith("Ghi chú của điểm tiêm: Đã sửa ngày tiêm thành 04/12.")
    assert (await _requests(svc))[0].status == "accepted"


async def test_a_refusal_is_told_in_english_to_an_english_chat(
    vaccinated: Citizen, svc: Service, clock: Clock
) -> None:
    await _report(vaccinated)
    async with svc.db.session_scope() as session:
        chat_id = vaccinated.chat_id
        account = await session.scalar(select(Account).where(Account.chat_id == chat_id))
        assert account is not None
        account.locale = "en"
    async with svc.db.session_scope() as session:
        await decide(session, 1, accept=False, note="", actor="staff:1", sites=[SITE], now=clock())
    async with svc.db.read_scope() as session:
        texts = [m.body.get("text") or "" for m in await session.scalars(select(OutboxMessage))]
    assert any(t.startswith("Your correction request #1 about Nguyen Van An's dose") and
               "was not accepted by Trạm Y tế phường Bến Thành" in t for t in texts)  # fmt: skip


async def test_one_open_request_per_dose_and_words_are_needed(
    vaccinated: Citizen, svc: Service
) -> None:
    await _report(vaccinated)
    await vaccinated.say("thong tin mui tiem bi sai")
    await vaccinated.press(vaccinated.buttons()[0])
    (again,) = await vaccinated.say("ok")  # too short: asked again, nothing written
    assert again.startswith("Bạn vui lòng nói ngắn gọn")
    await vaccinated.say("sai loại vắc xin")
    (answer,) = await vaccinated.press("Không có ảnh")
    assert "đang chờ xử lý" in answer
    assert len(await _requests(svc)) == 1


async def test_nothing_to_correct_without_a_recorded_dose(svc: Service, clock: Clock) -> None:
    citizen = Citizen(svc)
    await citizen.consent()
    (answer,) = await citizen.say("sai ngày tiêm")
    assert answer.startswith("Tài khoản này chưa có mũi tiêm nào được ghi nhận")
    assert await _requests(svc) == []


def _card_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (90, 60), (240, 240, 240)).save(out, format="PNG")
    return out.getvalue()


async def _telegram_person_with_dose(svc: Service, chat: int, clock: Clock) -> None:
    async with svc.db.session_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == str(chat)))
        assert account is not None
        session.add(Site(id=SITE, name="Trạm Y tế phường Bến Thành", address="186 Lê Thánh Tôn",
                         province_code=79, ward_code=26743, active=True))  # fmt: skip
        person = Person(
            account_id=account.id, full_name="Trần Thị Lan", birth_date=date(1958, 9, 2),
            gender="female", id_sealed=b"x", id_index="index-lan", province_code=79,
            ward_code=26743, divisions_version="test", priority_group="nq21-5",
        )  # fmt: skip
        session.add(person)
        await session.flush()
    async with svc.db.session_scope() as session:
        lan = await session.get(Person, person.id)
        assert lan is not None
        await record_dose(
            session, DoseEntry(lan, 1, "pfizer", "PF1", date(2026, 11, 20), SITE),
            source="chat", actor="test", staff_id=None, site_name=None,
            authority=svc.authority, now=clock(),
        )  # fmt: skip


async def test_over_telegram_with_a_photo_of_the_paper_card(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    chat = 5151
    await consent(emulator, chat)
    await _telegram_person_with_dose(service, chat, clock)
    await quiet(service, emulator)  # the dose's notice is out
    question = await say(emulator, chat, "mui tiem cua toi bi ghi sai")
    assert question["text"] == "Mũi tiêm nào bị ghi sai?"
    (dose,) = labels(question)
    assert dose.startswith("Trần Thị Lan · Mũi 1 · ")
    await press(emulator, chat, question, dose)
    asked = await say(emulator, chat, "tôi tiêm Moderna chứ không phải Pfizer")
    assert labels(asked) == ["Không có ảnh"]
    before = len(emulator.sent(chat))
    card = _card_photo()
    emulator.user_photo(chat, card)
    (done,) = (await emulator.wait_for_sent(chat, before + 1))[before:]
    assert done["text"].startswith("Yêu cầu #1 đã được gửi tới Trạm Y tế phường Bến Thành")
    (request,) = await _requests(service)
    assert request.photo_sealed is not None and card not in request.photo_sealed
    assert photo_of(request, service.protector) == card


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv), clock=Clock())
    return code, capsys.readouterr().out.splitlines()


def _open_request(db_url: str) -> None:
    async def add() -> None:
        db = Database(db_url)
        try:
            async with db.session_scope() as session:
                account = Account(channel="web", chat_id="c1", locale="vi",
                                  consent_version="2026-11")  # fmt: skip
                session.add(account)
                session.add(Site(id=SITE, name="Trạm Y tế phường Bến Thành", address="1",
                                 province_code=79, ward_code=26743, active=True))  # fmt: skip
                await session.flush()
                person = Person(
                    account_id=account.id, full_name="Lê Văn Cường", birth_date=date(1980, 1, 1),
                    gender="male", id_sealed=b"x", id_index="i1", province_code=79,
                    ward_code=26743, divisions_version="test", priority_group="nq21-5",
                )  # fmt: skip
                session.add(person)
                await session.flush()
                dose = Vaccination(person_id=person.id, dose_number=2, product="moderna",
                                   lot="MD1", given_on=date(2026, 11, 2), site_id=SITE,
                                   source="import")  # fmt: skip
                session.add(dose)
                await session.flush()
                session.add(DoseCorrection(
                    vaccination_id=dose.id, person_id=person.id, account_id=account.id,
                    site_id=SITE, problem="sai số lô", status="open",
                    created_at=Clock()(),
                ))  # fmt: skip
        finally:
            await db.dispose()

    asyncio.run(add())


def test_cli_lists_the_site_queue_and_decides(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "corrections", "list")[1] == ["0 request(s)"]  # the schema is made
    _open_request(env)
    code, lines = _run(capsys, "corrections", "list", "--site", SITE)
    assert code == 0
    assert lines[0] == (
        f"#1\t{SITE}\tThứ Năm, 03/12/2026 lúc 09:00\tL. V. C.\t"
        "Mũi 2 · Moderna (Spikevax) · Thứ Hai, 02/11/2026\tsai số lô"
    )
    assert lines[-1] == "1 request(s)"
    assert _run(capsys, "corrections", "list", "--site", OTHER_SITE)[1] == ["0 request(s)"]
    assert _run(capsys, "corrections", "decide", "1", "--refuse", "--note", "Đúng lô MD1")[1] == [
        "#1: refused"
    ]
    assert _run(capsys, "corrections", "decide", "1", "--accept")[0] == 1
    assert _run(capsys, "corrections", "list", "--status", "refused")[1][-1] == "1 request(s)"


async def test_erasing_the_account_forgets_its_requests(vaccinated: Citizen, svc: Service) -> None:
    await _report(vaccinated)
    assert len(await _requests(svc)) == 1
    await vaccinated.say("/xoadulieu")
    await vaccinated.press("Xóa dữ liệu")
    assert await _requests(svc) == []
    async with svc.db.read_scope() as session:
        assert (await session.scalars(select(Vaccination))).all()  # the medical record stays
