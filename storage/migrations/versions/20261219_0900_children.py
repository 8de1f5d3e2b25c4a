"""children: children registered by their parents and their routine immunisation doses

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-19 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "children",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", ondelete="SET NULL", name="fk_children_account_id_accounts"
            ),
        ),
        sa.Column(
            "parent_person_id",
            sa.Integer(),
            sa.ForeignKey(
                "people.id", ondelete="SET NULL", name="fk_children_parent_person_id_people"
            ),
        ),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("gender", sa.String(8), nullable=False),
        sa.Column("id_sealed", sa.LargeBinary()),
        sa.Column("id_index", sa.String(64)),
        sa.Column("ward_code", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("id_index", name="uq_children_id_index"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_children_account_id", "children", ["account_id"])
    op.create_index("ix_children_ward_birth", "children", ["ward_code", "birth_date"])
    op.create_table(
        "child_doses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "child_id",
            sa.Integer(),
            sa.ForeignKey(
                "children.id", ondelete="CASCADE", name="fk_child_doses_child_id_children"
            ),
            nullable=False,
        ),
        sa.Column("vaccine", sa.String(32), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("date_approximate", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column(
            "site_id",
            sa.String(32),
            sa.ForeignKey("sites.id", ondelete="SET NULL", name="fk_child_doses_site_id_sites"),
        ),
        sa.Column(
            "recorded_by",
            sa.Integer(),
            sa.ForeignKey(
                "staff.id", ondelete="SET NULL", name="fk_child_doses_recorded_by_staff"
            ),
        ),
        sa.Column("confirmed_at", UTC_DATETIME),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("child_id", "vaccine", "dose_number", name="uq_child_doses_child_id"),
        sa.CheckConstraint("status IN ('reported', 'given')", name="ck_child_doses_status"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("child_doses")
    op.drop_index("ix_children_ward_birth", table_name="children")
    op.drop_index("ix_children_account_id", table_name="children")
    op.drop_table("children")
