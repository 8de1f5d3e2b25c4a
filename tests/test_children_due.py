"""Due lists and coverage per ward on a fixed day, pure and through `run_bot.py children`."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Service
from bot.domain.immunisation.due_list import ChildRow, coverage, due_list, mask_name
from bot.domain.immunisation.rules import DoseRecord, DoseStatus, State
from bot.domain.immunisation.schedule import load_schedule
from run_bot import main
from storage import children
from storage.db import Database
from storage.models import Child, Site
from tests.clock import START, Clock
from tests.console import StaffBrowser, add_staff

TODAY = START.date()  # Thursday 03/12/2026 in Vietnam
BT = 26743
GIVEN = DoseStatus.GIVEN


def _born_with(born: date, *given: tuple[str, date, DoseStatus]) -> tuple[DoseRecord, ...]:
    return tuple(DoseRecord(code, 1, day, status) for code, day, status in given)


# (id, name, born, records): a table of children of one ward on TODAY.
REPORTED = DoseStatus.REPORTED
TABLE = [
    # 2 months old on 01/12: the 2-month doses are due (not overdue: a month of margin).
    ChildRow(
        1,
        "Lê Minh An",
        date(2026, 10, 1),
        _born_with(
            date(2026, 10, 1),
            ("hepb_birth", date(2026, 10, 1), GIVEN),
            ("bcg", date(2026, 10, 5), REPORTED),
        ),
    ),
    # 2 months old on 08/12: due within the week.
    ChildRow(
        2,
        "Trần Bảo Ngọc",
        date(2026, 10, 8),
        _born_with(
            date(2026, 10, 8),
            ("hepb_birth", date(2026, 10, 8), REPORTED),
            ("bcg", date(2026, 10, 8), REPORTED),
        ),
    ),
    # 2 months old on 20/12: not this week.
    ChildRow(
        3,
        "Phạm Gia Huy",
        date(2026, 10, 20),
        _born_with(
            date(2026, 10, 20),
            ("hepb_birth", date(2026, 10, 20), REPORTED),
            ("bcg", date(2026, 10, 20), REPORTED),
        ),
    ),
    # 22 months old and never vaccinated: overdue, first on the list.
    ChildRow(4, "Võ Thị Mai", date(2025, 2, 10)),
]


def test_the_due_list_of_the_coming_week() -> None:
    found = due_list(load_schedule(), TABLE, today=TODAY, days=7)
    assert [entry.child.id for entry in found] == [4, 1, 2]
    late, due, soon = found
    assert late.overdue and {d.dose.vaccine for d in late.doses} >= {"bcg", "dtp", "measles"}
    assert "hepb_birth" not in {d.dose.vaccine for d in late.doses}  # too old for it now
    assert {(d.dose.vaccine, d.dose.number, d.state) for d in due.doses} == {
        ("dtp", 1, State.DUE),
        ("opv", 1, State.DUE),
        ("rota", 1, State.DUE),
    }
    assert due.first_day == date(2026, 12, 1) and not due.overdue
    assert {d.state for d in soon.doses} == {State.UPCOMING}
    assert soon.first_day == date(2026, 12, 8)
    assert [e.child.id for e in due_list(load_schedule(), TABLE, today=TODAY, days=0)] == [4, 1]
    assert [e.child.id for e in due_list(load_schedule(), TABLE, today=TODAY, days=30)] == [
        4,
        1,
        2,
        3,
    ]


def test_coverage_per_dose() -> None:
    lines = {
        (c.dose.vaccine, c.dose.number): c for c in coverage(load_schedule(), TABLE, today=TODAY)
    }
    birth = lines[("hepb_birth", 1)]
    assert (birth.eligible, birth.covered, birth.confirmed) == (4, 3, 1)
    assert birth.percent == pytest.approx(75.0)
    dtp1 = lines[("dtp", 1)]
    assert (dtp1.eligible, dtp1.covered, dtp1.confirmed) == (2, 0, 0)
    measles1 = lines[("measles", 1)]
    assert (measles1.eligible, measles1.covered) == (1, 0)
    assert lines[("td", 1)].eligible == 0 and lines[("td", 1)].percent == 0.0


def test_names_are_masked() -> None:
    assert mask_name("Lê Minh An") == "L. M. A."
    assert mask_name("  ") == "-"


NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def _seed(db: Database) -> None:
    await db.migrate()
    async with db.session_scope() as session:
        session.add(Site(id="tyt-bt", name="TYT", address="x", province_code=79, ward_code=BT))
        for row in [*TABLE, ChildRow(5, "Đỗ Văn Cũ", date(2008, 1, 1))]:
            child = await children.add_child(
                session,
                Child(
                    full_name=row.name,
                    birth_date=row.born,
                    gender="male",
                    ward_code=BT,
                    created_at=NOW,
                ),
            )
            for record in row.records:
                await children.add_dose(
                    session,
                    child_id=child.id,
                    vaccine=record.vaccine,
                    dose_number=record.number,
                    given_on=record.given_on,
                    status=record.status.value,
                    site_id="tyt-bt" if record.status is GIVEN else None,
                    now=NOW,
                )
        other = Child(full_name="Ngoài Phường", birth_date=date(2025, 1, 1), gender="male")
        other.ward_code, other.created_at = 26740, NOW
        await children.add_child(session, other)
    await db.dispose()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv), clock=Clock())
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).splitlines()


def test_cli_due_list_and_coverage(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_seed(Database(env)))
    code, out = _run(capsys, "children", "due", "--ward", str(BT))
    assert code == 0, out
    assert out[0] == "Due list for Phường Bến Thành, 03/12/2026 + 7 days: 3 children"
    assert out[1].startswith("#4 V. T. M. born 10/02/2025: ")
    assert "(overdue, due " in out[1]
    assert out[2].startswith("#1 L. M. A. born 01/10/2026: ") and "(due, due 01/12/2026)" in out[2]
    assert out[3].startswith("#2 T. B. N. born 08/10/2026: ") and "upcoming" in out[3]
    assert not any("Lê" in line or "Cũ" in line for line in out)  # masked; over-age left out
    code, out = _run(capsys, "children", "coverage", "--ward", str(BT))
    assert code == 0 and out[0] == "Coverage in Phường Bến Thành on 03/12/2026: 4 children"
    assert out[1].split() == ["vaccine", "dose", "eligible", "covered", "%", "confirmed"]
    assert out[2].split() == ["hepb_birth", "1", "4", "3", "75.0", "1"]
    assert _run(capsys, "children", "due", "--ward", "1") == (2, ["error: no ward with code 1"])
    assert _run(capsys, "children", "due", "--ward", str(BT), "--days", "-1")[0] == 2


async def test_the_console_shows_the_wards_due_list_and_coverage(svc: Service) -> None:
    await _seed(Database(svc.settings.database_url))
    await add_staff(svc, "ward", "ward_staff", name="Chị Lan", wards=(BT,))
    await add_staff(svc, "other", "ward_staff", name="Anh Tư", wards=(26740,))
    async with TestClient(TestServer(svc.web_app)) as client:
        officer = StaffBrowser(client)
        await officer.sign_in("ward")
        await officer.get(f"/console/wards/{BT}")
        assert f'href="/console/wards/{BT}/children"' in officer.page
        assert await officer.get(f"/console/wards/{BT}/children") == 200
        page = officer.page.split("<main", 1)[1]
        assert "4 trẻ" in page  # the over-age child is left out
        assert page.index("V. T. M.") < page.index("L. M. A.") < page.index("T. B. N.")
        assert "quá hạn" in page and "Lê" not in page and "Cũ" not in page  # masked
        assert "Viêm gan B sơ sinh" in page or "hepb" in page.lower()
        other = StaffBrowser(client)
        await other.sign_in("other")
        assert await other.get(f"/console/wards/{BT}/children") == 403
        assert await other.get("/console/wards/1/children") == 403
