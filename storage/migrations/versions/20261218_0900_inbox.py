"""inbox: ticket holders and wards, close reasons, first responses, ticket entries, canned answers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-18 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Columns added one by one (no table rebuild on SQLite); all nullable.
    op.add_column("tickets", sa.Column("holder", sa.String(80)))
    op.add_column("tickets", sa.Column("ward_code", sa.Integer()))
    op.add_column("tickets", sa.Column("close_reason", sa.String(16)))
    op.add_column("tickets", sa.Column("first_response_at", UTC_DATETIME))
    op.create_index("ix_tickets_holder", "tickets", ["holder", "status", "id"])
    op.create_index("ix_tickets_ward_code", "tickets", ["ward_code", "status", "id"])
    op.create_index("ix_tickets_status_id", "tickets", ["status", "id"])
    op.create_table(
        "ticket_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey(
                "tickets.id", ondelete="CASCADE", name="fk_ticket_entries_ticket_id_tickets"
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("author", sa.String(120), nullable=False),
        sa.Column("text", sa.String(4000)),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ticket_entries_ticket", "ticket_entries", ["ticket_id", "id"])
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(80), nullable=False),
        sa.Column("body", sa.String(2000), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("title", name="uq_canned_responses_title"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("canned_responses")
    op.drop_table("ticket_entries")
    op.drop_index("ix_tickets_status_id", "tickets")
    op.drop_index("ix_tickets_ward_code", "tickets")
    op.drop_index("ix_tickets_holder", "tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("first_response_at")
        batch.drop_column("close_reason")
        batch.drop_column("ward_code")
        batch.drop_column("holder")
