"""CSV imports: good rows in, bad rows reported by line, a second import changes nothing."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import DEFAULT_DCC_ISSUER
from bot.crypto import DataProtector
from bot.demo import DEMO_SITES, seed_demo
from bot.domain.booking import book
from bot.domain.dcc.trust import Authority
from bot.domain.identity import id_index
from bot.imports import ImportReport, import_sites, import_slots, import_vaccinations
from storage import bookings
from storage.db import Database
from storage.models import AuditEvent, Booking, OutboxMessage, Person, Site, Slot, Vaccination
from tests.conftest import make_signer
from tests.registration_fixtures import consenting_account

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 10:00 on 30/11/2026 in Vietnam
SAMPLES = Path(__file__).parent.parent / "docs" / "samples"
ID_NUMBER = "001190012345"
SITES_HEADER = "site_id,name,address,province_code,ward_code,active\n"
SITES = (
    SITES_HEADER
    + 'hcm-benthanh,Trạm Y tế phường Bến Thành,"186 Lê Thánh Tôn, Phường Bến Thành",79,26743,1\n'
    + "hcm-tandinh,Trạm Y tế phường Tân Định,50 Trần Quang Khải,79,26737,\n"
)
SLOTS_HEADER = "site_id,date,start,end,capacity\n"
DOSES_HEADER = "id_number,dose_number,product,lot,given_on,site_id,booking_code\n"
_SIGNER = make_signer()
AUTHORITY = Authority(_SIGNER, DEFAULT_DCC_ISSUER, "VN", (_SIGNER.cert,))


@pytest.fixture
def protector() -> DataProtector:
    return DataProtector(secrets.token_bytes(32))


async def _import_sites(db: Database, source: Path | str) -> ImportReport:
    async with db.session_scope() as session:
        return await import_sites(session, source)


async def _import_slots(db: Database, source: Path | str) -> ImportReport:
    async with db.session_scope() as session:
        return await import_slots(session, source)


async def _import_doses(db: Database, protector: DataProtector, text: str) -> ImportReport:
    async with db.session_scope() as session:
        return await import_vaccinations(
            session, text, protector=protector, authority=AUTHORITY, now=NOW
        )


def _counts(report: ImportReport) -> tuple[int, int, int]:
    return report.added, report.updated, report.unchanged


async def _count(db: Database, entity: type, **where: object) -> int:
    async with db.read_scope() as session:
        statement = select(func.count()).select_from(entity).filter_by(**where)
        return int((await session.execute(statement)).scalar_one())


async def _book_first_slot(db: Database, person_id: int, *, now: datetime) -> tuple[int, Booking]:
    """Book dose 1 for a person in the first slot; (slot id, booking)."""
    async with db.session_scope() as session:
        slot_id = await session.scalar(select(Slot.id))
        assert slot_id is not None
        booking = await book(
            session,
            person_id=person_id,
            slot_id=slot_id,
            dose_number=1,
            screening={},
            needs_screening=False,
            now=now,
        )
        assert booking is not None
        return slot_id, booking


async def _register(
    db: Database, protector: DataProtector, number: str = ID_NUMBER, *, chat_id: str = "c1"
) -> tuple[int, int]:
    """A citizen's account and a registered person; (account id, person id)."""
    async with db.session_scope() as session:
        account = await consenting_account(session, chat_id)
        person = Person(
            account_id=account.id,
            full_name="Nguyễn Văn An",
            birth_date=date(1990, 3, 1),
            gender="male",
            id_sealed=protector.seal(number),
            id_index=id_index(protector, number),
            province_code=79,
            ward_code=26743,
            divisions_version="test",
            priority_group="general",
            is_holder=True,
        )
        session.add(person)
        await session.flush()
        return account.id, person.id


# -- sites -----------------------------------------------------------------------------------


async def test_sites_are_added_then_unchanged_then_updated(database: Database) -> None:
    report = await _import_sites(database, SITES)
    assert (_counts(report), report.problems) == ((2, 0, 0), [])
    async with database.read_scope() as session:
        site = await session.get(Site, "hcm-benthanh")
        assert site is not None
        assert (site.name, site.address) == (
            "Trạm Y tế phường Bến Thành",
            "186 Lê Thánh Tôn, Phường Bến Thành",
        )
        assert (site.province_code, site.ward_code, site.active) == (79, 26743, True)
        tan_dinh = await session.get(Site, "hcm-tandinh")
        assert tan_dinh is not None and tan_dinh.active  # an empty `active` means 1

    again = await _import_sites(database, SITES)
    assert (_counts(again), again.problems) == ((0, 0, 2), [])

    changed = SITES.replace("50 Trần Quang Khải,79,26737,", "52 Trần Quang Khải,79,26737,no")
    report = await _import_sites(database, changed)
    assert (_counts(report), report.problems) == ((0, 1, 1), [])
    async with database.read_scope() as session:
        tan_dinh = await session.get(Site, "hcm-tandinh")
        assert tan_dinh is not None
        assert (tan_dinh.address, tan_dinh.active) == ("52 Trần Quang Khải", False)


async def test_bad_site_rows_are_reported_by_line_and_skipped(database: Database) -> None:
    text = (
        SITES_HEADER
        + "ok-1,Trạm Y tế,1 Lê Lợi,79,26743,1\n"  # line 2
        + "bad id!,Trạm,1 Lê Lợi,79,26743,1\n"
        + "ok-2,,1 Lê Lợi,79,26743,1\n"
        + "ok-3,Trạm,1 Lê Lợi,79,99999,1\n"
        + "ok-4,Trạm,1 Lê Lợi,1,26743,1\n"  # line 6: a HCM ward given for Hà Nội
        + "ok-5,Trạm,1 Lê Lợi,99,26743,1\n"
        + "ok-6,Trạm,1 Lê Lợi,HCM,26743,1\n"
        + "ok-7,Trạm,1 Lê Lợi,79,26743,maybe\n"
        + "ok-1,Trạm khác,1 Lê Lợi,79,26743,1\n"  # line 10: same site twice
        + "ok-8,Trạm,1 Lê Lợi,79\n"
        + ",,,,,\n"  # blank rows (a spreadsheet's trailing commas) are skipped
        + '"ok-9","Trạm ""Số 9""","1 Lê Lợi,\nPhường Bến Thành",79,26743,1\n'  # lines 13-14
        + "ok-10,Trạm,1 Lê Lợi,79,26740,false\n"  # line 15
    )
    report = await _import_sites(database, text)
    assert _counts(report) == (3, 0, 0)
    assert report.problems == [
        (3, "site_id must be 1 to 32 letters, digits, '_' or '-'"),
        (4, "name is empty"),
        (5, "ward_code 99999 is no current ward (codes since 1 July 2025)"),
        (
            6,
            "ward_code 26743 (Phường Bến Thành) is in Thành phố Hồ Chí Minh, "
            "not in province_code 1 (Thành phố Hà Nội)",
        ),
        (7, "province_code 99 is no current province"),
        (8, "province_code must be a whole number, not 'HCM'"),
        (9, "active must be 1, 0, yes, no, true or false, not 'maybe'"),
        (10, "site ok-1 is already on line 2"),
        (11, "4 values for 6 columns"),
    ]
    async with database.read_scope() as session:
        ids = set(await session.scalars(select(Site.id)))
        nine = await session.get(Site, "ok-9")
    assert ids == {"ok-1", "ok-9", "ok-10"}
    assert nine is not None and nine.name == 'Trạm "Số 9"'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "",
            (
                1,
                "the first line must be the header: site_id, name, address, province_code, "
                "ward_code",
            ),
        ),
        (
            "site_id,name,address,province_code,ward_code,district\nx,y,z,79,26743,q1\n",
            (1, "unknown column district"),
        ),
        (
            "site_id,name,address,province_code,ward_code,fax,email\n",
            (1, "unknown columns fax, email"),
        ),
        (
            "site_id,name,province_code\nx,y,79\n",
            (
                1,
                "missing required columns address, ward_code (the header needs site_id, "
                "name, address, province_code, ward_code)",
            ),
        ),
        (
            "site_id,name,name,address,province_code,ward_code\n",
            (1, "column name appears more than once"),
        ),
    ],
    ids=["empty", "unknown-column", "unknown-columns", "missing-columns", "duplicate-column"],
)
async def test_a_bad_header_refuses_the_whole_file(
    database: Database, text: str, problem: tuple[int, str]
) -> None:
    report = await _import_sites(database, text)
    assert (_counts(report), report.problems) == ((0, 0, 0), [problem])
    assert await _count(database, Site) == 0


async def test_header_is_read_by_name_in_any_order_with_or_without_bom(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "sites.csv"
    text = "Ward_Code , province_code,address,name,site_id\r\n26743,79,1 Lê Lợi,Trạm,x1\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())  # Excel's "CSV UTF-8"
    assert _counts(await _import_sites(database, path)) == (1, 0, 0)
    assert _counts(await _import_sites(database, "\ufeff" + text)) == (0, 0, 1)
    path.write_bytes(text.encode())
    assert _counts(await _import_sites(database, path)) == (0, 0, 1)


async def test_a_file_that_is_not_utf8_is_refused(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_bytes((SITES_HEADER + "x1,Café,1 Lê Lợi,79,26743,1\n").encode("latin-1", "replace"))
    report = await _import_sites(database, path)
    assert report.problems == [(2, "the file is not UTF-8 text: save it as CSV UTF-8")]
    assert await _count(database, Site) == 0


# -- slots -----------------------------------------------------------------------------------


async def test_slots_are_added_in_vietnam_time_then_unchanged_then_updated(
    database: Database,
) -> None:
    await _import_sites(database, SITES)
    text = (
        SLOTS_HEADER
        + "hcm-benthanh,2026-12-01,07:30,08:30,30\n"
        + "hcm-benthanh,01/12/2026,13:30,14:30,25\n"
        + "hcm-tandinh,2/12/2026,7:30,8:30,20\n"
    )
    report = await _import_slots(database, text)
    assert (_counts(report), report.problems) == ((3, 0, 0), [])
    async with database.read_scope() as session:
        slots = (await session.scalars(select(Slot).order_by(Slot.site_id, Slot.starts_at))).all()
    assert [(s.site_id, s.starts_at, s.ends_at, s.capacity, s.booked) for s in slots] == [
        (
            "hcm-benthanh",
            datetime(2026, 12, 1, 0, 30, tzinfo=UTC),
            datetime(2026, 12, 1, 1, 30, tzinfo=UTC),
            30,
            0,
        ),
        (
            "hcm-benthanh",
            datetime(2026, 12, 1, 6, 30, tzinfo=UTC),
            datetime(2026, 12, 1, 7, 30, tzinfo=UTC),
            25,
            0,
        ),
        (
            "hcm-tandinh",
            datetime(2026, 12, 2, 0, 30, tzinfo=UTC),
            datetime(2026, 12, 2, 1, 30, tzinfo=UTC),
            20,
            0,
        ),
    ]

    again = await _import_slots(database, text)
    assert (_counts(again), again.problems) == ((0, 0, 3), [])
    report = await _import_slots(database, text.replace("13:30,14:30,25", "13:30,15:00,35"))
    assert (_counts(report), report.problems) == ((0, 1, 2), [])
    async with database.read_scope() as session:
        slot = await session.scalar(
            select(Slot).where(Slot.starts_at == datetime(2026, 12, 1, 6, 30, tzinfo=UTC))
        )
    assert slot is not None
    assert (slot.ends_at, slot.capacity) == (datetime(2026, 12, 1, 8, 0, tzinfo=UTC), 35)
    assert await _count(database, Slot) == 3


async def test_bad_slot_rows_are_reported_by_line_and_skipped(database: Database) -> None:
    await _import_sites(database, SITES)
    text = (
        SLOTS_HEADER
        + "hcm-benthanh,2026-12-01,07:30,08:30,30\n"  # line 2
        + "nowhere,2026-12-01,07:30,08:30,30\n"
        + ",2026-12-01,07:30,08:30,30\n"
        + "hcm-benthanh,12/31/2026,07:30,08:30,30\n"
        + "hcm-benthanh,2026-02-30,07:30,08:30,30\n"
        + "hcm-benthanh,2026-12-01,7h30,08:30,30\n"
        + "hcm-benthanh,2026-12-01,09:30,24:00,30\n"
        + "hcm-benthanh,2026-12-01,09:30,09:30,30\n"
        + "hcm-benthanh,2026-12-01,10:30,09:30,30\n"
        + "hcm-benthanh,2026-12-01,09:30,10:30,0\n"
        + "hcm-benthanh,2026-12-01,09:30,10:30,10001\n"
        + "hcm-benthanh,2026-12-01,09:30,10:30,twenty\n"
        + "hcm-benthanh,01/12/2026,07:30,09:00,30\n"  # line 14: the slot of line 2 again
        + "hcm-benthanh,2026-12-01,09:30,10:30,10000\n"  # line 15: fine
    )
    report = await _import_slots(database, text)
    assert _counts(report) == (2, 0, 0)
    assert report.problems == [
        (3, "no site with site_id 'nowhere': import the site first"),
        (4, "site_id is empty"),
        (5, "date '12/31/2026' is not a date in the calendar"),
        (6, "date '2026-02-30' is not a date in the calendar"),
        (7, "start must be a time HH:MM (00:00 to 23:59), not '7h30'"),
        (8, "end must be a time HH:MM (00:00 to 23:59), not '24:00'"),
        (9, "end must be after start"),
        (10, "end must be after start"),
        (11, "capacity must be between 1 and 10000, not 0"),
        (12, "capacity must be between 1 and 10000, not 10001"),
        (13, "capacity must be a whole number, not 'twenty'"),
        (14, "a slot of this site at this start is already on line 2"),
    ]


async def test_capacity_below_the_places_booked_is_refused(
    database: Database, protector: DataProtector
) -> None:
    await _import_sites(database, SITES)
    await _import_slots(database, SLOTS_HEADER + "hcm-benthanh,2026-12-01,07:30,08:30,5\n")
    async with database.session_scope() as session:
        slot_id = await session.scalar(select(Slot.id))
        assert slot_id is not None
        for _ in range(3):
            assert await bookings.take_place(
                session, slot_id, starts_after=datetime(2000, 1, 1, tzinfo=UTC)
            )

    report = await _import_slots(
        database, SLOTS_HEADER + "hcm-benthanh,2026-12-01,07:30,08:30,2\n"
    )
    assert report.problems == [(2, "capacity 2 is below the 3 places already booked")]
    assert _counts(report) == (0, 0, 0)
    report = await _import_slots(
        database, SLOTS_HEADER + "hcm-benthanh,2026-12-01,07:30,08:30,3\n"
    )
    assert (_counts(report), report.problems) == ((0, 1, 0), [])
    async with database.read_scope() as session:
        slot = await session.get(Slot, slot_id)
    assert slot is not None and (slot.capacity, slot.booked) == (3, 3)


# -- vaccinations ----------------------------------------------------------------------------


async def test_imported_dose_marks_the_booking_attended_and_tells_the_citizen_once(
    database: Database, protector: DataProtector
) -> None:
    await _import_sites(database, SITES)
    await _import_slots(database, SLOTS_HEADER + "hcm-benthanh,2026-11-30,07:30,08:30,5\n")
    account_id, person_id = await _register(database, protector)
    _slot_id, booking = await _book_first_slot(database, person_id, now=NOW - timedelta(days=1))
    text = DOSES_HEADER + "001 190 012 345,1,Pfizer,FK8891,30/11/2026,hcm-benthanh,\n"

    report = await _import_doses(database, protector, text)
    assert (_counts(report), report.problems) == ((1, 0, 0), [])
    async with database.read_scope() as session:
        dose = await session.scalar(select(Vaccination))
        attended = await session.get(Booking, booking.id)
        notices = (await session.scalars(select(OutboxMessage))).all()
        trail = (await session.scalars(select(AuditEvent))).all()
    assert dose is not None
    assert (dose.person_id, dose.dose_number, dose.product, dose.lot, dose.given_on) == (
        person_id,
        1,
        "pfizer",
        "FK8891",
        date(2026, 11, 30),
    )
    assert (dose.site_id, dose.booking_id, dose.source, dose.recorded_by) == (
        "hcm-benthanh",
        booking.id,
        "import",
        None,
    )
    assert attended is not None and attended.status == bookings.ATTENDED
    assert [(n.channel, n.chat_id, n.account_id) for n in notices] == [("web", "c1", account_id)]
    assert "Trạm Y tế phường Bến Thành" in notices[0].body["text"]
    assert [(a.actor, a.action) for a in trail] == [("cli:import-vaccinations", "dose_recorded")]

    again = await _import_doses(database, protector, text)
    assert (_counts(again), again.problems) == ((0, 0, 1), [])
    assert await _count(database, OutboxMessage) == 1
    assert await _count(database, Vaccination) == 1
    assert await _count(database, AuditEvent) == 1


async def test_dose_with_its_booking_code_and_without_a_site(
    database: Database, protector: DataProtector
) -> None:
    await _import_sites(database, SITES)
    await _import_slots(database, SLOTS_HEADER + "hcm-tandinh,2026-11-30,07:30,08:30,5\n")
    _, person_id = await _register(database, protector)
    _slot_id, booking = await _book_first_slot(database, person_id, now=NOW - timedelta(days=1))
    code = booking.code.lower()
    text = DOSES_HEADER + f"{ID_NUMBER},1,astrazeneca (vaxzevria),AB1,2026-11-30,,{code}\n"
    report = await _import_doses(database, protector, text)
    assert (_counts(report), report.problems) == ((1, 0, 0), [])
    async with database.read_scope() as session:
        dose = await session.scalar(select(Vaccination))
        attended = await session.get(Booking, booking.id)
    assert dose is not None
    assert (dose.product, dose.site_id, dose.booking_id) == ("astrazeneca", None, booking.id)
    assert attended is not None and attended.status == bookings.ATTENDED


async def test_bad_dose_rows_are_reported_and_never_show_the_id_number(
    database: Database, protector: DataProtector
) -> None:
    await _import_sites(database, SITES)
    await _import_slots(database, SLOTS_HEADER + "hcm-benthanh,2026-11-30,07:30,08:30,5\n")
    _, person_id = await _register(database, protector)
    _, other_id = await _register(database, protector, "079195004321", chat_id="c2")
    async with database.session_scope() as session:
        slot_id = await session.scalar(select(Slot.id))
        assert slot_id is not None
        others = await book(
            session,
            person_id=other_id,
            slot_id=slot_id,
            dose_number=1,
            screening={},
            needs_screening=False,
            now=NOW - timedelta(days=1),  # booked the day before
        )
        assert others is not None
    text = (
        DOSES_HEADER
        + f"{ID_NUMBER},1,pfizer,FK1,2026-11-02,hcm-benthanh,\n"  # line 2: fine
        + "001190099999,1,pfizer,FK1,2026-11-02,hcm-benthanh,\n"
        + "12345,1,pfizer,FK1,2026-11-02,hcm-benthanh,\n"
        + "001190012,1,pfizer,FK1,2026-11-02,hcm-benthanh,\n"
        + f"{ID_NUMBER},2,covaxin,FK1,2026-11-23,hcm-benthanh,\n"
        + f"{ID_NUMBER},2,pfizer,,2026-11-23,hcm-benthanh,\n"
        + f"{ID_NUMBER},2,pfizer,FK2,2026-12-01,hcm-benthanh,\n"
        + f"{ID_NUMBER},2,pfizer,FK2,2026-11-23,nowhere,\n"
        + f"{ID_NUMBER},6,pfizer,FK2,2026-11-23,hcm-benthanh,\n"
        + f"{ID_NUMBER},3,pfizer,FK2,2026-11-23,hcm-benthanh,\n"
        + f"{ID_NUMBER},1,moderna,MO1,2026-11-02,hcm-benthanh,\n"
        + f"{ID_NUMBER},2,pfizer,FK2,2026-11-23,hcm-benthanh,{others.code}\n"
        + f"{ID_NUMBER},2,pfizer,FK2,2026-11-23,hcm-benthanh,ZZZZZZZ\n"
        + f"{ID_NUMBER},2,pfizer,FK2,2026-11-23,hcm-benthanh,\n"  # line 15: fine
    )
    report = await _import_doses(database, protector, text)
    assert _counts(report) == (2, 0, 0)
    assert report.problems == [
        (3, "no registered person with this ID number (0011******99)"),
        (4, "the ID number must be 12 digits"),
        (5, "a 9-digit CMND number is no longer valid: give the 12-digit ID number"),
        (
            6,
            "unknown product 'covaxin': one of astrazeneca, pfizer, moderna, verocell, "
            "hayatvax, sputnikv, abdala, janssen",
        ),
        (7, "lot is empty"),
        (8, "given_on 2026-12-01 is in the future"),
        (9, "no site with site_id 'nowhere'"),
        (10, "dose_number must be between 1 and 5, not 6"),
        (11, "dose 3 cannot be recorded before the doses before it"),
        (
            12,
            "dose 1 of this person is already recorded with another product, lot or date",
        ),
        (13, f"booking {others.code} belongs to someone else"),
        (14, "no booking with booking_code 'ZZZZZZZ'"),
    ]
    for _line, reason in report.problems:
        assert "001190099999" not in reason and ID_NUMBER not in reason
    async with database.read_scope() as session:
        doses = (await session.scalars(select(Vaccination).order_by(Vaccination.id))).all()
    assert [(d.person_id, d.dose_number, d.lot) for d in doses] == [
        (person_id, 1, "FK1"),
        (person_id, 2, "FK2"),
    ]


# -- the demo data and the sample files ------------------------------------------------------


async def test_demo_sites_and_slots_are_seeded_once_and_kept_two_weeks_ahead(
    database: Database, protector: DataProtector
) -> None:
    async with database.session_scope() as session:
        assert await seed_demo(session, protector, now=NOW)
    async with database.session_scope() as session:
        assert not await seed_demo(session, protector, now=NOW)
    assert await _count(database, Site) == len(DEMO_SITES) == 4
    # 10:00 in Vietnam: today keeps its 10:30, 13:30, 14:30 and 15:30 slots, then 13 full days.
    assert await _count(database, Slot) == 4 * (4 + 13 * 7)
    async with database.read_scope() as session:
        first = await session.scalar(select(func.min(Slot.starts_at)))
        last = await session.scalar(select(func.max(Slot.starts_at)))
        wards = set(await session.scalars(select(Site.ward_code)))
    assert first == datetime(2026, 11, 30, 3, 30, tzinfo=UTC)  # 10:30 in Vietnam
    assert last == datetime(2026, 12, 13, 8, 30, tzinfo=UTC)  # 15:30 on 13/12
    assert wards == {26743, 26740, 26737}

    async with database.session_scope() as session:  # the next day adds one more day
        assert await seed_demo(session, protector, now=NOW + timedelta(days=1))
    assert await _count(database, Slot) == 4 * (4 + 14 * 7)


async def test_sample_files_import_cleanly_over_the_demo_data(
    database: Database, protector: DataProtector
) -> None:
    async with database.session_scope() as session:
        await seed_demo(session, protector, now=NOW)
    sites = await _import_sites(database, SAMPLES / "sites.csv")
    assert (_counts(sites), sites.problems) == ((0, 0, 4), [])  # the demo sites themselves
    slots = await _import_slots(database, SAMPLES / "slots.csv")
    assert (_counts(slots), slots.problems) == ((6, 0, 0), [])
    await _register(database, protector, "079190012345")
    async with database.session_scope() as session:
        doses = await import_vaccinations(
            session,
            SAMPLES / "vaccinations.csv",
            protector=protector,
            authority=AUTHORITY,
            now=NOW,
        )
    assert _counts(doses) == (2, 0, 0)
    assert doses.problems == [(4, "no registered person with this ID number (0011******21)")]


async def test_dose_given_elsewhere_cancels_the_appointment_and_frees_its_place(
    database: Database, protector: DataProtector
) -> None:
    await _import_sites(database, SITES)
    await _import_slots(database, SLOTS_HEADER + "hcm-benthanh,2026-12-02,07:30,08:30,5\n")
    _account_id, person_id = await _register(database, protector)
    slot_id, booking = await _book_first_slot(database, person_id, now=NOW)
    # Given at another site before the appointment: the appointment is moot.
    text = DOSES_HEADER + "001190012345,1,pfizer,FK8891,30/11/2026,hcm-tandinh,\n"
    report = await _import_doses(database, protector, text)
    assert (_counts(report), report.problems) == ((1, 0, 0), [])
    async with database.read_scope() as session:
        cancelled = await session.get(Booking, booking.id)
        slot = await session.get(Slot, slot_id)
        dose = await session.scalar(select(Vaccination))
    assert cancelled is not None and cancelled.status == bookings.CANCELLED
    assert slot is not None and slot.booked == 0
    assert dose is not None and dose.booking_id is None


async def test_a_site_phone_is_optional_and_checked(database: Database) -> None:
    header = "site_id,name,address,province_code,ward_code,phone\n"
    report = await _import_sites(
        database,
        header + "a,Trạm A,1 Lê Lợi,79,26743,028 3829 1234\nb,Trạm B,2 Lê Lợi,79,26743,\n",
    )
    assert (_counts(report), report.problems) == ((2, 0, 0), [])
    report = await _import_sites(database, header + "a,Trạm A,1 Lê Lợi,79,26743,gọi tôi\n")
    assert report.problems == [(2, "phone must be 3 to 20 digits, spaces or dots, not 'gọi tôi'")]
    report = await _import_sites(database, header + "b,Trạm B,2 Lê Lợi,79,26743,0283 111 222\n")
    assert _counts(report) == (0, 1, 0)
    async with database.read_scope() as session:
        phones = [(await session.get(Site, key)).phone for key in ("a", "b")]  # type: ignore[union-attr]
    assert phones == ["028 3829 1234", "0283 111 222"]
