"""pcr: samples, their members and results, lookup failures, staff API keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # A plain ADD COLUMN and a unique index: SQLite's batch mode would rebuild `staff`, and
    # dropping the old table with foreign keys on would null every `recorded_by` pointing at it.
    op.add_column("staff", sa.Column("api_key_hash", sa.String(64)))
    op.create_index("ix_staff_api_key_hash", "staff", ["api_key_hash"], unique=True)
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tube_code", sa.String(40), nullable=False),
        sa.Column(
            "site_id",
            sa.String(32),
            sa.ForeignKey("sites.id", ondelete="SET NULL", name="fk_samples_site_id_sites"),
        ),
        sa.Column("taken_at", UTC_DATETIME, nullable=False),
        sa.Column(
            "taken_by",
            sa.Integer(),
            sa.ForeignKey("staff.id", ondelete="SET NULL", name="fk_samples_taken_by_staff"),
        ),
        sa.Column("pooled", sa.Boolean(), nullable=False),
        sa.Column("result", sa.String(16)),
        sa.Column("tested_at", UTC_DATETIME),
        sa.Column("lab", sa.String(120)),
        sa.Column("result_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("tube_code", name="uq_samples_tube_code"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "sample_members",
        sa.Column(
            "sample_id",
            sa.Integer(),
            sa.ForeignKey(
                "samples.id", ondelete="CASCADE", name="fk_sample_members_sample_id_samples"
            ),
            primary_key=True,
        ),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey(
                "people.id", ondelete="CASCADE", name="fk_sample_members_person_id_people"
            ),
            primary_key=True,
        ),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("notified_version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("token_id", name="uq_sample_members_token_id"),
    )
    op.create_index("ix_sample_members_person_id", "sample_members", ["person_id"])
    op.create_table(
        "sample_results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "sample_id",
            sa.Integer(),
            sa.ForeignKey(
                "samples.id", ondelete="CASCADE", name="fk_sample_results_sample_id_samples"
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("tested_at", UTC_DATETIME, nullable=False),
        sa.Column("lab", sa.String(120), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("recorded_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("sample_id", "version", name="uq_sample_results_sample_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "lookup_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chat_key", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_lookup_failures_chat_key", "lookup_failures", ["chat_key"])
    op.create_index("ix_lookup_failures_target", "lookup_failures", ["target"])
    op.create_index("ix_lookup_failures_at", "lookup_failures", ["at"])


def downgrade() -> None:
    op.drop_table("lookup_failures")
    op.drop_table("sample_results")
    op.drop_table("sample_members")
    op.drop_table("samples")
    op.drop_index("ix_staff_api_key_hash", table_name="staff")
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("api_key_hash")
