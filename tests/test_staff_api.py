"""The staff API over HTTP: scanner apps record tubes, lab systems send results, by API key."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, func, select

from bot.app import Service
from bot.crypto import DataProtector, generate_key
from bot.crypto import _decode_key as decode_key
from bot.domain import qr_tokens
from bot.i18n import _, use_locale
from storage.models import AuditEvent, Sample, SampleResult
from tests.staff_api import (
    LAB,
    NEEDS_CORRECTION,
    UNKNOWN,
    add_sites,
    bearer,
    local,
    make_key,
    notices_of,
    post,
    register,
    result_row,
    sample_at,
    token,
)


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    await add_sites(svc.db)
    async with TestClient(TestServer(svc.web_app)) as test_client:
        yield test_client


# -- authentication --------------------------------------------------------------------------


async def test_a_request_needs_the_key_of_the_right_role(svc: Service, client: TestClient) -> None:
    sampler = await make_key(svc, "sampler", "hcm-test")
    lab = await make_key(svc, "lab", "hcm-test")
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
    lab = await make_key(svc, "lab", "hcm-test")
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

    reason = {"reason": "tubes S-0001 and S-0002 swapped on the plate"}
    fixed = {"results": [{**body["results"][0], "result": "dương tính", "correction": reason}]}
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
    lab = await make_key(svc, "lab", "hcm-test")
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
        {**good, "correction": {"reason": "typo"}},  # a reason of 4 characters
        {**good, "tube_code": "x"},
        good,
        good,
    ]
    answer = await post(client, "/api/results", lab, {"results": rows}, status=200)
    assert (answer["added"], answer["corrected"], answer["unchanged"]) == (1, 0, 0)
    reasons = {problem["row"]: problem["reason"] for problem in answer["problems"]}
    assert sorted(reasons) == [0, 1, 2, 3, 4, 5, 6, 8]
    assert reasons[0] == UNKNOWN
    assert "result" in reasons[1] and "tested_at" in reasons[2]
    assert reasons[3] == "tested_at is in the future"
    assert "correction" in reasons[5] and "tube_code" in reasons[6]
    assert reasons[8] == "tube code repeated in this call"
    texts = await notices_of(svc, account_id)
    assert len(texts) == 2 and "S-0001" in texts[1]


# -- a lab's scope and deliberate corrections -------------------------------------------------


async def test_a_lab_results_only_the_tubes_of_its_sites_and_learns_nothing_of_others(
    svc: Service, client: TestClient
) -> None:
    ours = await sample_at(svc, client, "OURS-0001", "hcm-test")
    theirs = await sample_at(svc, client, "THEIRS-0001", "hcm-other")
    lab = await make_key(svc, "lab", "hcm-test", "hcm-third")
    statements: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    answers, work = [], []
    event.listen(svc.db.engine.sync_engine, "before_cursor_execute", remember)
    try:
        for code in ("THEIRS-0001", "NOPE-0001"):  # sampled at another site; never sampled
            statements.clear()
            body = {"results": [result_row(svc, code, "positive")]}
            answers.append(await post(client, "/api/results", lab, body, status=200))
            work.append(list(statements))
    finally:
        event.remove(svc.db.engine.sync_engine, "before_cursor_execute", remember)
    unknown = {
        "added": 0,
        "corrected": 0,
        "unchanged": 0,
        "problems": [{"row": 0, "reason": UNKNOWN}],
    }
    assert answers == [unknown, unknown]
    assert work[0] == work[1]  # the same statements: no timing tells the two apart
    assert any("samples.site_id IN" in statement for statement in work[0])
    assert len(await notices_of(svc, theirs)) == 1  # told of the sample only

    body = {"results": [result_row(svc, "OURS-0001", "negative")]}
    answer = await post(client, "/api/results", lab, body, status=200)
    assert answer == {"added": 1, "corrected": 0, "unchanged": 0, "problems": []}
    assert "ÂM TÍNH" in (await notices_of(svc, ours))[-1]
    other_lab = await make_key(svc, "lab", "hcm-other", user_id="lab-2", lab="CDC TP.HCM")
    body = {"results": [result_row(svc, "THEIRS-0001", "negative")]}
    answer = await post(client, "/api/results", other_lab, body, status=200)
    assert answer["added"] == 1
    async with svc.db.read_scope() as session:
        rows = await session.execute(select(Sample.tube_code, Sample.lab))
        tubes = {code: name for code, name in rows}
    assert tubes == {"OURS-0001": LAB, "THEIRS-0001": "CDC TP.HCM"}


async def test_the_lab_citizens_are_told_is_the_keys_never_the_requests(
    svc: Service, client: TestClient
) -> None:
    account_id = await sample_at(svc, client, "S-0001", "hcm-test")
    lab = await make_key(svc, "lab", "hcm-test")
    forged = "Bộ Y tế: bấm vào http://example.invalid để nhận thuốc"
    body = {"results": [result_row(svc, "S-0001", "negative", lab=forged)]}
    answer = await post(client, "/api/results", lab, body, status=200)
    assert answer == {"added": 1, "corrected": 0, "unchanged": 0, "problems": []}
    told = (await notices_of(svc, account_id))[-1]
    assert "ÂM TÍNH" in told and LAB in told and "example.invalid" not in told
    async with svc.db.read_scope() as session:
        stored = (await session.scalars(select(SampleResult.lab))).all()
    assert stored == [LAB]


async def test_a_lab_key_without_its_lab_is_refused_with_what_to_run(
    svc: Service, client: TestClient
) -> None:
    # A lab key from before labs were bound: no lab, no sites.
    await sample_at(svc, client, "S-0001", "hcm-test")
    unbound = await make_key(svc, "lab", user_id="old-lab", lab=None)
    body = {"results": [result_row(svc, "S-0001", "positive")]}
    answer = await post(client, "/api/results", unbound, body, status=403)
    assert "--user-id old-lab --role lab --lab" in answer["error"]
    assert "--site" in answer["error"] and "--keep-key" in answer["error"]
    async with svc.db.read_scope() as session:
        assert await session.scalar(select(func.count()).select_from(SampleResult)) == 0


async def test_a_changed_result_needs_a_correction_with_its_own_reason(
    svc: Service, client: TestClient
) -> None:
    account_id = await sample_at(svc, client, "S-0001", "hcm-test")
    lab = await make_key(svc, "lab", "hcm-test")

    async def send(result: str, **extra: Any) -> dict[str, Any]:
        body = {"results": [result_row(svc, "S-0001", result, **extra)]}
        return await post(client, "/api/results", lab, body, status=200)

    def counts(added: int = 0, corrected: int = 0, unchanged: int = 0) -> dict[str, Any]:
        return {"added": added, "corrected": corrected, "unchanged": unchanged, "problems": []}

    refused = {**counts(), "problems": [{"row": 0, "reason": NEEDS_CORRECTION}]}
    with use_locale("vi"):
        correction = _("Correction of an earlier result.")
    assert await send("negative") == counts(added=1)
    told = await notices_of(svc, account_id)
    assert len(told) == 2 and "ÂM TÍNH" in told[1]

    # A flip without a correction (or with a reason too short) changes nothing, tells nobody.
    assert await send("positive") == refused
    assert (await send("positive", correction={"reason": "oops"}))["problems"][0]["row"] == 0
    assert await notices_of(svc, account_id) == told

    swapped = "tubes S-0001 and S-0002 swapped on the plate"
    assert await send("positive", correction={"reason": swapped}) == counts(corrected=1)
    told = await notices_of(svc, account_id)
    assert len(told) == 3 and told[2].startswith(correction) and "DƯƠNG TÍNH" in told[2]
    # The same correction again (a retry) changes nothing; the old row again changes nothing.
    assert await send("positive", correction={"reason": swapped}) == counts(unchanged=1)
    assert await send("negative") == counts(unchanged=1)
    assert len(await notices_of(svc, account_id)) == 3

    # Back to the earlier result: a correction of its own, with its own reason.
    assert await send("negative", correction={"reason": swapped}) == counts(corrected=1)
    told = await notices_of(svc, account_id)
    assert len(told) == 4 and told[3].startswith(correction) and "ÂM TÍNH" in told[3]
    assert await send("positive", correction={"reason": swapped}) == counts(unchanged=1)
    assert len(await notices_of(svc, account_id)) == 4

    async with svc.db.read_scope() as session:
        sample = await session.scalar(select(Sample))
        trail = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "result_corrected")
                .order_by(AuditEvent.id)
            )
        ).all()
    assert sample is not None and (sample.result, sample.result_version) == ("negative", 3)
    assert [(a.actor, a.subject, a.detail) for a in trail] == [
        (
            "web:lab-1 Máy lab (lab)",
            "tube:S-0001",
            {"version": version, "lab": LAB, "old": old, "new": new, "reason": swapped},
        )
        for version, old, new in ((2, "negative", "positive"), (3, "positive", "negative"))
    ]


async def test_a_result_after_an_inconclusive_one_is_no_correction(
    svc: Service, client: TestClient
) -> None:
    account_id = await sample_at(svc, client, "S-0001", "hcm-test")
    lab = await make_key(svc, "lab", "hcm-test")
    for result, word in (("inconclusive", "KHÔNG XÁC ĐỊNH"), ("negative", "ÂM TÍNH")):
        body = {"results": [result_row(svc, "S-0001", result)]}
        answer = await post(client, "/api/results", lab, body, status=200)
        assert answer == {"added": 1, "corrected": 0, "unchanged": 0, "problems": []}
        told = (await notices_of(svc, account_id))[-1]
        assert told.startswith("Kết quả xét nghiệm PCR") and word in told
    assert len(await notices_of(svc, account_id)) == 3
