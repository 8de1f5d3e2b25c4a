"""lab scope: a lab key names its lab; a result version keeps its correction's reason

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 09:00:00

Lab keys granted before this revision have no lab: the staff API refuses them (403, with the
`staff add --lab ... --site ...` to run) until an operator gives them their lab and sites.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place: no table rebuild, so `staff` keeps its AUTOINCREMENT on SQLite and the
    # rows pointing at it (vaccinations, samples) keep their `recorded_by` / `taken_by`.
    op.add_column("staff", sa.Column("lab", sa.String(120)))
    op.add_column("sample_results", sa.Column("reason", sa.String(300)))


def downgrade() -> None:
    with op.batch_alter_table("sample_results") as batch:
        batch.drop_column("reason")
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("lab")
