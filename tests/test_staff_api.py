"""The staff API over HTTP: scanner apps record tubes, lab systems send results, by API key."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import Service
from bot.crypto import DataProtector, generate_key
from bot.crypto import _decode_key as decode_key
from bot.i18n import TIMEZONE, _, use_locale
from bot.services import qr_tokens
from bot.services.identity import id_index
from storage import staff
from storage.db import Database
from storage.models import AuditEvent, OutboxMessage, Person, Sample, SampleResult, Site
from tests.registration_fixtures import consenting_account

SITES = ("hcm-test", "hcm-other", "hcm-third")
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


async def make_key(svc: Service, role: str, *sites: str, user_id: str = "") -> str:
    """A staff role with a fresh API key; the key."""
    async with svc.db.session_scope() as session:
        member = await staff.add_staff(
            session,
            channel="web",
            user_id=user_id or f"{role}-1",
            role=role,
            name=f"Máy {role}",
            wards=[],
            sites=list(sites),
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


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    await add_sites(svc.db)
    async with TestClient(TestServer(svc.web_app)) as test_client:
        yield test_client


async def post(
    client: TestClient, path: str, key: str, body: Any, *, status: int
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=bearer(key))
    answer = await response.json()
    assert response.status == status, answer
    return dict(answer)


# -- authentication --------------------------------------------------------------------------


async def test_a_request_needs_the_key_of_the_right_role(svc: Service, client: TestClient) -> None:
    sampler = await make_key(svc, "sampler", "hcm-test")
    lab = await make_key(svc, "lab")
    body = {"tube_code": "TUBE-0001", "tokens": []}
    for headers in (
        {},
        {"Authorization": ""},
        {"Authorization": sampler},  # no scheme
        {"Authorization": f"Basic {sampler}"},
        {"Authorization": "Bearer short"},
        {"Authorization": "Bearer " + "A" * 40},  # well formed, but nobody's key
        {"Authorization": f"Bearer {sampler[:-1]}"},
    ):
        response = await client.post("/api/samples", json=body, headers=headers)
        assert response.status == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        answer = await response.json()
        assert set(answer) == {"error"} and sampler not in answer["error"]
    response = await client.post("/api/samples", json=body, headers=bearer(lab))
    assert (response.status, set(await response.json())) == (403, {"error"})
    response = await client.post("/api/results", json={"results": []}, headers=bearer(sampler))
    assert (response.status, set(await response.json())) == (403, {"error"})
    for raw in ("{not json", "", "\xff"):
        response = await client.post("/api/samples", data=raw, headers=bearer(sampler))
        assert (response.status, set(await response.json())) == (400, {"error"}), raw
    wrong: list[Any] = [[], {"tube_code": 5, "tokens": []}, {"tube_code": "T-1", "tokens": "X"}]
    for shape in wrong:
        await post(client, "/api/samples", sampler, shape, status=400)
    wrong = [{}, {"results": "x"}, {"results": [{}] * 1001}]
    for shape in wrong:
        await post(client, "/api/results", lab, shape, status=400)
    async with svc.db.read_scope() as session:
        assert await session.scalar(select(func.count()).select_from(Sample)) == 0


# -- samples ---------------------------------------------------------------------------------


async def test_a_single_sample_is_recorded_once_and_the_person_told_once(
    svc: Service, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = await make_key(svc, "sampler", "hcm-test", "hcm-other")
    account_id, person_id = await register(svc)
    qr = token(svc, person_id)
    body = {"tube_code": "tube-0001", "tokens": [qr]}
    answer = await post(client, "/api/samples", key, body, status=201)
    assert answer == {"tube_code": "TUBE-0001", "people": 1, "pooled": False}
    (notice,) = await notices_of(svc, account_id)
    assert "TUBE-0001" in notice and "Nguyễn Văn An" in notice

    again = await post(client, "/api/samples", key, body, status=200)
    assert again == {"tube_code": "TUBE-0001", "unchanged": True}
    assert len(await notices_of(svc, account_id)) == 1

    async with svc.db.read_scope() as session:
        sample = await session.scalar(select(Sample))
        trail = (await session.scalars(select(AuditEvent))).all()
    assert sample is not None and (sample.site_id, sample.pooled) == ("hcm-test", False)
    assert sample.taken_by is not None
    assert [(a.action, a.subject) for a in trail] == [("sample_recorded", "tube:TUBE-0001")]
    assert "Máy sampler (sampler)" in trail[0].actor
    assert key not in caplog.text and qr not in caplog.text


async def test_a_pooled_tube_and_the_sites_a_sampler_may_name(
    svc: Service, client: TestClient
) -> None:
    key = await make_key(svc, "sampler", "hcm-test", "hcm-other")
    people = [await register(svc, f"Người {n}") for n in range(3)]
    body = {
        "tube_code": "POOL-0001",
        "tokens": [token(svc, pid) for _aid, pid in people],
        "site_id": "hcm-other",
    }
    answer = await post(client, "/api/samples", key, body, status=201)
    assert answer == {"tube_code": "POOL-0001", "people": 3, "pooled": True}
    for account_id, _pid in people:
        (notice,) = await notices_of(svc, account_id)
        assert "POOL-0001" in notice
    async with svc.db.read_scope() as session:
        sample = await session.scalar(select(Sample))
    assert sample is not None and sample.site_id == "hcm-other"

    _aid, pid = await register(svc)
    refused = {"tube_code": "POOL-0002", "tokens": [token(svc, pid)], "site_id": "hcm-third"}
    await post(client, "/api/samples", key, refused, status=403)
    siteless = await make_key(svc, "sampler", user_id="siteless")
    created = await post(
        client, "/api/samples", siteless, {**refused, "site_id": None}, status=201
    )
    assert created["people"] == 1
    async with svc.db.read_scope() as session:
        tube = await session.scalar(select(Sample).where(Sample.tube_code == "POOL-0002"))
    assert tube is not None and tube.site_id is None


async def test_bad_tokens_refuse_the_whole_tube_with_the_reason(
    svc: Service, client: TestClient
) -> None:
    key = await make_key(svc, "sampler", "hcm-test")
    account_id, first = await register(svc)
    _aid, second = await register(svc, "Trần Thị Bình")
    used = token(svc, first)
    await post(client, "/api/samples", key, {"tube_code": "T-0001", "tokens": [used]}, status=201)

    other = DataProtector(decode_key(generate_key()))
    cases: list[tuple[list[str], list[tuple[int | None, str]]]] = [
        ([token(svc, second, now=svc.clock() - timedelta(days=8))], [(0, "expired")]),
        ([qr_tokens.issue(other, second, now=svc.clock())], [(0, "forged")]),
        (["hello"], [(0, "malformed")]),
        ([token(svc, second), used], [(1, "token_used")]),
        ([token(svc, first), token(svc, second)], [(0, "in_open_tube")]),
        ([token(svc, second), token(svc, second)], [(1, "twice")]),
        ([], [(None, "no_people")]),
        ([token(svc, second)] * 11, [(None, "too_many")]),
    ]
    for tokens, expected in cases:
        answer = await post(
            client, "/api/samples", key, {"tube_code": "T-0002", "tokens": tokens}, status=422
        )
        assert answer == {
            "problems": [{"token": index, "reason": reason} for index, reason in expected]
        }
    bad_code = {"tube_code": "no", "tokens": [token(svc, second)]}
    assert (await post(client, "/api/samples", key, bad_code, status=422))["problems"] == [
        {"token": None, "reason": "tube_code"}
    ]
    taken = {"tube_code": "T-0001", "tokens": [token(svc, second)]}
    assert (await post(client, "/api/samples", key, taken, status=422))["problems"] == [
        {"token": None, "reason": "tube_taken"}
    ]
    async with svc.db.read_scope() as session:
        tubes = (await session.scalars(select(Sample.tube_code))).all()
    assert tubes == ["T-0001"]
    assert len(await notices_of(svc, account_id)) == 1


# -- results ---------------------------------------------------------------------------------


async def test_results_are_pushed_once_and_a_correction_is_announced(
    svc: Service, client: TestClient
) -> None:
    sampler = await make_key(svc, "sampler", "hcm-test")
    lab = await make_key(svc, "lab")
    single, pool = await register(svc), [await register(svc, f"Người {n}") for n in range(2)]
    await post(
        client,
        "/api/samples",
        sampler,
        {"tube_code": "S-0001", "tokens": [token(svc, single[1])]},
        status=201,
    )
    await post(
        client,
        "/api/samples",
        sampler,
        {"tube_code": "P-0001", "tokens": [token(svc, pid) for _aid, pid in pool]},
        status=201,
    )
    tested = local(svc.clock() - timedelta(minutes=30))  # a lab clock a little behind
    body = {
        "results": [
            {"tube_code": "S-0001", "result": "âm tính", "tested_at": tested, "lab": "Chợ Rẫy"},
            {"tube_code": "p-0001", "result": "negative", "tested_at": tested, "lab": "Chợ Rẫy"},
        ]
    }
    answer = await post(client, "/api/results", lab, body, status=200)
    assert answer == {"added": 2, "corrected": 0, "unchanged": 0, "problems": []}
    everyone = [single, *pool]
    for account_id, _pid in everyone:
        texts = await notices_of(svc, account_id)
        assert len(texts) == 2 and ("S-0001" in texts[1] or "P-0001" in texts[1])

    again = await post(client, "/api/results", lab, body, status=200)
    assert again == {"added": 0, "corrected": 0, "unchanged": 2, "problems": []}
    for account_id, _pid in everyone:
        assert len(await notices_of(svc, account_id)) == 2

    fixed = {"results": [{**body["results"][0], "result": "dương tính"}]}
    answer = await post(client, "/api/results", lab, fixed, status=200)
    assert answer == {"added": 0, "corrected": 1, "unchanged": 0, "problems": []}
    texts = await notices_of(svc, single[0])
    with use_locale("vi"):
        correction = _("Correction of an earlier result.")
    assert len(texts) == 3 and texts[2].startswith(correction) and "S-0001" in texts[2]
    for account_id, _pid in pool:
        assert len(await notices_of(svc, account_id)) == 2

    async with svc.db.read_scope() as session:
        sample = await session.scalar(select(Sample).where(Sample.tube_code == "S-0001"))
        history = (
            await session.scalars(select(SampleResult).order_by(SampleResult.version))
        ).all()
        trail = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
    assert sample is not None and (sample.result, sample.result_version) == ("positive", 2)
    assert sorted((h.result, h.version, h.source) for h in history) == [
        ("negative", 1, "api"),
        ("negative", 1, "api"),
        ("positive", 2, "api"),
    ]
    assert trail.count("result_imported") == 2 and trail.count("result_corrected") == 1


async def test_unknown_tubes_and_bad_rows_are_reported_by_row(
    svc: Service, client: TestClient
) -> None:
    sampler = await make_key(svc, "sampler", "hcm-test")
    lab = await make_key(svc, "lab")
    account_id, person_id = await register(svc)
    await post(
        client,
        "/api/samples",
        sampler,
        {"tube_code": "S-0001", "tokens": [token(svc, person_id)]},
        status=201,
    )
    tested = local(svc.clock() - timedelta(minutes=30))
    good = {"tube_code": "S-0001", "result": "negative", "tested_at": tested, "lab": "Pasteur"}
    rows: list[Any] = [
        {**good, "tube_code": "NOPE-0001"},
        {**good, "result": "maybe"},
        {**good, "tested_at": "yesterday"},
        {**good, "tested_at": local(svc.clock() + timedelta(days=1))},
        "S-0001,negative",
        {**good, "lab": None},
        {**good, "tube_code": "x"},
        good,
        good,
    ]
    answer = await post(client, "/api/results", lab, {"results": rows}, status=200)
    assert (answer["added"], answer["corrected"], answer["unchanged"]) == (1, 0, 0)
    reasons = {problem["row"]: problem["reason"] for problem in answer["problems"]}
    assert sorted(reasons) == [0, 1, 2, 3, 4, 5, 6, 8]
    assert reasons[0] == "unknown tube code"
    assert "result" in reasons[1] and "tested_at" in reasons[2]
    assert reasons[3] == "tested_at is in the future"
    assert "lab" in reasons[5] and "tube_code" in reasons[6]
    assert reasons[8] == "tube code repeated in this call"
    texts = await notices_of(svc, account_id)
    assert len(texts) == 2 and "S-0001" in texts[1]
