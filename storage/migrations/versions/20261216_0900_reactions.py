"""reactions after vaccination reported by citizens; a site's phone number

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-16 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

UTC_DATETIME = sa.DateTime(timezone=True)

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sites", sa.Column("phone", sa.String(20)))
    op.create_table(
        "reactions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey(
                "accounts.id", ondelete="CASCADE", name="fk_reactions_account_id_accounts"
            ),
            nullable=False,
        ),
        sa.Column(
            "person_id",
            sa.Integer,
            sa.ForeignKey("people.id", ondelete="CASCADE", name="fk_reactions_person_id_people"),
        ),
        sa.Column(
            "vaccination_id",
            sa.Integer,
            sa.ForeignKey(
                "vaccinations.id",
                ondelete="CASCADE",
                name="fk_reactions_vaccination_id_vaccinations",
            ),
        ),
        sa.Column(
            "site_id",
            sa.String(32),
            sa.ForeignKey("sites.id", ondelete="SET NULL", name="fk_reactions_site_id_sites"),
        ),
        sa.Column("product", sa.String(32)),
        sa.Column("symptoms", sa.JSON, nullable=False),
        sa.Column("note", sa.String(500)),
        sa.Column("started", sa.String(12), nullable=False),
        sa.Column("severity", sa.String(12), nullable=False),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey(
                "tickets.id", ondelete="SET NULL", name="fk_reactions_ticket_id_tickets"
            ),
        ),
        sa.Column("reported_at", UTC_DATETIME, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reactions_account_id", "reactions", ["account_id"])
    op.create_index("ix_reactions_person_id", "reactions", ["person_id"])
    op.create_index("ix_reactions_vaccination_id", "reactions", ["vaccination_id"])
    op.create_index("ix_reactions_site_product", "reactions", ["site_id", "product"])


def downgrade() -> None:
    op.drop_table("reactions")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("phone")
