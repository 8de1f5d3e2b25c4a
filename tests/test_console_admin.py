"""The admins' pages: the audit log (filters, pages, CSV export) and one staff role's changes."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Service
from bot.i18n import TIMEZONE
from storage import staff as staff_store
from storage.models import AuditEvent, ConsoleAccount, StaffMember
from tests.console import StaffBrowser, add_sites, add_staff


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    await add_sites(svc)
    await add_staff(svc, "admin", "admin", name="Anh Quản")
    await add_staff(svc, "lan", "ward_staff", name="Chị Lan", wards=(26743,))
    await add_staff(svc, "scan", "sampler", name="Máy quét", sites=("hcm-saigon",))
    async with TestClient(TestServer(svc.web_app)) as client:
        yield client


async def write_trail(svc: Service, count: int, *, action: str = "dose_recorded") -> None:
    """`count` lines of the audit log, one a minute, the newest last."""
    async with svc.db.session_scope() as session:
        start = svc.clock() - timedelta(minutes=count)
        for n in range(count):
            await staff_store.audit(
                session,
                actor="telegram:42 Chị Hoa (site_staff)",
                action=action,
                subject=f"person:{n}",
                now=start + timedelta(minutes=n),
                detail={"n": n},
            )


async def member_id(svc: Service, login: str) -> int:
    async with svc.db.read_scope() as session:
        found = await session.scalar(select(StaffMember.id).where(StaffMember.user_id == login))
    assert found is not None
    return found


async def trail(svc: Service) -> list[AuditEvent]:
    async with svc.db.read_scope() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def test_the_audit_log_pages_newest_first_and_filters(
    client: TestClient, svc: Service
) -> None:
    await write_trail(svc, 120)
    await write_trail(svc, 3, action="broadcast_sent")
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    assert await admin.get("/console/audit") == 200
    assert "Nhật ký thao tác" in admin.page
    assert admin.page.index("person:2<") < admin.page.index("person:119<")  # broadcasts first
    await admin.get("/console/audit?action=dose_recorded")
    assert "person:70<" in admin.page and "person:69<" not in admin.page  # 50 a page
    older = admin.page.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert await admin.get(older.replace("&amp;", "&")) == 200
    assert "person:69<" in admin.page and "person:70<" not in admin.page
    await admin.get("/console/audit?action=broadcast_sent")
    assert admin.page.count("broadcast_sent</td>") == 3 and "dose_recorded</td>" not in admin.page
    await admin.get("/console/audit?actor=hoa&action=no_such_action")
    assert "dose_recorded</td>" in admin.page  # an unknown action is ignored, not an error
    await admin.get("/console/audit?actor=nobody")
    assert "Không có dòng nào" in admin.page


async def test_days_filter_and_bad_days_are_answered(client: TestClient, svc: Service) -> None:
    await write_trail(svc, 3)
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    today = svc.clock().astimezone(TIMEZONE).date()
    yesterday = today - timedelta(days=1)
    await admin.get(f"/console/audit?action=dose_recorded&to={yesterday.isoformat()}")
    assert "dose_recorded</td>" not in admin.page
    await admin.get(f"/console/audit?action=dose_recorded&from={today:%d/%m/%Y}")
    assert admin.page.count("dose_recorded</td>") == 3
    for query in ("from=31/02/2026", "to=<script>", "from=2026-12-09&to=2026-12-01", "before=x"):
        assert await admin.get(f"/console/audit?{query}") == 200, query
        assert "<script>" not in admin.page.split("<main")[1]
    await admin.get("/console/audit?from=2026-12-09&to=2026-12-01")
    assert "Ngày bắt đầu ở sau ngày kết thúc" in admin.page


async def test_the_export_is_excel_safe_filtered_and_audited(
    client: TestClient, svc: Service
) -> None:
    await write_trail(svc, 2)
    async with svc.db.session_scope() as session:
        await staff_store.audit(
            session,
            actor='=HYPERLINK("http://evil","click") (x)',
            action="dose_recorded",
            subject="+1+1",
            now=svc.clock(),
        )
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    response = await client.get(
        "/console/audit.csv?action=dose_recorded",
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in admin.cookies.items())},
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    body = await response.read()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))
    assert rows[0] == ["time", "actor", "action", "subject", "detail"]
    assert len(rows) == 4 and {row[2] for row in rows[1:]} == {"dose_recorded"}
    assert rows[1][1] == '\'=HYPERLINK("http://evil","click") (x)' and rows[1][3] == "'+1+1"
    assert rows[2][1] == "telegram:42 Chị Hoa (site_staff)" and rows[2][4] == '{"n": 1}'
    exported = [event for event in await trail(svc) if event.action == "audit_exported"]
    assert len(exported) == 1 and exported[0].actor.startswith("console:admin")
    assert exported[0].detail == {"action": "dose_recorded"}


async def test_an_admin_changes_a_scope_and_bad_scopes_are_refused(
    client: TestClient, svc: Service
) -> None:
    lan = await member_id(svc, "lan")
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    await admin.get("/console/staff")
    assert f'href="/console/staff/{lan}"' in admin.page
    assert await admin.get(f"/console/staff/{lan}") == 200
    for wards in ("", "12", "abc", "26743, 99999999"):
        assert await admin.post(f"/console/staff/{lan}", name="Chị Lan", wards=wards) == 422
        assert 'role="alert"' in admin.page
    await admin.get(f"/console/staff/{lan}")
    assert await admin.post(f"/console/staff/{lan}", name="Chị Lan", sites="no-site") == 422
    await admin.get(f"/console/staff/{lan}")
    assert await admin.post(f"/console/staff/{lan}", name="Chị Lan", wards="26743, 26740") == 303
    async with svc.db.read_scope() as session:
        member = await session.get(StaffMember, lan)
    assert member is not None and member.wards == [26743, 26740]
    changed = [event for event in await trail(svc) if event.action == "staff_scope_changed"]
    assert len(changed) == 1 and changed[0].subject == "staff:console:lan"
    assert changed[0].detail["before"]["wards"] == [26743]
    officer = StaffBrowser(client)
    await officer.sign_in("lan")
    assert await officer.get("/console/wards/26740") == 200  # the new ward is theirs at once
    assert await officer.get(f"/console/staff/{lan}") == 403


async def test_a_reset_password_stops_the_old_one_and_signs_out_everywhere(
    client: TestClient, svc: Service
) -> None:
    officer = StaffBrowser(client)
    await officer.sign_in("lan")
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    lan = await member_id(svc, "lan")
    await admin.get(f"/console/staff/{lan}")
    assert await admin.post(f"/console/staff/{lan}/password") == 200
    link = admin.page.split('<code id="shown-once">')[1].split("</code>")[0]
    assert "/console/password/" in link
    assert await officer.get("/console/") == 303  # signed out
    assert await StaffBrowser(client).sign_in("lan") == 401  # the old password is gone
    path = link[link.index("/console/") :]
    setter = StaffBrowser(client)
    await setter.get(path)
    new = "a new long password"
    assert await setter.post(path, password=new, repeated=new) == 303
    assert await StaffBrowser(client).sign_in("lan", new) == 303
    reset = [event for event in await trail(svc) if event.action == "staff_password_reset"]
    assert len(reset) == 1 and reset[0].detail["sessions_ended"] == 1
    assert link.split("/password/")[1] not in str(reset[0].detail)


async def test_a_new_api_key_is_shown_once_and_the_old_one_stops(
    client: TestClient, svc: Service
) -> None:
    scan = await member_id(svc, "scan")
    async with svc.db.session_scope() as session:
        member = await session.get(StaffMember, scan)
        assert member is not None
        old = await staff_store.issue_api_key(session, member)
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    await admin.get(f"/console/staff/{scan}")
    assert await admin.post(f"/console/staff/{scan}/key") == 200
    key = admin.page.split('<code id="shown-once">')[1].split("</code>")[0]
    async with svc.db.read_scope() as session:
        assert await staff_store.staff_by_api_key(session, old) is None
        found = await staff_store.staff_by_api_key(session, key)
    assert found is not None and found.id == scan
    await admin.get(f"/console/staff/{scan}")
    assert key not in admin.page  # shown once
    rotated = [event for event in await trail(svc) if event.action == "api_key_rotated"]
    assert len(rotated) == 1 and key not in str(rotated[0].detail)
    lan = await member_id(svc, "lan")
    await admin.get(f"/console/staff/{lan}")
    assert await admin.post(f"/console/staff/{lan}/key") == 403  # no key for a ward officer


async def test_a_role_is_taken_away_but_never_ones_own_admin(
    client: TestClient, svc: Service
) -> None:
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    own = await member_id(svc, "admin")
    await admin.get(f"/console/staff/{own}")
    assert await admin.post(f"/console/staff/{own}/remove") == 409
    assert "không thể tự bỏ vai trò quản trị" in admin.page.lower()
    lan = await member_id(svc, "lan")
    officer = StaffBrowser(client)
    await officer.sign_in("lan")
    await admin.get(f"/console/staff/{lan}")
    assert await admin.post(f"/console/staff/{lan}/remove") == 303
    assert admin.location == "/console/staff?done=removed"
    async with svc.db.read_scope() as session:
        assert await session.get(StaffMember, lan) is None
        assert await session.scalar(select(ConsoleAccount).where(ConsoleAccount.login == "lan"))
    assert await officer.get("/console/wards/26743") == 303  # no role left: signed out
    assert officer.location.startswith("/console/sign-in")
    assert await admin.get(f"/console/staff/{lan}") == 403  # gone
    assert await admin.get("/console/staff/99999999999999") == 403
    assert [e.action for e in await trail(svc)].count("staff_removed") == 1


async def test_an_admin_gives_the_same_person_another_role(
    client: TestClient, svc: Service
) -> None:
    lan = await member_id(svc, "lan")
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    await admin.get(f"/console/staff/{lan}")
    assert await admin.post(f"/console/staff/{lan}/roles", role="ward_staff", wards="26740") == 422
    assert "đã có vai trò này" in admin.page
    for fields in (
        {"role": "sampler"},
        {"role": "site_staff"},
        {"role": "site_staff", "sites": "x"},
    ):
        assert await admin.post(f"/console/staff/{lan}/roles", **fields) == 422, fields
    assert (
        await admin.post(f"/console/staff/{lan}/roles", role="site_staff", sites="hcm-saigon")
        == 303
    )
    assert admin.location.endswith("?done=added")
    async with svc.db.read_scope() as session:
        roles = await staff_store.roles_of(session, channel="console", user_id="lan")
    assert sorted((r.role, tuple(r.sites)) for r in roles) == [
        ("site_staff", ("hcm-saigon",)),
        ("ward_staff", ()),
    ]
    officer = StaffBrowser(client)
    await officer.sign_in("lan")
    assert await officer.get("/console/sites/hcm-saigon") == 200  # both roles' scope, together
    assert await officer.get("/console/wards/26743") == 200
    added = [e for e in await trail(svc) if e.action == "staff_added"]
    assert len(added) == 1 and added[0].detail["role"] == "site_staff"
