"""foundation: accounts, consent, conversations, processed updates, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-30 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("consent_version", sa.String(16)),
        sa.Column("consented_at", UTC_DATETIME),
        sa.Column("phone_sealed", sa.LargeBinary()),
        sa.Column("phone_index", sa.String(64)),
        sa.Column("unreachable_at", UTC_DATETIME),
        sa.Column("unreachable_reason", sa.String(200)),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("channel", "chat_id", name="uq_accounts_channel"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_accounts_phone_index", "accounts", ["phone_index"])
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", ondelete="CASCADE", name="fk_consent_events_account_id_accounts"
            ),
            nullable=False,
        ),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_consent_events_account_id", "consent_events", ["account_id"])
    op.create_table(
        "conversations",
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", ondelete="CASCADE", name="fk_conversations_account_id_accounts"
            ),
            primary_key=True,
        ),
        sa.Column("flow", sa.String(32)),
        sa.Column("step", sa.String(32)),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("prompt", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "processed_updates",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("update_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_processed_updates_processed_at", "processed_updates", ["processed_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE", name="fk_outbox_account_id_accounts"),
        ),
        sa.Column("bulk", sa.Boolean(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("image", sa.LargeBinary()),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("not_before", UTC_DATETIME, nullable=False),
        sa.Column("lease_until", UTC_DATETIME),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME),
        sa.Column("external_id", sa.String(64)),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "not_before"])
    op.create_index("ix_outbox_chat", "outbox", ["channel", "chat_id", "id"])
    op.create_index("ix_outbox_account_id", "outbox", ["account_id"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("processed_updates")
    op.drop_table("conversations")
    op.drop_table("consent_events")
    op.drop_table("accounts")
