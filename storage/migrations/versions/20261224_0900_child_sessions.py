"""child sessions: children's immunisation sessions and bookings; campaigns inviting children

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-24 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("slots", sa.Column("purpose", sa.String(16)))  # NULL: any; "children"
    op.create_table(
        "child_bookings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "child_id",
            sa.Integer(),
            sa.ForeignKey(
                "children.id", ondelete="CASCADE", name="fk_child_bookings_child_id_children"
            ),
            nullable=False,
        ),
        sa.Column(
            "slot_id",
            sa.Integer(),
            sa.ForeignKey("slots.id", name="fk_child_bookings_slot_id_slots"),
            nullable=False,
        ),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "uq_child_bookings_active",
        "child_bookings",
        ["child_id"],
        unique=True,
        sqlite_where=sa.text("status = 'booked'"),
        postgresql_where=sa.text("status = 'booked'"),
    )
    op.create_index("ix_child_bookings_slot_id", "child_bookings", ["slot_id"])
    op.add_column("campaigns", sa.Column("child_vaccine", sa.String(32)))  # NULL: adults
    with op.batch_alter_table("campaign_invitations") as batch:
        batch.add_column(
            sa.Column(
                "child_id",
                sa.Integer(),
                sa.ForeignKey(
                    "children.id",
                    ondelete="SET NULL",
                    name="fk_campaign_invitations_child_id_children",
                ),
            )
        )
    op.create_index(
        "uq_campaign_invitations_child",
        "campaign_invitations",
        ["campaign_id", "child_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_campaign_invitations_child", table_name="campaign_invitations")
    with op.batch_alter_table("campaign_invitations") as batch:
        batch.drop_column("child_id")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("child_vaccine")
    op.drop_index("ix_child_bookings_slot_id", table_name="child_bookings")
    op.drop_index("uq_child_bookings_active", table_name="child_bookings")
    op.drop_table("child_bookings")
    with op.batch_alter_table("slots") as batch:
        batch.drop_column("purpose")
