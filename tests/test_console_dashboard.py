"""The live dashboard: figures for a ward against the city, scope, the lists, and the stream.

Rows are seeded for two wards (Bến Thành 26743 with site hcm-benthanh, Sài Gòn 26740 with
hcm-saigon); a ward officer of Bến Thành sees Bến Thành's figures only, an admin the sum.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import count

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Service
from bot.config import ConfigError, Settings
from bot.console import charts
from bot.console.dashboard import Scope, figures, local_day
from bot.console.dashboard_pages import sse
from bot.domain import booking
from bot.i18n import TIMEZONE
from storage.models import (
    Account,
    Booking,
    OutboxMessage,
    Person,
    Sample,
    SampleMember,
    Slot,
    Ticket,
    Vaccination,
)
from tests.clock import START, Clock
from tests.console import StaffBrowser, add_sites, add_staff

BT, SG = 26743, 26740
BT_SITE, SG_SITE = "hcm-benthanh", "hcm-saigon"
TODAY = START.date()
_ids = count(1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A Vietnamese moment, in UTC."""
    return datetime.combine(day, time(hour, minute), TIMEZONE).astimezone(UTC)


def person(ward: int, created: datetime, account_id: int | None = None) -> Person:
    n = next(_ids)
    return Person(
        account_id=account_id,
        full_name=f"Nguyễn Văn {n}",
        birth_date=date(1990, 1, 1),
        gender="male",
        id_sealed=b"x",
        id_index=f"id-{n}",
        province_code=79,
        ward_code=ward,
        divisions_version="2025",
        priority_group="general",
        created_at=created,
    )


async def seed(svc: Service) -> dict[str, int]:
    """Rows in both wards; returns the ids a test needs."""
    now = svc.clock()
    async with svc.db.session_scope() as session:
        accounts = [Account(channel="telegram", chat_id=str(900 + i)) for i in range(2)]
        session.add_all(accounts)
        await session.flush()
        # Bến Thành: 3 registered today, 1 three days ago; Sài Gòn: 2 today, 1 ten days ago.
        bt = [person(BT, now - timedelta(minutes=5), accounts[0].id)]
        bt += [person(BT, now - timedelta(minutes=m)) for m in (10, 20)]
        bt += [person(BT, now - timedelta(days=3))]
        sg = [person(SG, now - timedelta(minutes=1), accounts[1].id), person(SG, now)]
        sg += [person(SG, now - timedelta(days=10))]
        session.add_all(bt + sg)
        slots = {
            "bt_today": Slot(
                site_id=BT_SITE,
                starts_at=at(TODAY, 14),
                ends_at=at(TODAY, 15),
                capacity=10,
                booked=4,
            ),
            "bt_tomorrow": Slot(
                site_id=BT_SITE,
                starts_at=at(TODAY + timedelta(days=1), 8),
                ends_at=at(TODAY + timedelta(days=1), 9),
                capacity=10,
                booked=1,
            ),
            "sg_today": Slot(
                site_id=SG_SITE,
                starts_at=at(TODAY, 15),
                ends_at=at(TODAY, 16),
                capacity=5,
                booked=5,
            ),
            "bt_past": Slot(
                site_id=BT_SITE,
                starts_at=at(TODAY - timedelta(days=2), 8),
                ends_at=at(TODAY - timedelta(days=2), 9),
                capacity=10,
                booked=0,
            ),
            "sg_past": Slot(
                site_id=SG_SITE,
                starts_at=at(TODAY - timedelta(days=2), 8),
                ends_at=at(TODAY - timedelta(days=2), 9),
                capacity=10,
                booked=0,
            ),
        }
        session.add_all(slots.values())
        await session.flush()

        def booked(who: Person, slot: str, status: str, code: str) -> Booking:
            return Booking(
                code=code,
                person_id=who.id,
                slot_id=slots[slot].id,
                dose_number=1,
                status=status,
                created_at=now,
                updated_at=now,
            )

        session.add_all(
            [
                booked(bt[0], "bt_today", "booked", "BTTODAY1"),
                booked(sg[0], "sg_today", "booked", "SGTODAY1"),
                booked(bt[1], "bt_past", "attended", "BTPAST01"),
                booked(bt[2], "bt_past", "missed", "BTPAST02"),
                booked(sg[1], "sg_past", "missed", "SGPAST01"),
            ]
        )

        def dose(who: Person, site: str, product: str) -> Vaccination:
            return Vaccination(
                person_id=who.id,
                dose_number=1,
                product=product,
                lot="L1",
                given_on=TODAY - timedelta(days=1),
                site_id=site,
                source="site",
            )

        session.add_all(
            [
                dose(bt[0], BT_SITE, "Comirnaty"),
                dose(bt[1], BT_SITE, "Comirnaty"),
                dose(bt[2], BT_SITE, "Vaxzevria"),
                dose(sg[0], SG_SITE, "Comirnaty"),
            ]
        )
        taken = now - timedelta(hours=3)
        tested = Sample(
            tube_code="BT-T1",
            site_id=BT_SITE,
            taken_at=taken,
            result="negative",
            tested_at=taken + timedelta(hours=2),
            lab="Lab",
            result_version=1,
        )
        session.add_all(
            [
                tested,
                Sample(tube_code="BT-P1", site_id=BT_SITE, taken_at=now - timedelta(minutes=30)),
                Sample(tube_code="SG-P1", site_id=SG_SITE, taken_at=now - timedelta(minutes=30)),
                Sample(tube_code="SG-P2", site_id=SG_SITE, taken_at=now - timedelta(days=2)),
            ]
        )
        await session.flush()
        session.add(
            SampleMember(
                sample_id=tested.id,
                person_id=bt[0].id,
                token_id="t1",
                notified_version=1,
                notified_at=taken + timedelta(hours=2, minutes=30),
            )
        )
        opened = now - timedelta(hours=1)
        session.add_all(
            [
                Ticket(
                    account_id=accounts[0].id,
                    reason="Gọi 0912 345 678",
                    opened_at=opened,
                    claimed_by="An",
                    claimed_at=opened + timedelta(minutes=10),
                    desk_channel="telegram",
                    desk_chat_id="-1",
                ),
                Ticket(
                    account_id=accounts[1].id,
                    reason="Sài Gòn",
                    opened_at=opened,
                    desk_channel="telegram",
                    desk_chat_id="-1",
                ),
            ]
        )
        session.add_all(
            [
                OutboxMessage(
                    channel="telegram",
                    chat_id="1",
                    body={},
                    status="pending",
                    not_before=now,
                    created_at=now,
                ),
                OutboxMessage(
                    channel="zalo",
                    chat_id="2",
                    body={},
                    status="sent",
                    not_before=now,
                    created_at=now,
                    sent_at=now - timedelta(minutes=5),
                ),
            ]
        )
        await session.flush()
        return {"bt_today": slots["bt_today"].id, "person": bt[3].id}


@pytest.fixture
async def seeded(svc: Service) -> dict[str, int]:
    await add_sites(svc)
    return await seed(svc)


async def test_figures_of_a_ward_against_the_city(svc: Service, seeded: dict[str, int]) -> None:
    now = svc.clock()
    async with svc.db.read_scope() as session:
        ward = await figures(session, Scope(city=False, wards=(BT,)), now)
        city = await figures(session, Scope(city=True), now)
        site = await figures(session, Scope(city=False, sites=(SG_SITE,)), now)
    assert local_day(now) == TODAY
    assert (ward.registrations_today, ward.registrations_week) == (3, 4)
    assert (city.registrations_today, city.registrations_week) == (5, 6)
    assert [(d.booked, d.capacity) for d in ward.bookings[:2]] == [(4, 10), (1, 10)]
    assert [(d.booked, d.capacity) for d in city.bookings[:2]] == [(9, 15), (1, 10)]
    assert len(city.bookings) == 14 and city.bookings[0].day == TODAY
    assert ward.no_shows == (1, 2) and city.no_shows == (2, 3)
    assert ward.doses == [("Comirnaty", 2), ("Vaxzevria", 1)]
    assert city.doses == [("Comirnaty", 3), ("Vaxzevria", 1)]
    assert (ward.samples_today, ward.samples_week, ward.results_pending) == (2, 2, 1)
    assert (city.samples_today, city.samples_week, city.results_pending) == (3, 4, 3)
    assert ward.to_result_s == pytest.approx(7200, abs=1)
    assert ward.to_told_s == pytest.approx(1800, abs=1)
    assert (ward.tickets_open, ward.tickets_unclaimed) == (1, 0)
    assert (city.tickets_open, city.tickets_unclaimed) == (2, 1)
    assert ward.first_response_s == pytest.approx(600, abs=1)
    assert ward.outbox is None
    assert city.outbox is not None
    assert [(c.channel, c.waiting, c.sent_last_hour) for c in city.outbox] == [
        ("telegram", 1, 0),
        ("zalo", 0, 1),
    ]
    # a site's staff: their site's figures, no people's
    assert site.registrations is None and site.tickets_open is None
    assert site.bookings[0].booked == 5 and site.results_pending == 2


@pytest.fixture
async def client(svc: Service, seeded: dict[str, int]) -> AsyncIterator[TestClient]:
    await add_staff(svc, "ward", "ward_staff", wards=(BT,))
    await add_staff(svc, "admin", "admin")
    await add_staff(svc, "support", "support")
    async with TestClient(TestServer(svc.web_app)) as client:
        yield client


async def test_a_ward_officer_sees_their_ward_only(client: TestClient) -> None:
    browser = StaffBrowser(client)
    await browser.sign_in("ward")
    assert await browser.get("/console/") == 200
    assert 'href="/console/dashboard"' in browser.page
    assert await browser.get("/console/dashboard") == 200
    assert 'data-figure="booked-today">4<' in browser.page
    assert 'data-figure="tickets">1<' in browser.page
    assert "<svg" in browser.page and "<title>" in browser.page
    assert "Sài Gòn" not in browser.page
    day = TODAY.isoformat()
    assert await browser.get(f"/console/dashboard/bookings/{day}") == 200
    assert "BTTODAY1" in browser.page and "SGTODAY1" not in browser.page
    assert "Nguyễn Văn" not in browser.page  # names are masked
    assert await browser.get("/console/dashboard/pending") == 200
    assert "BT-P1" in browser.page and "SG-P1" not in browser.page
    assert await browser.get("/console/dashboard/tickets") == 200
    assert "0912 345 678" not in browser.page and "Sài Gòn" not in browser.page
    assert await browser.get("/console/dashboard/bookings/not-a-day?page=x") == 200
    assert await browser.get("/console/dashboard/missed") == 200
    assert "BTPAST02" in browser.page and "BTPAST01" not in browser.page
    assert "SGPAST01" not in browser.page


async def test_the_admin_sees_the_city_and_support_has_no_dashboard(client: TestClient) -> None:
    admin = StaffBrowser(client)
    await admin.sign_in("admin")
    assert await admin.get(f"/console/dashboard/bookings/{TODAY.isoformat()}") == 200
    assert "BTTODAY1" in admin.page and "SGTODAY1" in admin.page
    assert await admin.get("/console/dashboard") == 200
    assert 'data-figure="booked-today">9<' in admin.page
    cookie = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
    async with client.get("/console/dashboard", headers={"Cookie": cookie}) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert await admin.get("/console/static/dashboard.js") == 200
    support = StaffBrowser(client)
    await support.sign_in("support")
    assert await support.get("/console/dashboard") == 403
    assert await support.get("/console/dashboard/events") == 403
    await support.get("/console/")
    assert 'href="/console/dashboard"' not in support.page


async def next_figures(response: ClientResponse) -> str:
    """The next `figures` event's data."""
    lines: list[str] = []
    while True:
        line = (await response.content.readline()).decode().rstrip("\n")
        if line == "" and lines:
            return "\n".join(lines)
        if line.startswith("data: "):
            lines.append(line[6:])


def booked_today(html: str) -> int:
    found = re.search(r'data-figure="booked-today">(\d+)<', html)
    assert found
    return int(found.group(1))


async def test_the_stream_sends_new_figures_after_a_booking(
    svc: Service, client: TestClient, seeded: dict[str, int], clock: Clock
) -> None:
    browser = StaffBrowser(client)
    await browser.sign_in("ward")
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    async with client.get("/console/dashboard/events", headers={"Cookie": cookie}) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        first = await asyncio.wait_for(next_figures(response), 10)
        assert booked_today(first) == 4
        async with svc.db.session_scope() as session:
            made = await booking.book(
                session,
                person_id=seeded["person"],
                slot_id=seeded["bt_today"],
                dose_number=1,
                screening={},
                needs_screening=False,
                now=svc.clock(),
            )
            assert made is not None
        update = await asyncio.wait_for(next_figures(response), 10)
        assert booked_today(update) == 5


async def test_an_open_stream_does_not_hold_up_the_shutdown(
    svc: Service, seeded: dict[str, int]
) -> None:
    await add_staff(svc, "ward", "ward_staff", wards=(BT,))
    client = TestClient(TestServer(svc.web_app))
    await client.start_server()
    browser = StaffBrowser(client)
    await browser.sign_in("ward")
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    response = await client.get("/console/dashboard/events", headers={"Cookie": cookie})
    await asyncio.wait_for(next_figures(response), 10)
    # the stream waits for changes (CONSOLE_DASHBOARD_REFRESH_S is 30 s); stopping ends it now
    await asyncio.wait_for(client.server.close(), 5)
    assert await asyncio.wait_for(response.content.read(), 5) == b""  # ended, not cut
    await client.close()


def test_charts_escape_their_text_and_draw_empty_figures() -> None:
    drawn = charts.capacity_bars([("<b>", 3, 2)], title="A & B", desc="d", href=["/x?a=1&b=2"])
    assert "<title>A &amp; B</title>" in drawn and "&lt;b&gt;" in drawn
    assert 'class="full"' in drawn and 'href="/x?a=1&amp;b=2"' in drawn
    assert "<svg" in charts.bars([], title="t", desc="d")
    assert "<svg" in charts.sparkline([], title="t", desc="d")
    assert sse("<p>\n</p>") == b"event: figures\ndata: <p>\ndata: </p>\n\n"


def test_the_refresh_setting_is_read_and_checked() -> None:
    assert Settings.from_env({}).console_dashboard_refresh_s == 30.0
    assert Settings.from_env({"CONSOLE_DASHBOARD_REFRESH_S": "5"}).console_dashboard_refresh_s == 5
    for wrong in ("0", "x", "7200"):
        with pytest.raises(ConfigError, match="CONSOLE_DASHBOARD_REFRESH_S"):
            Settings.from_env({"CONSOLE_DASHBOARD_REFRESH_S": wrong})


DASHBOARD_ROUTES = (
    "/console/dashboard",
    f"/console/dashboard/bookings/{TODAY.isoformat()}",
    "/console/dashboard/pending",
    "/console/dashboard/tickets",
    "/console/dashboard/missed",
)


@pytest.mark.parametrize(
    ("login", "role", "sites", "allowed"),
    [
        ("admin", "admin", (), set(DASHBOARD_ROUTES)),
        ("ward", "ward_staff", (), set(DASHBOARD_ROUTES)),
        ("support", "support", (), set()),
        ("site", "site_staff", (SG_SITE,), set(DASHBOARD_ROUTES) - {"/console/dashboard/tickets"}),
    ],
)
async def test_every_dashboard_route_for_every_role(
    svc: Service,
    seeded: dict[str, int],
    login: str,
    role: str,
    sites: tuple[str, ...],
    allowed: set[str],
) -> None:
    await add_staff(svc, login, role, wards=(BT,) if role == "ward_staff" else (), sites=sites)
    async with TestClient(TestServer(svc.web_app)) as client:
        browser = StaffBrowser(client)
        await browser.sign_in(login)
        for path in DASHBOARD_ROUTES:
            assert await browser.get(path) == (200 if path in allowed else 403), path
        if login == "site":  # a site's staff: their site's bookings, not the other ward's
            await browser.get(DASHBOARD_ROUTES[1])
            assert "SGTODAY1" in browser.page and "BTTODAY1" not in browser.page
