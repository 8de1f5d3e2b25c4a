"""The migrations build exactly the schema the models describe, on every engine."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from storage.db import Database, alembic_config
from storage.models import Base


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models(database: Database) -> None:
    async with database.engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


def _upgrade_to(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def test_upgrading_keeps_who_recorded_a_dose(db_url: str) -> None:
    # 0003 adds a column to `staff`; rebuilding that table (SQLite batch mode) with foreign
    # keys on would have nulled `vaccinations.recorded_by`.
    db = Database(db_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade_to, "0002")
    now = "2026-11-30 00:00:00+00:00"
    statements = [
        "INSERT INTO accounts (id, channel, chat_id, locale, created_at) "
        f"VALUES (1, 'web', 'c1', 'vi', '{now}')",
        "INSERT INTO people (id, account_id, full_name, birth_date, gender, id_sealed, id_index,"
        " province_code, ward_code, divisions_version, priority_group, is_holder, created_at)"
        f" VALUES (1, 1, 'An', '1990-01-02', 'male', :blob, 'idx', 79, 26743, 'x', '', false,"
        f" '{now}')",
        "INSERT INTO staff (id, channel, user_id, role, wards, sites, created_at) "
        f"VALUES (7, 'telegram', '42', 'site_staff', '[]', '[]', '{now}')",
        "INSERT INTO vaccinations (id, person_id, dose_number, product, lot, given_on, source,"
        f" recorded_by, created_at) VALUES (1, 1, 1, 'pfizer', 'L1', '2026-11-29', 'chat', 7,"
        f" '{now}')",
    ]
    async with db.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement), {"blob": b"x"})
    await db.migrate()
    async with db.engine.connect() as conn:
        recorded_by = (await conn.execute(text("SELECT recorded_by FROM vaccinations"))).scalar()
    await db.dispose()
    assert recorded_by == 7
