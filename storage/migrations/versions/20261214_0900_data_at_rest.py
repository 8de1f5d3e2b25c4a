"""data at rest: outbox rows stripped after their retention, Zalo event bodies emptied once handled

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-14 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UNSTRIPPED = sa.text("stripped_at IS NULL")


def upgrade() -> None:
    # Added in place (no table rebuild: both tables keep their AUTOINCREMENT on SQLite).
    op.add_column("outbox", sa.Column("stripped_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_outbox_unstripped",
        "outbox",
        ["created_at"],
        sqlite_where=UNSTRIPPED,
        postgresql_where=UNSTRIPPED,
    )
    op.add_column("inbound_events", sa.Column("handled_at", sa.DateTime(timezone=True)))
    op.create_index("ix_inbound_events_handled_at", "inbound_events", ["handled_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_events_handled_at", "inbound_events")
    op.drop_index("ix_outbox_unstripped", "outbox")
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_column("handled_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("stripped_at")
