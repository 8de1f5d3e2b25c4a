"""corrections: citizens' requests to correct a recorded dose, decided by the site's staff

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-22 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create `dose_corrections`."""
    op.create_table(
        "dose_corrections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "vaccination_id",
            sa.Integer(),
            sa.ForeignKey(
                "vaccinations.id",
                ondelete="CASCADE",
                name="fk_dose_corrections_vaccination_id_vaccinations",
            ),
            nullable=False,
        ),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey(
                "people.id", ondelete="CASCADE", name="fk_dose_corrections_person_id_people"
            ),
            nullable=False,
        ),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", ondelete="SET NULL", name="fk_dose_corrections_account_id_accounts"
            ),
        ),
        sa.Column(
            "site_id",
            sa.String(32),
            sa.ForeignKey(
                "sites.id", ondelete="SET NULL", name="fk_dose_corrections_site_id_sites"
            ),
        ),
        sa.Column("problem", sa.String(500), nullable=False),
        sa.Column("photo_sealed", sa.LargeBinary()),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("decided_at", UTC_DATETIME),
        sa.Column("decided_by", sa.String(120)),
        sa.Column("decision_note", sa.String(500)),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'refused')", name="ck_dose_corrections_status"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_dose_corrections_vaccination_id", "dose_corrections", ["vaccination_id"])
    op.create_index("ix_dose_corrections_account_id", "dose_corrections", ["account_id"])
    op.create_index(
        "ix_dose_corrections_site_status",
        "dose_corrections",
        ["site_id", "status", "created_at"],
    )


def downgrade() -> None:
    """Drop it again."""
    op.drop_index("ix_dose_corrections_site_status", table_name="dose_corrections")
    op.drop_index("ix_dose_corrections_account_id", table_name="dose_corrections")
    op.drop_index("ix_dose_corrections_vaccination_id", table_name="dose_corrections")
    op.drop_table("dose_corrections")
