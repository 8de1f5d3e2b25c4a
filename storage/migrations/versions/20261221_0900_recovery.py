"""recovery: a support ticket may name the person a citizen says is theirs

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-21 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `tickets.recovery_person_id` (set null when the person is deleted)."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("recovery_person_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_tickets_recovery_person_id_people",
            "people",
            ["recovery_person_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_recovery_person_id_people", type_="foreignkey")
        batch.drop_column("recovery_person_id")
