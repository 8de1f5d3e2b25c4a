"""Children and their doses in storage, on every engine: sealed IDs, reported and given doses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from bot.crypto import DataProtector, generate_key
from bot.domain.erasure import erase_citizen
from bot.domain.identity import id_index
from storage import accounts, children
from storage.db import Database
from storage.models import Child, ChildDose, Site

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
PROTECTOR = DataProtector(generate_key().encode())
NUMBER = "079226000123"


def _child(account_id: int | None, name: str, *, number: str | None = None) -> Child:
    return Child(
        account_id=account_id,
        full_name=name,
        birth_date=date(2026, 5, 4),
        gender="female",
        id_sealed=PROTECTOR.seal(number) if number else None,
        id_index=id_index(PROTECTOR, number) if number else None,
        ward_code=26743,
        created_at=NOW,
    )


async def _account(db: Database, chat_id: str = "c1") -> int:
    async with db.session_scope() as session:
        account, _row = await accounts.open_chat(
            session, channel="web", chat_id=chat_id, user_id=None, locale="vi", now=NOW
        )
        return account.id


async def test_children_stored_with_the_id_sealed(database: Database) -> None:
    account_id = await _account(database)
    async with database.session_scope() as session:
        await children.add_child(session, _child(account_id, "Lê Minh An", number=NUMBER))
        await children.add_child(session, _child(account_id, "Lê Bé Hai"))  # a newborn
    async with database.read_scope() as session:
        listed = await children.children_of(session, account_id)
        found = await children.find_by_id_index(session, id_index(PROTECTOR, NUMBER))
        raw = (await session.execute(text("SELECT id_sealed FROM children"))).scalars().all()
        assert await children.count_children(session, account_id) == 2
    assert [c.full_name for c in listed] == ["Lê Minh An", "Lê Bé Hai"]
    assert found is not None and found.full_name == "Lê Minh An"
    assert listed[1].id_sealed is None and listed[1].id_index is None
    assert all(NUMBER.encode() not in bytes(blob) for blob in raw if blob is not None)
    assert listed[0].id_sealed is not None and PROTECTOR.open(listed[0].id_sealed) == NUMBER


async def test_an_id_number_is_registered_once(database: Database) -> None:
    account_id = await _account(database)
    async with database.session_scope() as session:
        await children.add_child(session, _child(account_id, "Lê Minh An", number=NUMBER))
    with pytest.raises(IntegrityError):
        async with database.session_scope() as session:
            await children.add_child(session, _child(account_id, "Lê Minh Ba", number=NUMBER))


async def test_reported_dose_confirmed_by_a_site(database: Database) -> None:
    account_id = await _account(database)
    async with database.session_scope() as session:
        session.add(Site(id="s1", name="TYT", address="x", province_code=79, ward_code=26743))
        child = await children.add_child(session, _child(account_id, "Lê Minh An"))
        reported = await children.add_dose(
            session,
            child_id=child.id,
            vaccine="bcg",
            dose_number=1,
            given_on=date(2026, 5, 4),
            date_approximate=True,
            now=NOW,
        )
        await children.add_dose(
            session,
            child_id=child.id,
            vaccine="dtp",
            dose_number=1,
            given_on=date(2026, 7, 4),
            status=children.GIVEN,
            site_id="s1",
            now=NOW,
        )
        child_id, dose_id = child.id, reported.id
    async with database.read_scope() as session:
        doses = await children.doses_of(session, child_id)
    assert [(d.vaccine, d.status, d.date_approximate) for d in doses] == [
        ("bcg", "reported", True),
        ("dtp", "given", False),
    ]
    async with database.session_scope() as session:
        confirmed = await children.confirm_dose(
            session,
            dose_id,
            site_id="s1",
            recorded_by=None,
            now=NOW,
            given_on=date(2026, 5, 6),
        )
        assert (
            await children.confirm_dose(session, 999, site_id="s1", recorded_by=None, now=NOW)
            is None
        )
    assert confirmed is not None
    async with database.read_scope() as session:
        dose = await session.get(ChildDose, dose_id)
        by_child = await children.doses_of_children(session, [child_id])
    assert dose is not None and dose.status == "given" and dose.site_id == "s1"
    assert dose.given_on == date(2026, 5, 6) and not dose.date_approximate
    assert len(by_child[child_id]) == 2


async def test_a_dose_is_recorded_once_and_storage_never_commits(database: Database) -> None:
    account_id = await _account(database)
    async with database.session_scope() as session:
        child = await children.add_child(session, _child(account_id, "Lê Minh An"))
        child_id = child.id
        with pytest.raises(ValueError, match="names the site"):
            await children.add_dose(
                session,
                child_id=child_id,
                vaccine="bcg",
                dose_number=1,
                given_on=date(2026, 5, 4),
                status=children.GIVEN,
                now=NOW,
            )
    async with database.session_scope() as session:
        await children.add_dose(
            session, child_id=child_id, vaccine="bcg", dose_number=1, given_on=NOW.date(), now=NOW
        )
        await session.rollback()  # the caller's unit of work decides
    async with database.read_scope() as session:
        assert (await session.scalars(select(ChildDose))).all() == []
    with pytest.raises(IntegrityError):
        async with database.session_scope() as session:
            for _ in range(2):
                await children.add_dose(
                    session,
                    child_id=child_id,
                    vaccine="bcg",
                    dose_number=1,
                    given_on=NOW.date(),
                    now=NOW,
                )


async def test_ward_children_by_birth_date(database: Database) -> None:
    async with database.session_scope() as session:
        for name, born, ward in [
            ("Bé Một", date(2020, 1, 1), 26743),
            ("Bé Hai", date(2025, 1, 1), 26743),
            ("Bé Ba", date(2025, 6, 1), 1),
        ]:
            child = _child(None, name)
            child.birth_date, child.ward_code = born, ward
            await children.add_child(session, child)
    async with database.read_scope() as session:
        everyone = await children.ward_children(session, 26743)
        young = await children.ward_children(session, 26743, born_after=date(2024, 1, 1))
    assert [c.full_name for c in everyone] == ["Bé Một", "Bé Hai"]
    assert [c.full_name for c in young] == ["Bé Hai"]


async def test_erasing_the_parent_keeps_only_what_a_site_gave(database: Database) -> None:
    account_id = await _account(database)
    async with database.session_scope() as session:
        session.add(Site(id="s1", name="TYT", address="x", province_code=79, ward_code=26743))
        kept = await children.add_child(session, _child(account_id, "Lê Minh An", number=NUMBER))
        gone = await children.add_child(session, _child(account_id, "Lê Bé Hai"))
        for child, status in ((kept, children.GIVEN), (kept, children.REPORTED), (gone, "")):
            await children.add_dose(
                session,
                child_id=child.id,
                vaccine="bcg" if status == children.GIVEN else "hepb",
                dose_number=1,
                given_on=date(2026, 5, 4),
                now=NOW,
                status=status or children.REPORTED,
                site_id="s1" if status == children.GIVEN else None,
            )
        kept_id, gone_id = kept.id, gone.id
    async with database.session_scope() as session:
        await erase_citizen(session, account_id, now=NOW)
    async with database.read_scope() as session:
        left = (await session.scalars(select(Child))).all()
        doses = (await session.scalars(select(ChildDose))).all()
    assert [(c.id, c.account_id, c.parent_person_id) for c in left] == [(kept_id, None, None)]
    assert [(d.child_id, d.vaccine, d.status) for d in doses] == [(kept_id, "bcg", "given")]
    assert gone_id not in {d.child_id for d in doses}
