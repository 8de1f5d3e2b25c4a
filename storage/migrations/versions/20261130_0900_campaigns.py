"""campaigns: invitation campaigns and the invitations they sent

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("wards", sa.JSON(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("min_age", sa.Integer(), nullable=False),
        sa.Column("max_age", sa.Integer()),
        sa.Column("dose_status", sa.String(32), nullable=False),
        sa.Column("text_vi", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text()),
        sa.Column("daily_cap", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "campaign_invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey(
                "campaigns.id",
                ondelete="CASCADE",
                name="fk_campaign_invitations_campaign_id_campaigns",
            ),
            nullable=False,
        ),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey(
                "people.id", ondelete="SET NULL", name="fk_campaign_invitations_person_id_people"
            ),
        ),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id",
                ondelete="SET NULL",
                name="fk_campaign_invitations_account_id_accounts",
            ),
        ),
        sa.Column("ward_code", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("invited_at", UTC_DATETIME, nullable=False),
        sa.Column("answered_at", UTC_DATETIME),
        sa.Column("outbox_id", sa.Integer()),
        sa.UniqueConstraint(
            "campaign_id", "person_id", name="uq_campaign_invitations_campaign_id"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_campaign_invitations_day", "campaign_invitations", ["campaign_id", "invited_at"]
    )
    op.create_index("ix_campaign_invitations_person_id", "campaign_invitations", ["person_id"])
    op.create_index("ix_campaign_invitations_account_id", "campaign_invitations", ["account_id"])


def downgrade() -> None:
    op.drop_table("campaign_invitations")
    op.drop_table("campaigns")
