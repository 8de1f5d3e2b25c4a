"""scheduler: timed jobs, and when a citizen confirmed they will come

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("bookings", sa.Column("confirmed_at", UTC_DATETIME))  # in place, no rebuild
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("group_key", sa.String(64)),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_until", UTC_DATETIME),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("done_at", UTC_DATETIME),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_jobs_due", "jobs", ["status", "due_at"])
    op.create_index("ix_jobs_group", "jobs", ["group_key", "status", "due_at"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_column("bookings", "confirmed_at")
