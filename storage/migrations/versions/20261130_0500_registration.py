"""registration: people, sites, slots, bookings, vaccinations, staff, audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", ondelete="SET NULL", name="fk_people_account_id_accounts"
            ),
        ),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("gender", sa.String(8), nullable=False),
        sa.Column("id_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("id_index", sa.String(64), nullable=False),
        sa.Column("phone_sealed", sa.LargeBinary()),
        sa.Column("phone_index", sa.String(64)),
        sa.Column("province_code", sa.Integer(), nullable=False),
        sa.Column("ward_code", sa.Integer(), nullable=False),
        sa.Column("divisions_version", sa.String(16), nullable=False),
        sa.Column("priority_group", sa.String(16), nullable=False),
        sa.Column("is_holder", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("id_index", name="uq_people_id_index"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_people_account_id", "people", ["account_id"])
    op.create_index("ix_people_phone_index", "people", ["phone_index"])
    op.create_index("ix_people_ward_code", "people", ["ward_code"])
    op.create_table(
        "sites",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("province_code", sa.Integer(), nullable=False),
        sa.Column("ward_code", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_sites_province_code", "sites", ["province_code"])
    op.create_index("ix_sites_ward_code", "sites", ["ward_code"])
    op.create_table(
        "slots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "site_id",
            sa.String(32),
            sa.ForeignKey("sites.id", ondelete="CASCADE", name="fk_slots_site_id_sites"),
            nullable=False,
        ),
        sa.Column("starts_at", UTC_DATETIME, nullable=False),
        sa.Column("ends_at", UTC_DATETIME, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.UniqueConstraint("site_id", "starts_at", name="uq_slots_site_id"),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_slots_places"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey("people.id", ondelete="CASCADE", name="fk_bookings_person_id_people"),
            nullable=False,
        ),
        sa.Column(
            "slot_id",
            sa.Integer(),
            sa.ForeignKey("slots.id", name="fk_bookings_slot_id_slots"),
            nullable=False,
        ),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("needs_screening", sa.Boolean(), nullable=False),
        sa.Column("screening", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("code", name="uq_bookings_code"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_bookings_person_id", "bookings", ["person_id"])
    op.create_index("ix_bookings_slot_id", "bookings", ["slot_id"])
    op.create_index(
        "uq_bookings_active_dose",
        "bookings",
        ["person_id", "dose_number"],
        unique=True,
        sqlite_where=sa.text("status = 'booked'"),
        postgresql_where=sa.text("status = 'booked'"),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(120)),
        sa.Column("wards", sa.JSON(), nullable=False),
        sa.Column("sites", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("channel", "user_id", "role", name="uq_staff_channel"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "vaccinations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey(
                "people.id", ondelete="CASCADE", name="fk_vaccinations_person_id_people"
            ),
            nullable=False,
        ),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("lot", sa.String(40), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column(
            "site_id",
            sa.String(32),
            sa.ForeignKey("sites.id", ondelete="SET NULL", name="fk_vaccinations_site_id_sites"),
        ),
        sa.Column(
            "booking_id",
            sa.Integer(),
            sa.ForeignKey(
                "bookings.id", ondelete="SET NULL", name="fk_vaccinations_booking_id_bookings"
            ),
        ),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column(
            "recorded_by",
            sa.Integer(),
            sa.ForeignKey(
                "staff.id", ondelete="SET NULL", name="fk_vaccinations_recorded_by_staff"
            ),
        ),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("person_id", "dose_number", name="uq_vaccinations_person_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("vaccinations")
    op.drop_table("staff")
    op.drop_table("bookings")
    op.drop_table("slots")
    op.drop_table("sites")
    op.drop_table("people")
