"""broadcasts and tickets: ward announcements, their deliveries, support tickets

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("accounts", sa.Column("announcements_off_at", UTC_DATETIME))  # no rebuild
    op.create_index("ix_people_ward_account", "people", ["ward_code", "account_id"])
    op.create_index("ix_people_province_account", "people", ["province_code", "account_id"])
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("staff_channel", sa.String(16)),
        sa.Column("staff_chat_id", sa.String(64)),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("image", sa.LargeBinary()),
        sa.Column("image_file_id", sa.String(255)),
        sa.Column("image_channel", sa.String(16)),
        sa.Column("area", sa.String(300), nullable=False),
        sa.Column("wards", sa.JSON(), nullable=False),
        sa.Column("province_code", sa.Integer()),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("send_at", UTC_DATETIME, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("exhausted", sa.Boolean(), nullable=False),
        sa.Column("batch_first", sa.Integer()),
        sa.Column("batch_last", sa.Integer()),
        sa.Column("progress_outbox_id", sa.Integer()),
        sa.Column("progress_at", UTC_DATETIME),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("started_at", UTC_DATETIME),
        sa.Column("finished_at", UTC_DATETIME),
        sa.Column("cancelled_by", sa.String(120)),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "broadcast_deliveries",
        sa.Column(
            "broadcast_id",
            sa.Integer(),
            sa.ForeignKey(
                "broadcasts.id",
                ondelete="CASCADE",
                name="fk_broadcast_deliveries_broadcast_id_broadcasts",
            ),
            primary_key=True,
        ),
        sa.Column("account_id", sa.Integer(), primary_key=True),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", ondelete="SET NULL", name="fk_tickets_account_id_accounts"
            ),
        ),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.Column("claimed_by", sa.String(120)),
        sa.Column("claimed_at", UTC_DATETIME),
        sa.Column("closed_at", UTC_DATETIME),
        sa.Column("closed_by", sa.String(120)),
        sa.Column("close_note", sa.String(500)),
        sa.Column("rating", sa.Integer()),
        sa.Column("rated_at", UTC_DATETIME),
        sa.Column("desk_channel", sa.String(16), nullable=False),
        sa.Column("desk_chat_id", sa.String(64), nullable=False),
        sa.Column("desk_mode", sa.String(8)),
        sa.Column("desk_thread", sa.String(64)),
        sa.Column("anchor_outbox_id", sa.Integer()),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "uq_tickets_open_account",
        "tickets",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_tickets_account_id", "tickets", ["account_id"])
    op.create_index("ix_tickets_status", "tickets", ["status", "opened_at"])
    op.create_index("ix_tickets_desk_thread", "tickets", ["desk_chat_id", "desk_thread"])
    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey(
                "tickets.id", ondelete="CASCADE", name="fk_ticket_messages_ticket_id_tickets"
            ),
            nullable=False,
        ),
        sa.Column("body", sa.JSON()),
        sa.Column("desk_outbox_id", sa.Integer()),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ticket_messages_ticket", "ticket_messages", ["ticket_id", "id"])


def downgrade() -> None:
    op.drop_table("ticket_messages")
    op.drop_table("tickets")
    op.drop_table("broadcast_deliveries")
    op.drop_table("broadcasts")
    op.drop_index("ix_people_province_account", "people")
    op.drop_index("ix_people_ward_account", "people")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("announcements_off_at")
