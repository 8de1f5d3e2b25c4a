"""post-vaccination check-ins (day 1 and day 7 after a dose) and their opt-out

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

UTC_DATETIME = sa.DateTime(timezone=True)

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the `checkins` table and `accounts.checkins_off_at`."""
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("checkins_off_at", UTC_DATETIME, nullable=True))
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey(
                "accounts.id", ondelete="CASCADE", name="fk_checkins_account_id_accounts"
            ),
            nullable=False,
        ),
        sa.Column(
            "person_id",
            sa.Integer,
            sa.ForeignKey("people.id", ondelete="CASCADE", name="fk_checkins_person_id_people"),
            nullable=False,
        ),
        sa.Column(
            "vaccination_id",
            sa.Integer,
            sa.ForeignKey(
                "vaccinations.id",
                ondelete="CASCADE",
                name="fk_checkins_vaccination_id_vaccinations",
            ),
            nullable=False,
        ),
        sa.Column(
            "site_id",
            sa.String(32),
            sa.ForeignKey("sites.id", ondelete="SET NULL", name="fk_checkins_site_id_sites"),
        ),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("answer", sa.String(8)),
        sa.Column("asked_at", UTC_DATETIME, nullable=False),
        sa.Column("answered_at", UTC_DATETIME),
        sa.UniqueConstraint("vaccination_id", "day", name="uq_checkins_vaccination_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_checkins_account_id", "checkins", ["account_id"])
    op.create_index("ix_checkins_person_id", "checkins", ["person_id"])
    op.create_index("ix_checkins_site_product", "checkins", ["site_id", "product"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("checkins")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("checkins_off_at")
