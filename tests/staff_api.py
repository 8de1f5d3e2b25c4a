"""The staff API's callers in tests: sites, staff keys, registered citizens, requests by key.

Each helper takes the service, or the client the API is called through: a TestClient on a test
server, or a `tests.remote.Remote` on a running service.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.app import Service
from bot.domain import qr_tokens
from bot.domain.identity import id_index
from bot.i18n import TIMEZONE
from storage import staff
from storage.db import Database
from storage.models import OutboxMessage, Person, Site
from tests.registration_fixtures import consenting_account
from tests.remote import Remote

SITES = ("hcm-test", "hcm-other", "hcm-third")
LAB = "Viện Pasteur TP.HCM"
UNKNOWN = "unknown tube code (or not sampled at a site this lab serves)"
NEEDS_CORRECTION = "result already recorded; send a correction with a reason"
_numbers = itertools.count(12345)


async def add_sites(db: Database) -> None:
    async with db.session_scope() as session:
        for site_id in SITES:
            session.add(
                Site(
                    id=site_id,
                    name=f"Trạm Y tế {site_id}",
                    address="1 Lê Lợi",
                    province_code=79,
                    ward_code=26743,
                    active=True,
                )
            )


async def make_key(
    svc: Service, role: str, *sites: str, user_id: str = "", lab: str | None = LAB
) -> str:
    """A staff role with a fresh API key (a lab role bound to `lab`); the key."""
    async with svc.db.session_scope() as session:
        member = await staff.add_staff(
            session,
            channel="web",
            user_id=user_id or f"{role}-1",
            role=role,
            name=f"Máy {role}",
            wards=[],
            sites=list(sites),
            lab=lab if role == "lab" else None,
            now=svc.clock(),
        )
        return await staff.issue_api_key(session, member)


async def register(
    svc: Service, name: str = "Nguyễn Văn An", *, chat_id: str = "", locale: str = "vi"
) -> tuple[int, int]:
    """A citizen's web-chat account holding one registered person; (account id, person id)."""
    number = f"079190{next(_numbers):06d}"
    async with svc.db.session_scope() as session:
        account = await consenting_account(session, chat_id or f"chat-{number}", locale=locale)
        person = Person(
            account_id=account.id,
            full_name=name,
            birth_date=date(1990, 3, 1),
            gender="male",
            id_sealed=svc.protector.seal(number),
            id_index=id_index(svc.protector, number),
            province_code=79,
            ward_code=26743,
            divisions_version="test",
            priority_group="general",
            is_holder=True,
        )
        session.add(person)
        await session.flush()
        return account.id, person.id


async def notices_of(svc: Service, account_id: int) -> list[str]:
    """The texts queued to an account, oldest first."""
    async with svc.db.read_scope() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.account_id == account_id)
            .order_by(OutboxMessage.id)
        )
        return [row.body["text"] for row in rows]


def token(svc: Service, person_id: int, *, now: datetime | None = None) -> str:
    return qr_tokens.issue(svc.protector, person_id, now=now or svc.clock())


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def local(moment: datetime) -> str:
    """A tested_at as a lab writes it: Vietnam time, no offset."""
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")


async def post(
    client: TestClient | Remote, path: str, key: str, body: Any, *, status: int
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=bearer(key))
    answer = await response.json()
    assert response.status == status, answer
    return dict(answer)


async def sample_at(svc: Service, client: TestClient | Remote, code: str, site: str) -> int:
    """A tube of one new citizen sampled at `site`; the citizen's account id."""
    sampler = await make_key(svc, "sampler", site, user_id=f"sampler-{code}")
    account_id, person_id = await register(svc, chat_id=f"chat-{code}")
    body = {"tube_code": code, "tokens": [token(svc, person_id)], "site_id": site}
    await post(client, "/api/samples", sampler, body, status=201)
    return account_id


def result_row(svc: Service, code: str, result: str, **extra: Any) -> dict[str, Any]:
    """A result row as today's lab systems send it: with a `lab` (which is ignored)."""
    tested = local(svc.clock() - timedelta(minutes=30))
    return {"tube_code": code, "result": result, "tested_at": tested, "lab": LAB, **extra}
