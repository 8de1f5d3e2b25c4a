"""zalo: webhook events stored before they are handled, platform token pairs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbound_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("event_key", sa.String(128), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("channel", "event_key", name="uq_inbound_events_channel"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "platform_tokens",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("access_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("refreshed_at", UTC_DATETIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("platform_tokens")
    op.drop_table("inbound_events")
