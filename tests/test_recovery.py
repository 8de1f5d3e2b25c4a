"""A way back in: "this ID number is mine" from a chat that lost its account (issue 16, item 5).

A citizen registered on Telegram opens the web chat (or lost their web chat's cookie), types
their own ID number, is refused, and says the number is theirs: a code goes to the chats it
was registered from, and the right code links the chats. No code, wrong codes or too many
requests end in a recovery ticket that staff resolve in the console (`move`, here and in
tests/browser/test_console_recovery.py). A stranger learns nothing more than before.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Service
from bot.config import Settings
from bot.domain import account_recovery
from bot.domain.identity import id_index
from storage.models import Account, AuditEvent, OutboxMessage, Person, Ticket, TicketEntry
from tests.chat import consent as telegram_consent
from tests.conftest import Clock
from tests.console import StaffBrowser, add_sites, add_staff
from tests.fakes.telegram_api import TelegramEmulator
from tests.fakes.zalo_api import ZaloEmulator
from tests.inbox import add_ticket
from tests.quiet import quiet
from tests.registration_fixtures import REFUSED, add_holder, consenting_account
from tests.test_linking import CHAT as LINK_CHAT
from tests.test_linking import PHONE, telegram_citizen
from tests.test_zalo_e2e import USER as ZALO_USER
from tests.test_zalo_e2e import serving, zalo_account
from tests.webchat import MENU, Citizen

CHAT = 5252
NUMBER = "079158000123"
MINE = "Đây là số của tôi"
SENT = (
    "Nếu số định danh này là của bạn, chúng tôi vừa gửi một mã gồm 6 chữ số tới các cuộc trò "
    "chuyện đã dùng để đăng ký số này. Bạn vui lòng nhập mã tại đây trong vòng 15 phút."
)
CASE = "Nhân viên hỗ trợ sẽ kiểm tra số định danh này có đúng là của bạn không"
CODE_TEXT = "Mã để mở hồ sơ của Lê Văn Cư ở một cuộc trò chuyện khác: "


async def type_own_id(citizen: Citizen, number: str = NUMBER) -> list[str]:
    """Start registering a relative and type an ID number; the answers to it."""
    await citizen.say("/dangky")
    await citizen.press("Người thân")
    await citizen.say("Lê Văn Cư")
    await citizen.say("15/03/1958")
    return await citizen.say(number)  # the ID comes next (the gender is read from it)


async def telegram_holder(service: Service, emulator: TelegramEmulator) -> int:
    """Lê Văn Cư registered on the Telegram chat `CHAT`; his person's id."""
    await telegram_consent(emulator, CHAT)
    protector = service.protector
    async with service.db.session_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == str(CHAT)))
        assert account is not None
        person = Person(
            account_id=account.id,
            full_name="Lê Văn Cư",
            birth_date=date(1958, 3, 15),
            gender="male",
            id_sealed=protector.seal(NUMBER),
            id_index=id_index(protector, NUMBER),
            province_code=79,
            ward_code=26743,
            divisions_version="x",
            priority_group="",
            is_holder=True,
        )
        session.add(person)
        await session.flush()
        return person.id


async def code_from(emulator: TelegramEmulator, before: int) -> str:
    (message,) = (await emulator.wait_for_sent(CHAT, before + 1))[before:]
    assert message["text"].startswith(CODE_TEXT)
    return message["text"].removeprefix(CODE_TEXT)[:6]


async def audit(service: Service, action: str) -> list[AuditEvent]:
    async with service.db.read_scope() as session:
        return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_the_right_code_links_a_new_web_chat_with_the_telegram_records(
    service: Service, emulator: TelegramEmulator
) -> None:
    person_id = await telegram_holder(service, emulator)
    web = Citizen(service, "new-browser")
    await web.consent()
    assert await type_own_id(web) == [REFUSED]
    assert web.buttons() == [MINE, "Hỗ trợ", "Quay lại"]
    before = len(emulator.sent(CHAT))
    (sent,) = await web.press(MINE)
    assert sent.startswith(SENT) and web.buttons() == ["Tôi không nhận được mã"]
    code = await code_from(emulator, before)
    wrong = "000000" if code != "000000" else "111111"
    assert await web.say(wrong) == ["Mã chưa đúng. Bạn vui lòng kiểm tra và nhập lại 6 chữ số."]
    (done,) = await web.say(code)
    assert done.startswith("Xong: hồ sơ của Lê Văn Cư nay đã có ở cuộc trò chuyện này")
    assert web.buttons() == MENU
    (again,) = await web.say(code)  # the code works once: now it is just text
    assert "Xong" not in again

    async with service.db.read_scope() as session:
        telegram = await session.scalar(select(Account).where(Account.chat_id == str(CHAT)))
        browser = await session.scalar(select(Account).where(Account.chat_id == "new-browser"))
        person = await session.get(Person, person_id)
    assert telegram is not None and browser is not None and person is not None
    assert telegram.holder_id == browser.id and person.account_id == browser.id
    (linked,) = await audit(service, account_recovery.LINKED)
    assert linked.subject == f"person:{person_id}"
    assert linked.detail == {"from": telegram.id, "to": browser.id, "by": "code"}
    texts = await web.say("/lienket")  # and the link shows like any other
    assert texts[0].startswith("Cuộc trò chuyện này đã được liên kết: Telegram, web")


async def test_no_chat_to_reach_gets_the_same_answer_and_wrong_codes_open_a_case(
    svc: Service,
) -> None:
    await add_holder(svc, NUMBER, chat_id=None)  # kept after its account was erased
    web = Citizen(svc, "stranger-or-owner")
    await web.consent()
    await type_own_id(web)
    (sent,) = await web.press(MINE)
    assert sent.startswith(SENT)  # word for word as when a code was sent
    async with svc.db.read_scope() as session:
        others = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id != "stranger-or-owner")
        )
        assert list(others) == []
    (asked,) = await audit(svc, account_recovery.CODE_SENT)  # staff can see it went nowhere
    assert asked.detail["chats"] == 0
    assert (await web.say("123456"))[0].startswith("Mã chưa đúng.")
    assert (await web.say("654321"))[0].startswith("Mã chưa đúng.")
    (case,) = await web.say("111111")  # the last try: staff check instead
    assert case.startswith(CASE) and web.buttons() == ["Kết thúc"]
    async with svc.db.read_scope() as session:
        ticket = await session.scalar(select(Ticket))
        person = await session.scalar(select(Person))
    assert ticket is not None and person is not None
    assert ticket.recovery_person_id == person.id and ticket.status == "open"
    assert (
        ticket.reason
        == "Lấy lại tài khoản: người dân cho biết số định danh 0791******23 là của mình"
    )
    await web.say("Tôi mất trình duyệt cũ")  # what they write now goes to staff
    async with svc.db.read_scope() as session:
        written = list(await session.scalars(select(TicketEntry.text)))
    assert "Tôi mất trình duyệt cũ" in written


async def test_codes_are_limited_per_id_number_then_staff_check(
    service: Service, emulator: TelegramEmulator
) -> None:
    await telegram_holder(service, emulator)
    for n in range(3):  # three chats ask for codes for the same number
        web = Citizen(service, f"asker-{n}")
        await web.consent()
        await type_own_id(web)
        (sent,) = await web.press(MINE)
        assert sent.startswith(SENT)
    fourth = Citizen(service, "asker-3")
    await fourth.consent()
    await type_own_id(fourth)
    (case,) = await fourth.press(MINE)
    assert case.startswith(CASE)
    await quiet(service, emulator)
    codes = [m for m in emulator.sent(CHAT) if m["text"].startswith(CODE_TEXT)]
    assert len(codes) == 3


async def test_codes_are_limited_per_chat(svc: Service) -> None:
    for n in range(4):
        await add_holder(svc, f"07915800013{n}", chat_id=f"tg-{n}")
    web = Citizen(svc, "one-chat")
    await web.consent()
    for n in range(3):
        await type_own_id(web, f"07915800013{n}")
        (sent,) = await web.press(MINE)
        assert sent.startswith(SENT)
        await web.say("/huy")
    await type_own_id(web, "079158000133")
    (case,) = await web.press(MINE)
    assert case.startswith(CASE)


async def test_an_expired_code_no_longer_works_and_a_new_one_can_be_sent(
    service: Service, emulator: TelegramEmulator, clock: Clock
) -> None:
    await telegram_holder(service, emulator)
    web = Citizen(service, "slow-browser")
    await web.consent()
    await type_own_id(web)
    before = len(emulator.sent(CHAT))
    await web.press(MINE)
    code = await code_from(emulator, before)
    clock.advance(timedelta(minutes=16))
    assert await web.say(code) == ["Mã đã hết hạn."]
    assert web.buttons() == ["Gửi mã mới", "Tôi không nhận được mã"]
    assert (await web.say(code)) == ["Mã đã hết hạn."]  # still nothing to match
    before = len(emulator.sent(CHAT))
    (sent,) = await web.press("Gửi mã mới")
    assert sent.startswith(SENT)
    fresh = await code_from(emulator, before)
    (done,) = await web.say(fresh)
    assert done.startswith("Xong:")


async def test_a_zalo_chat_gets_the_code_as_its_template_outside_the_window(svc: Service) -> None:
    protector = svc.protector
    async with svc.db.session_scope() as session:
        zalo = await consenting_account(session, "z-1", channel="zalo")
        session.add(
            Person(
                account_id=zalo.id,
                full_name="Lê Văn Cư",
                birth_date=date(1958, 3, 15),
                gender="male",
                id_sealed=protector.seal(NUMBER),
                id_index=id_index(protector, NUMBER),
                province_code=79,
                ward_code=26743,
                divisions_version="x",
                priority_group="",
            )
        )
    web = Citizen(svc, "browser")
    await web.consent()
    await type_own_id(web)
    await web.press(MINE)
    async with svc.db.read_scope() as session:
        (row,) = await session.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == "z-1"))
    assert row.bulk and row.body["template"] == account_recovery.TEMPLATE
    assert row.body["text"].startswith(CODE_TEXT)
    assert row.body["template_data"] == {"code": row.body["text"].removeprefix(CODE_TEXT)[:6]}


async def test_staff_move_gives_the_person_to_the_ticket_chat_once_audited(svc: Service) -> None:
    await add_holder(svc, NUMBER, chat_id="tg-old")
    web = Citizen(svc, "browser")
    await web.consent()
    await type_own_id(web)
    await web.press(MINE)
    (case,) = await web.press("Tôi không nhận được mã")
    assert case.startswith(CASE)
    async with svc.db.session_scope() as session:
        ticket = await session.scalar(select(Ticket))
        assert ticket is not None
        moved = await account_recovery.move(session, ticket, actor="staff:1", now=svc.clock())
        again = await account_recovery.move(session, ticket, actor="staff:1", now=svc.clock())
    assert (moved, again) == (account_recovery.Moved.MOVED, account_recovery.Moved.ALREADY)
    async with svc.db.read_scope() as session:
        person = await session.scalar(select(Person))
        browser = await session.scalar(select(Account).where(Account.chat_id == "browser"))
        old = await session.scalar(select(Account).where(Account.chat_id == "tg-old"))
        entries = list(await session.scalars(select(TicketEntry.text)))
    assert person is not None and browser is not None and old is not None
    assert person.account_id == browser.id and old.holder_id is None
    assert account_recovery.MOVED_ENTRY in entries
    (event,) = await audit(svc, account_recovery.MOVED)
    assert event.actor == "staff:1"
    assert event.detail == {"from": old.id, "to": browser.id, "ticket": ticket.id}
    async with svc.db.read_scope() as session:
        told = await session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == "browser")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        code, left = await session.scalars(  # the code asked for, then the move
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == "tg-old")
            .order_by(OutboxMessage.id)
        )
    assert told is not None
    assert told.body["text"].startswith("Nhân viên hỗ trợ đã kiểm tra số định danh của bạn")
    assert code.body["text"].startswith(CODE_TEXT)
    assert left.body["text"].startswith("Theo yêu cầu của chủ số định danh của Lê Văn Cư")


async def test_a_web_chat_links_to_telegram_with_lienket(
    service: Service, emulator: TelegramEmulator
) -> None:
    await telegram_citizen(service, emulator)  # with a phone number on record
    web = Citizen(service, "linking-browser")
    await web.consent()
    (ask,) = await web.say("/lienket")
    assert ask.startswith("Bạn có thể dùng dịch vụ trên Telegram, Zalo và trang trò chuyện")
    before = len(emulator.sent(LINK_CHAT))
    (sent,) = await web.say(PHONE)
    assert sent.startswith("Nếu số này đã được lưu ở cuộc trò chuyện kia")
    (message,) = (await emulator.wait_for_sent(LINK_CHAT, before + 1))[before:]
    prefix = "Mã liên kết cuộc trò chuyện web với cuộc trò chuyện này: "
    assert message["text"].startswith(prefix)
    (done,) = await web.say(message["text"].removeprefix(prefix)[:6])
    assert done.startswith(
        "Xong: cuộc trò chuyện này đã được liên kết với cuộc trò chuyện Telegram"
    )
    async with service.db.read_scope() as session:
        browser = await session.scalar(select(Account).where(Account.chat_id == "linking-browser"))
    assert browser is not None and browser.holder_id is not None


async def test_a_zalo_chat_outside_its_window_gets_the_code_by_template(
    zalo_settings: Settings, clock: Clock, zemu: ZaloEmulator
) -> None:
    templates = {**zalo_settings.zalo_templates, "recovery_code": ("tpl-recover", {"otp": "code"})}
    zemu.add_template("tpl-recover", ["otp"])
    async with serving(replace(zalo_settings, zalo_templates=templates), clock, zemu) as service:
        account = await zalo_account(service)
        protector = service.protector
        async with service.db.session_scope() as session:
            session.add(
                Person(
                    account_id=account.id,
                    full_name="Lê Văn Cư",
                    birth_date=date(1958, 3, 15),
                    gender="male",
                    id_sealed=protector.seal(NUMBER),
                    id_index=id_index(protector, NUMBER),
                    province_code=79,
                    ward_code=26743,
                    divisions_version="x",
                    priority_group="",
                )
            )
        zemu.add_follower(ZALO_USER)
        zemu.expire_window(ZALO_USER)
        web = Citizen(service, "browser")
        await web.consent()
        await type_own_id(web)
        (sent,) = await web.press(MINE)
        assert sent.startswith(SENT)
        (template,) = await zemu.wait_for_templates(1)
        assert template["phone"] == "84912345678" and template["template_id"] == "tpl-recover"
        (done,) = await web.say(template["template_data"]["otp"])
        assert done.startswith("Xong: hồ sơ của Lê Văn Cư")


async def test_the_console_move_is_for_the_ticket_scope_with_csrf(svc: Service) -> None:
    await add_holder(svc, NUMBER, chat_id="tg-old")
    web = Citizen(svc, "browser")
    await web.consent()
    await type_own_id(web)
    await web.press(MINE)
    await web.press("Tôi không nhận được mã")
    plain = await add_ticket(svc, chat_id="5009")  # an ordinary ticket names nobody
    await add_sites(svc)
    for login, role in (("site", "site_staff"), ("support", "support")):
        await add_staff(svc, login, role, sites=("hcm-benthanh",) if role == "site_staff" else ())
    async with TestClient(TestServer(svc.web_app)) as client:
        site = StaffBrowser(client)
        assert await site.sign_in("site") == 303
        await site.get("/console/")
        assert await site.post("/console/inbox/1/recover") == 403
        support = StaffBrowser(client)
        assert await support.sign_in("support") == 303
        assert await support.get("/console/inbox/1") == 200
        assert "Đã xác minh: chuyển về cuộc trò chuyện này" in support.page
        assert NUMBER not in support.page and "0791******23" in support.page
        assert await support.post("/console/inbox/1/recover", csrf="forged") == 403
        async with svc.db.read_scope() as session:
            person = await session.scalar(select(Person))
        assert person is not None and person.account_id != (await web_account(svc)).id
        await support.get(f"/console/inbox/{plain}")
        assert "Đã xác minh" not in support.page
        assert await support.post(f"/console/inbox/{plain}/recover") == 409
        assert "Không phải trường hợp lấy lại tài khoản" in support.page
        await support.get("/console/inbox/1")
        assert await support.post("/console/inbox/1/recover") == 303
        assert await support.get("/console/inbox/1") == 200
        assert "Đã chuyển về cuộc trò chuyện này" in support.page
    async with svc.db.read_scope() as session:
        person = await session.scalar(select(Person).where(Person.full_name == "Lê Văn Cư"))
    assert person is not None and person.account_id == (await web_account(svc)).id


async def web_account(svc: Service) -> Account:
    async with svc.db.read_scope() as session:
        found = await session.scalar(select(Account).where(Account.chat_id == "browser"))
    assert found is not None
    return found
