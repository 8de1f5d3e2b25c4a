"""People, tubes and results for PCR tests, and a citizen looking a result up.

`look_up` goes through the dispatcher as a `Citizen`; `web_look_up` through the web chat's HTTP
routes as a `Browser` (on a test server or a running service).
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.app import Service
from bot.domain import qr_tokens
from bot.domain.identity import id_index
from bot.domain.results import record_result
from bot.domain.samples import record_sample
from bot.handlers.privacy import CONSENT_VERSION
from storage.models import Account, Person
from tests.conftest import Clock
from tests.webchat import Browser, Citizen, payload

RELATIVE_ID = "079158000123"


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


async def look_up(citizen: Citizen, method: str, value: str, born: str) -> str:
    """One whole lookup from /tracuu; the last answer."""
    await citizen.say("/tracuu")
    await citizen.press(method)
    await citizen.say(value)
    return (await citizen.say(born))[-1]


async def web_look_up(
    browser: Browser, tube: str, born: str, *, method: str = "Theo mã ống"
) -> str:
    """Open the chat, consent, and look a tube (or with `method`, an ID number) up; the last
    answer."""
    await browser.open()
    (welcome,) = await browser.say(text="/start")
    await browser.say(payload=payload(welcome, "Tôi đồng ý"))
    (asked,) = await browser.say(text="/tracuu")
    if "chờ" in asked["text"]:
        return str(asked["text"])
    await browser.say(payload=payload(asked, method))
    await browser.say(text=tube)
    return str((await browser.say(text=born))[-1]["text"])
