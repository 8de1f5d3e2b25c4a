"""The console's queue of dose-record corrections (issue 16.7): scoped to the recording site's
staff, decisions audited and told to the citizen, photos opened only in scope (and audited)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import date

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Service
from bot.domain.certificate_issuing import issue_for_dose
from bot.domain.dose_corrections import request_correction
from storage.models import (
    Account,
    AuditEvent,
    Certificate,
    DoseCorrection,
    OutboxMessage,
    Person,
    Vaccination,
)
from tests.console import StaffBrowser, add_sites, add_staff

FORBIDDEN = "Ngoài phạm vi của bạn"
CARD = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    await add_sites(svc)
    await add_staff(svc, "admin", "admin")
    await add_staff(svc, "bt", "site_staff", sites=("hcm-benthanh",))
    await add_staff(svc, "sg", "site_staff", sites=("hcm-saigon",))
    await add_staff(svc, "ward", "ward_staff", wards=(26743,))
    await add_staff(svc, "support", "support")
    async with svc.db.session_scope() as session:
        account = Account(channel="web", chat_id="citizen-1", locale="vi",
                          consent_version="2026-11")  # fmt: skip
        session.add(account)
        await session.flush()
        person = Person(
            account_id=account.id, full_name="Nguyễn Thị Lan", birth_date=date(1958, 9, 2),
            gender="female", id_sealed=b"x", id_index="i-lan", province_code=79,
            ward_code=26743, divisions_version="test", priority_group="nq21-5",
        )  # fmt: skip
        session.add(person)
        await session.flush()
        for number, site in ((1, "hcm-benthanh"), (2, "hcm-saigon")):
            dose = Vaccination(person_id=person.id, dose_number=number, product="pfizer",
                               lot=f"PF{number}", given_on=date(2026, 11, number), site_id=site,
                               source="import")  # fmt: skip
            session.add(dose)
            await session.flush()
            await request_correction(
                session, dose=dose, account_id=account.id, problem=f"sai ngày mũi {number}",
                photo=CARD if number == 1 else None, protector=svc.protector, now=svc.clock(),
            )  # fmt: skip
    async with TestClient(TestServer(svc.web_app)) as client:
        yield client


async def _signed_in(client: TestClient, login: str) -> StaffBrowser:
    browser = StaffBrowser(client)
    assert await browser.sign_in(login) == 303
    return browser


@pytest.mark.parametrize(
    ("login", "seen"),
    [("admin", {1, 2}), ("bt", {1}), ("sg", {2}), ("ward", {1}), ("support", None)],
)
async def test_each_sees_the_queue_of_their_sites(
    client: TestClient, login: str, seen: set[int] | None
) -> None:
    browser = await _signed_in(client, login)
    status = await browser.get("/console/corrections")
    if seen is None:
        assert status == 403 and FORBIDDEN in browser.page
        return
    assert status == 200
    shown = {n for n in (1, 2) if f'id="correction-{n}"' in browser.page}
    assert shown == seen
    assert "Nguyễn Thị Lan" not in browser.page and "N. T. L." in browser.page


async def test_a_decision_is_scoped_audited_and_told(client: TestClient, svc: Service) -> None:
    other = await _signed_in(client, "sg")
    await other.get("/console/corrections")
    assert await other.post("/console/corrections/1", decision="accept") == 403
    assert await _photo_status(client, other, 1) == 403
    site = await _signed_in(client, "bt")
    assert await site.get("/console/corrections") == 200
    assert "#1 · Mũi 1 · Pfizer-BioNTech (Comirnaty) · " in site.page
    assert await _photo_status(client, site, 1) == 200
    status = await site.post("/console/corrections/1", decision="accept", note="Đã sửa ngày.")
    assert (status, site.location) == (303, "/console/corrections")
    await site.get("/console/corrections")
    assert 'id="correction-1"' not in site.page
    assert "Yêu cầu điều chỉnh thông tin mũi tiêm" in site.page
    assert "Không có yêu cầu nào đang chờ." in site.page
    async with svc.db.read_scope() as session:
        request = await session.get(DoseCorrection, 1)
        assert request is not None and request.status == "accepted"
        assert request.decided_by is not None and "console" in request.decided_by
        actions = [e.action for e in await session.scalars(select(AuditEvent))]
        told = [m.body.get("text") or "" for m in await session.scalars(select(OutboxMessage))
                if m.chat_id == "citizen-1"]  # fmt: skip
    assert "dose_correction_photo_viewed" in actions and "dose_correction_decided" in actions
    assert any(t.startswith("Yêu cầu điều chỉnh #1 về mũi tiêm của Nguyễn Thị Lan") and
               t.endswith("Ghi chú của điểm tiêm: Đã sửa ngày.") for t in told)  # fmt: skip


async def _photo_status(client: TestClient, browser: StaffBrowser, number: int) -> int:
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    response = await client.get(f"/console/corrections/{number}/photo", headers={"Cookie": cookie})
    return response.status


async def test_the_photo_is_the_one_sent(client: TestClient) -> None:
    site = await _signed_in(client, "bt")
    cookie = "; ".join(f"{k}={v}" for k, v in site.cookies.items())
    response = await client.get("/console/corrections/1/photo", headers={"Cookie": cookie})
    assert response.status == 200 and response.content_type == "image/png"
    assert await response.read() == CARD
    assert await _photo_status(client, site, 2) == 403  # another site's request


async def test_an_accepted_request_corrects_the_dose_and_reissues_its_certificate(
    client: TestClient, svc: Service
) -> None:
    async with svc.db.session_scope() as session:
        person = await session.scalar(select(Person))
        dose = await session.scalar(select(Vaccination).where(Vaccination.dose_number == 1))
        assert person is not None and dose is not None
        person.id_sealed = svc.protector.seal("079158012345")
        old = await issue_for_dose(
            session, svc.authority, person, dose, first_product="pfizer", now=svc.clock()
        )
        old_uvci = old.uvci
    site = await _signed_in(client, "bt")
    await site.get("/console/corrections")
    for wrong in ({"product": "no-such"}, {"lot": "<bad>"}, {"given_on": "2031-01-01"},
                  {"given_on": "31/02/2026"}):  # fmt: skip
        assert await site.post("/console/corrections/1", decision="accept", **wrong) == 303
        await site.get(site.location)
        assert 'role="alert"' in site.page and 'id="correction-1"' in site.page  # still open
    status = await site.post(
        "/console/corrections/1", decision="accept", lot="PF9", given_on="2026-11-03"
    )
    assert status == 303
    async with svc.db.read_scope() as session:
        corrected = await session.get(Vaccination, dose.id)
        revoked = await session.scalar(select(Certificate).where(Certificate.uvci == old_uvci))
        new = await session.scalar(select(Certificate).where(Certificate.replaces_id == old.id))
        trail = {e.action: e.detail for e in await session.scalars(select(AuditEvent))}
        told = [m.body.get("text") or "" for m in await session.scalars(select(OutboxMessage))
                if m.chat_id == "citizen-1"]  # fmt: skip
    assert corrected is not None and (corrected.product, corrected.lot) == ("pfizer", "PF9")
    assert corrected.given_on == date(2026, 11, 3)
    assert revoked is not None and revoked.revoked_at is not None and revoked.replaced_at
    assert new is not None and new.subject == f"dose:{dose.id}" and new.revoked_at is None
    assert trail["dose_corrected"]["before"]["lot"] == "PF1"
    assert trail["dose_corrected"]["after"]["given_on"] == "2026-11-03"
    assert any("thông tin mũi tiêm nay là" in t and "Giấy chứng nhận mới" in t for t in told)
