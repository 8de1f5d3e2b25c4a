"""lookup failures: the client address (a keyed hash) they came from

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place: a nullable column needs no table rebuild on SQLite.
    op.add_column("lookup_failures", sa.Column("client_key", sa.String(64)))
    op.create_index("ix_lookup_failures_client_key", "lookup_failures", ["client_key"])


def downgrade() -> None:
    op.drop_index("ix_lookup_failures_client_key", "lookup_failures")
    with op.batch_alter_table("lookup_failures") as batch:
        batch.drop_column("client_key")
