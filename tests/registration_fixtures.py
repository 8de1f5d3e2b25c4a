"""Sites and slots for registration tests, and a citizen walked through the form."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Service
from bot.domain.doses import DoseEntry, record_dose
from bot.domain.identity import id_index
from bot.handlers.privacy import CONSENT_VERSION
from bot.i18n import TIMEZONE
from storage import accounts
from storage.db import Database
from storage.models import Account, Booking, Person, Site, Slot
from tests.clock import START
from tests.webchat import Citizen

BEN_THANH = 26743
HCM = 79
SITE = "BT-01"
OTHER_SITE = "SG-01"


async def add_sites(db: Database, now: datetime, *, capacity: int = 20) -> list[int]:
    """Two sites in HCMC (Bến Thành ward and Sài Gòn ward) with slots on the next 3 days.

    Returns:
        The slot ids of the Bến Thành site, earliest first.
    """
    ids: list[int] = []
    async with db.session_scope() as session:
        session.add(
            Site(
                id=SITE,
                name="Trạm Y tế phường Bến Thành",
                address="186 Lê Thánh Tôn",
                province_code=HCM,
                ward_code=BEN_THANH,
                active=True,
            )
        )
        session.add(
            Site(
                id=OTHER_SITE,
                name="Trung tâm Y tế Sài Gòn",
                address="1 Nguyễn Huệ",
                province_code=HCM,
                ward_code=26740,
                active=True,
            )
        )
        await session.flush()
        today = now.astimezone(TIMEZONE).date()
        for offset in (1, 2, 3):
            for site in (SITE, OTHER_SITE):
                for hour in (8, 9):
                    start = datetime.combine(today + timedelta(days=offset), time(hour), TIMEZONE)
                    slot = Slot(
                        site_id=site,
                        starts_at=start,
                        ends_at=start + timedelta(hours=1),
                        capacity=capacity,
                        booked=0,
                    )
                    session.add(slot)
                    await session.flush()
                    if site == SITE:
                        ids.append(slot.id)
    return ids


ANSWERS_SELF = {
    "name": "Nguyen Van An",
    "dob": "2/1/90",
    "gender": "Nam",
    "id": "079 090 012 345",
    "phone": "0912 345 678",
    "province": "tphcm",
    "ward": "ben thanh",
}


async def step_of(citizen: Citizen) -> str | None:
    """The registration step the citizen's conversation waits on (None outside the form)."""
    _account, saved, _events = await citizen.state()
    return saved.step if saved is not None and saved.flow == "register" else None


async def fill_person(citizen: Citizen, who: str = "Bản thân tôi", **answers: str) -> None:
    """From the menu to the site question, answering every field the form asks validly.

    The gender is read from the ID number and a relative's address is the holder's: those
    are answered only if asked.
    """
    values = {**ANSWERS_SELF, **answers}
    await citizen.say("dang ky tiem")
    await citizen.press(who)
    typed = {"name": "name", "dob": "dob", "id": "id", "phone": "phone"}
    typed |= {"province": "province", "ward": "ward"}
    named = False
    while (step := await step_of(citizen)) != "screen":
        if step == "name" and named:  # a name without diacritics is confirmed once
            await citizen.say("có")
        elif step in typed:
            named = named or step == "name"
            await citizen.say(values[typed[step]])
        elif step == "gender":
            await citizen.press(values["gender"])
        elif step == "group":
            await citizen.say("5")
        else:
            raise AssertionError(f"fill_person: unexpected step {step}")
    await answer_screening(citizen)


SCREEN_LIST_MARK = "• "


async def answer_screening(citizen: Citizen, answer: str = "khong") -> int:
    """Answer the screening (8 or 9 questions: by sex and age); how many there were.

    "khong" answers the whole list at once ("none of these apply"); any other answer is given
    to each question, one by one.
    """
    texts = await citizen.last_texts()
    listed = sum(line.startswith(SCREEN_LIST_MARK) for t in texts for line in t.splitlines())
    if answer == "khong" and listed:
        await citizen.say(answer)
        return listed
    if listed:
        await citizen.press("Có hoặc không rõ: trả lời từng câu")
    asked = 0
    while any(text.startswith("Câu ") for text in await citizen.last_texts()):
        await citizen.say(answer)
        asked += 1
    return asked


async def book_first(citizen: Citizen) -> list[str]:
    """Choose the first site, day and time offered, then confirm; the confirmation texts."""
    while await step_of(citizen) in ("site", "day", "slot"):
        await citizen.press(citizen.buttons()[0])
    return await citizen.press("Xác nhận")


async def consenting_account(
    session: AsyncSession,
    chat_id: str,
    *,
    channel: str = "web",
    locale: str = "vi",
    now: datetime = START,
) -> Account:
    """A chat's account that has agreed to the terms, as every citizen who registers has."""
    account, _state = await accounts.open_chat(
        session, channel=channel, chat_id=chat_id, user_id=chat_id, locale=locale, now=now
    )
    await accounts.record_consent(session, account, version=CONSENT_VERSION, granted=True, now=now)
    return account


async def give_first_dose(
    svc: Service,
    now: datetime,
    given: date,
    site: str | None,
    *,
    name: str = ANSWERS_SELF["name"],
    with_booking: bool = False,
) -> None:
    """Record dose 1 (AstraZeneca) of the registered person `name`, with their booking if asked."""
    async with svc.db.session_scope() as session:
        person = await session.scalar(select(Person).where(Person.full_name == name))
        assert person is not None
        booking = (
            await session.scalar(select(Booking).where(Booking.person_id == person.id))
            if with_booking
            else None
        )
        await record_dose(
            session,
            DoseEntry(person, 1, "astrazeneca", "AZ1", given, site, booking),
            source="chat", actor="test", staff_id=None, site_name=None,
            authority=svc.authority, now=now,
        )  # fmt: skip


# The one answer to an ID number that cannot be registered here, whoever holds it (issue 14).
REFUSED = (
    "Số định danh này không thể đăng ký tại đây. Nếu đây là số của bạn hoặc người nhà, bạn vui "
    "lòng chọn “Hỗ trợ” để được nhân viên giúp đỡ. Bạn cũng có thể gõ một số định danh khác."
)
HOLDER_PHONE = "+84912345678"


async def add_holder(svc: Service, number: str, *, chat_id: str | None) -> None:
    """A person holding `number`: on a Telegram chat's account with a phone, or kept alone."""
    protector = svc.protector
    async with svc.db.session_scope() as session:
        account = (
            await consenting_account(session, chat_id, channel="telegram") if chat_id else None
        )
        if account is not None:
            account.phone_sealed = protector.seal(HOLDER_PHONE)
        session.add(
            Person(
                account_id=account.id if account else None,
                full_name="Lê Văn Cư",
                birth_date=date(1958, 3, 15),
                gender="male",
                id_sealed=protector.seal(number),
                id_index=id_index(protector, number),
                phone_sealed=protector.seal(HOLDER_PHONE),
                province_code=79,
                ward_code=26743,
                divisions_version="x",
                priority_group="",
                is_holder=True,
            )
        )
