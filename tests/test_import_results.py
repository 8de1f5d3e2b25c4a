"""`import-results`: lab results in, everyone in each tube told once, corrections told again."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import imports
from bot.crypto import DataProtector
from bot.domain import qr_tokens
from bot.domain.samples import record_sample
from bot.i18n import TIMEZONE
from bot.imports import ImportReport, import_results
from run_bot import main
from storage.db import Database
from storage.models import AuditEvent, OutboxMessage, Person, Sample, SampleResult
from tests.clock import START, Clock
from tests.registration_fixtures import consenting_account

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 10:00 on 30/11/2026 in Vietnam
TAKEN = NOW - timedelta(days=2)  # the samples were taken before any result
SAMPLES = Path(__file__).parent.parent / "docs" / "samples"
HEADER = "tube_code,result,tested_at,lab\n"
LAB = "CDC TP. Hồ Chí Minh"
AN, BINH, CUONG, DUNG = "Nguyễn Văn An", "Trần Thị Bình", "Trần Văn Cường", "Lê Thị Dung"
# (chat id, locale, people): Bình registered her son Cường on her own account.
FAMILIES = [("101", "en", [AN]), ("102", "vi", [BINH, CUONG]), ("103", "en", [DUNG])]
SINGLE, POOL = "T-SINGLE-1", "T-POOL-1"  # An alone; Bình, Cường and Dung pooled
TESTED = "2026-11-30 09:30"
REASON = "pool re-run: the first plate was contaminated"
NEEDS_REASON = (
    "tube {} already has a result: to change it, give the reason in correction_reason "
    "(5 to 300 characters)"
)
BAD_RESULT = (
    "result must be negative, positive or inconclusive (âm tính, dương tính, không xác định), "
    "not {!r}"
)
BAD_TIME = (
    "tested_at must be a date and time, YYYY-MM-DD HH:MM or DD/MM/YYYY HH:MM (Vietnam time), "
    "not {!r}"
)


@pytest.fixture
def protector() -> DataProtector:
    return DataProtector(secrets.token_bytes(32))


@pytest.fixture
async def tubes(database: Database, protector: DataProtector) -> dict[str, str]:
    """The families of FAMILIES with An's single tube and the pooled tube; name -> chat id."""
    chats = await _register(database, FAMILIES)
    await _tube(database, protector, SINGLE, [AN])
    await _tube(database, protector, POOL, [BINH, CUONG, DUNG])
    return chats


async def _register(db: Database, families: list[tuple[str, str, list[str]]]) -> dict[str, str]:
    """Telegram accounts and the people on them; each person's name -> their chat id."""
    chats = {}
    async with db.session_scope() as session:
        for chat_id, locale, names in families:
            account = await consenting_account(session, chat_id, channel="telegram", locale=locale)
            for name in names:
                session.add(
                    Person(
                        account_id=account.id,
                        full_name=name,
                        birth_date=date(1990, 3, 1),
                        gender="female",
                        id_sealed=b"sealed",
                        id_index=f"index-{name}",
                        province_code=79,
                        ward_code=26743,
                        divisions_version="test",
                        priority_group="general",
                        is_holder=name == names[0],
                    )
                )
                chats[name] = chat_id
    return chats


async def _tube(db: Database, protector: DataProtector, code: str, names: list[str]) -> None:
    """A tube recorded by a sampler from the people's personal QR tokens."""
    async with db.session_scope() as session:
        people = {p.full_name: p.id for p in (await session.scalars(select(Person))).all()}
        outcome = await record_sample(
            session,
            protector,
            tube_code=code,
            tokens=[qr_tokens.issue(protector, people[name], now=TAKEN) for name in names],
            site_id=None,
            taken_by=None,
            actor="test",
            now=TAKEN,
        )
        assert outcome.created, outcome.problems


async def _import(db: Database, source: Path | str) -> ImportReport:
    async with db.session_scope() as session:
        return await import_results(session, source, now=NOW)


def _counts(report: ImportReport) -> tuple[int, int, int]:
    return report.added, report.updated, report.unchanged


async def _outbox(db: Database) -> list[tuple[str, str, str]]:
    """Every outbox row, oldest first: (channel, chat id, text)."""
    async with db.read_scope() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(m.channel, m.chat_id, m.body["text"]) for m in rows]


async def _sample(db: Database, code: str) -> tuple[str | None, datetime | None, str | None, int]:
    async with db.read_scope() as session:
        sample = await session.scalar(select(Sample).where(Sample.tube_code == code))
        assert sample is not None
        return sample.result, sample.tested_at, sample.lab, sample.result_version


def _told(new: list[tuple[str, str, str]], names: list[str]) -> Counter[tuple[str, str]]:
    """How many of the new rows went to each (chat id, person named in the text)."""
    return Counter((chat_id, n) for _, chat_id, text in new for n in names if n in text)


async def test_everyone_in_a_tube_is_told_once_and_a_second_import_changes_nothing(
    database: Database, tubes: dict[str, str]
) -> None:
    before = await _outbox(database)
    text = (
        HEADER
        + f"{SINGLE},âm tính,2026-11-30 09:30,{LAB}\n{POOL},positive,30/11/2026 09:45,{LAB}\n"
    )
    report = await _import(database, text)
    assert (_counts(report), report.problems) == ((2, 0, 0), [])

    new = (await _outbox(database))[len(before) :]
    assert len(new) == 4 and {channel for channel, _, _ in new} == {"telegram"}
    everyone = [AN, BINH, CUONG, DUNG]
    assert _told(new, everyone) == Counter((tubes[name], name) for name in everyone)
    assert all(SINGLE in t for _, chat, t in new if chat == tubes[AN])
    assert all(POOL in t and "mẫu gộp" in t for _, chat, t in new if chat != tubes[AN])
    (an,) = (t for _, chat, t in new if chat == tubes[AN])
    assert "NEGATIVE" in an and "30/11/2026 at 09:30" in an  # Vietnam time, as written
    (dung,) = (t for _, chat, t in new if chat == tubes[DUNG])
    assert "POSITIVE" in dung and "individually" in dung

    assert await _sample(database, SINGLE) == (
        "negative",
        datetime(2026, 11, 30, 2, 30, tzinfo=UTC),
        LAB,
        1,
    )
    async with database.read_scope() as session:
        stored = (await session.scalars(select(SampleResult))).all()
        trail = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    assert sorted((r.result, r.version, r.source) for r in stored) == [
        ("negative", 1, "import"),
        ("positive", 1, "import"),
    ]
    assert [(a.actor, a.action, a.subject) for a in trail if a.action.startswith("result")] == [
        ("cli:import-results", "result_imported", f"tube:{SINGLE}"),
        ("cli:import-results", "result_imported", f"tube:{POOL}"),
    ]

    again = await _import(database, text)
    assert (_counts(again), again.problems) == ((0, 0, 2), [])
    assert len(await _outbox(database)) == len(before) + 4


async def test_a_corrected_result_is_recorded_as_such_and_told_once_more(
    database: Database, tubes: dict[str, str]
) -> None:
    first = (
        HEADER
        + f"{SINGLE},negative,2026-11-30 09:30,{LAB}\n{POOL},negative,2026-11-30 09:30,{LAB}\n"
    )
    assert _counts(await _import(database, first)) == (2, 0, 0)
    before = await _outbox(database)

    flipped = first.replace(f"{POOL},negative", f"{POOL},dương tính")
    refused = await _import(database, flipped)
    assert (_counts(refused), refused.problems) == ((0, 0, 1), [(3, NEEDS_REASON.format(POOL))])
    assert await _outbox(database) == before and (await _sample(database, POOL))[0] == "negative"
    short = (
        HEADER.replace("lab", "lab,correction_reason") + f"{POOL},positive,{TESTED},{LAB},oops\n"
    )
    assert (await _import(database, short)).problems == [
        (2, "correction_reason must be 5 to 300 characters")
    ]

    corrected = HEADER.replace("lab", "lab,correction_reason") + (
        f"{SINGLE},negative,{TESTED},{LAB},\n{POOL},dương tính,{TESTED},{LAB},{REASON}\n"
    )
    report = await _import(database, corrected)
    assert (_counts(report), report.problems) == ((0, 1, 1), [])
    new = (await _outbox(database))[len(before) :]
    pooled = [BINH, CUONG, DUNG]
    assert _told(new, [AN, *pooled]) == Counter((tubes[name], name) for name in pooled)
    (dung,) = (t for _, chat, t in new if chat == tubes[DUNG])
    assert dung.startswith("Correction of an earlier result.") and "POSITIVE" in dung

    assert (await _sample(database, POOL))[::3] == ("positive", 2)
    async with database.read_scope() as session:
        history = (
            await session.scalars(
                select(SampleResult)
                .join(Sample, Sample.id == SampleResult.sample_id)
                .where(Sample.tube_code == POOL)
                .order_by(SampleResult.version)
            )
        ).all()
        corrections = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "result_corrected")
            )
        ).all()
    assert [(r.version, r.result, r.reason) for r in history] == [
        (1, "negative", None),
        (2, "positive", REASON),
    ]
    assert [(a.actor, a.subject, a.detail) for a in corrections] == [
        (
            "cli:import-results",
            f"tube:{POOL}",
            {"version": 2, "lab": LAB, "old": "negative", "new": "positive", "reason": REASON},
        )
    ]

    again = await _import(database, corrected)
    assert (_counts(again), again.problems) == ((0, 0, 2), [])
    assert len(await _outbox(database)) == len(before) + 3


async def test_unknown_tubes_and_bad_rows_are_reported_by_line_and_skipped(
    database: Database, tubes: dict[str, str]
) -> None:
    text = (
        HEADER
        + f"{SINGLE},âm tính,2026-11-30 09:30,{LAB}\n"  # line 2
        + f"T-NOPE-9,negative,2026-11-30 09:30,{LAB}\n"
        + f"{POOL},maybe,2026-11-30 09:30,{LAB}\n"
        + f"{POOL},negative,30/11/2026,{LAB}\n"  # line 5
        + f"{POOL},negative,2026-11-30 11:00,{LAB}\n"  # an hour ahead of NOW
        + f"{POOL},negative,2026-11-30 09:30,\n"
        + f"{POOL},negative,2026-11-30 09:30\n"
        + f"tube 1!,negative,2026-11-30 09:30,{LAB}\n"
        + f"{SINGLE},negative,2026-11-30 09:31,{LAB}\n"  # line 10
        + f"{POOL},negative,2026-13-01 09:30,{LAB}\n"
        + f"{POOL},negative,2026-11-30 09:30,{'x' * 121}\n"
        + "\n"
        + f"{POOL},dương tính,2026-11-30 10:03,{LAB}\n"  # line 14: a lab clock 3 min ahead
    )
    report = await _import(database, text)
    assert _counts(report) == (2, 0, 0)
    assert report.problems == [
        (3, "unknown tube code T-NOPE-9: no sample was recorded with it"),
        (4, BAD_RESULT.format("maybe")),
        (5, BAD_TIME.format("30/11/2026")),
        (6, "tested_at 2026-11-30 11:00 is in the future"),
        (7, "lab is empty"),
        (8, "3 values for 4 columns"),
        (9, "tube_code must be 4 to 40 letters, digits or '-', not 'tube 1!'"),
        (10, "tube T-SINGLE-1 is already on line 2"),
        (11, BAD_TIME.format("2026-13-01 09:30")),
        (12, "lab is longer than 120 characters"),
    ]  # fmt: skip
    assert (await _sample(database, SINGLE))[0] == "negative"
    assert await _sample(database, POOL) == (
        "positive",
        datetime(2026, 11, 30, 3, 3, tzinfo=UTC),
        LAB,
        1,
    )


async def test_a_missing_column_refuses_the_whole_file(
    database: Database, tubes: dict[str, str]
) -> None:
    before = await _outbox(database)
    report = await _import(
        database, f"tube_code,result,tested_at\n{SINGLE},negative,2026-11-30 09:30\n"
    )
    assert (_counts(report), report.problems) == (
        (0, 0, 0),
        [(1, "missing required column lab (the header needs tube_code, result, tested_at, lab)")],
    )
    report = await _import(database, f"tube_code,result,tested_at,lab,note\n{SINGLE},-,-,-,-\n")
    assert report.problems == [(1, "unknown column note")]
    assert (await _sample(database, SINGLE))[::3] == (None, 0)
    assert await _outbox(database) == before


async def test_result_words_in_english_or_vietnamese_with_or_without_accents(
    database: Database, protector: DataProtector
) -> None:
    words = {
        "âm tính": "negative", "Am Tinh": "negative", "DƯƠNG TÍNH": "positive",
        "duong tinh": "positive", "Không xác định": "inconclusive",
        "khong xac dinh": "inconclusive", "Negative": "negative", "inconclusive": "inconclusive",
    }  # fmt: skip
    families = [(str(200 + i), "vi", [f"Người {i}"]) for i in range(len(words))]
    await _register(database, families)
    for i in range(len(words)):
        await _tube(database, protector, f"T-WORD-{i}", [f"Người {i}"])
    text = HEADER + "".join(
        f"T-WORD-{i},{word},2026-11-30T02:30:00+00:00,{LAB}\n" for i, word in enumerate(words)
    )
    report = await _import(database, text)
    assert (_counts(report), report.problems) == ((len(words), 0, 0), [])
    for i, wanted in enumerate(words.values()):
        result, tested_at, _, _ = await _sample(database, f"T-WORD-{i}")
        assert (result, tested_at) == (wanted, datetime(2026, 11, 30, 2, 30, tzinfo=UTC))


async def test_the_sample_file_imports_cleanly_with_or_without_bom(
    database: Database, protector: DataProtector, tmp_path: Path
) -> None:
    await _register(database, FAMILIES)
    await _tube(database, protector, "HCM-2611-0001", [AN])
    await _tube(database, protector, "HCM-2611-0002", [BINH, CUONG])
    await _tube(database, protector, "hcm-2611-0003", [DUNG])  # codes are read in upper case
    report = await _import(database, SAMPLES / "results.csv")
    assert (_counts(report), report.problems) == ((3, 0, 0), [])
    assert (await _sample(database, "HCM-2611-0003"))[0] == "inconclusive"
    path = tmp_path / "results.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (SAMPLES / "results.csv").read_bytes())  # Excel's CSV UTF-8
    assert _counts(await _import(database, path)) == (0, 0, 3)


# -- the command -----------------------------------------------------------------------------


def test_import_results_command(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def set_up() -> None:
        db = Database(env)
        try:
            await db.migrate()
            await _register(db, FAMILIES[:1])
            await _tube(db, DataProtector(secrets.token_bytes(32)), SINGLE, [AN])
        finally:
            await db.dispose()

    asyncio.run(set_up())
    tested = (START - timedelta(hours=1)).astimezone(TIMEZONE).strftime("%d/%m/%Y %H:%M")
    path = tmp_path / "results.csv"
    path.write_text(
        HEADER + f"{SINGLE},âm tính,{tested},{LAB}\nT-NOPE-9,negative,{tested},{LAB}\n",
        encoding="utf-8",
    )
    assert main(["import-results", str(path)], clock=Clock()) == 1
    assert capsys.readouterr().out.splitlines() == [
        "added 1, updated 0, unchanged 0, problems 1",
        "line 3: unknown tube code T-NOPE-9: no sample was recorded with it",
    ]
    assert main(["import-results", str(path)], clock=Clock()) == 1
    assert capsys.readouterr().out.splitlines()[0] == "added 0, updated 0, unchanged 1, problems 1"
    missing = tmp_path / "nope.csv"
    assert main(["import-results", str(missing)], clock=Clock()) == 2
    assert capsys.readouterr().err == f"error: no such file: {missing}\n"


async def test_a_long_file_is_committed_as_it_goes(
    database: Database, tubes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI commits every CHECKPOINT_ROWS rows: the notices of the first rows leave while
    # the rest of the file is still being read, and the session carries on after each commit.
    monkeypatch.setattr(imports, "CHECKPOINT_ROWS", 1)
    before = len(await _outbox(database))
    text = (
        HEADER
        + f"{SINGLE},âm tính,2026-11-30 09:30,{LAB}\n"
        + f"T-NOPE-1,âm tính,2026-11-30 09:30,{LAB}\n"
        + f"{POOL},positive,30/11/2026 09:45,{LAB}\n"
    )
    commits = 0
    async with database.batched_scope() as session:

        async def checkpoint() -> None:
            nonlocal commits
            commits += 1
            await session.commit()

        report = await imports.import_results(session, text, now=NOW, checkpoint=checkpoint)
    assert commits == 3 and (_counts(report), [line for line, _ in report.problems]) == (
        (2, 0, 0),
        [3],
    )
    assert len(await _outbox(database)) == before + 4
