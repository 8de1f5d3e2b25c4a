"""linked chats: one citizen's Telegram and Zalo chats share their records

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place (no table rebuild: accounts keeps its AUTOINCREMENT on SQLite); no
    # foreign key, which SQLite cannot add in place: erasing an account unlinks its chats.
    op.add_column("accounts", sa.Column("holder_id", sa.Integer()))
    op.add_column("accounts", sa.Column("reach_channel", sa.String(16)))
    op.add_column("accounts", sa.Column("reach_chat_id", sa.String(64)))
    op.add_column(
        "accounts",
        sa.Column("reach_pinned", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_accounts_holder_id", "accounts", ["holder_id"])


def downgrade() -> None:
    op.drop_index("ix_accounts_holder_id", "accounts")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("reach_pinned")
        batch.drop_column("reach_chat_id")
        batch.drop_column("reach_channel")
        batch.drop_column("holder_id")
