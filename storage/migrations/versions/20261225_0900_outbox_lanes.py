"""outbox lanes: `outbox.lane`, the index of unsent rows the sender claims from, and the
indexes pruning uses to find the rows still referenced

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-25 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

UNSENT = "status IN ('pending', 'waiting', 'sending')"
INDEXES = (
    ("ix_campaign_invitations_outbox", "campaign_invitations", ["outbox_id"]),
    ("ix_broadcast_deliveries_outbox", "broadcast_deliveries", ["outbox_id"]),
)


def upgrade() -> None:
    """Add the lane (existing rows: results and reminders' lane) and the indexes."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lane", sa.SmallInteger(), server_default="1", nullable=False))
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["channel", "lane", "id"],
        sqlite_where=sa.text(UNSENT),
        postgresql_where=sa.text(UNSENT),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    """Drop them again."""
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_outbox_pending", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lane")
