"""dashboard: when each sample member was told, and indexes for the console's live figures

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-20 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_people_created", "people", ["created_at"]),
    ("ix_people_ward_created", "people", ["ward_code", "created_at"]),
    ("ix_vaccinations_site_given", "vaccinations", ["site_id", "given_on", "product"]),
    ("ix_vaccinations_given", "vaccinations", ["given_on", "product"]),
    ("ix_samples_site_taken", "samples", ["site_id", "taken_at"]),
    ("ix_samples_taken", "samples", ["taken_at"]),
    ("ix_outbox_sent", "outbox", ["sent_at"]),
    ("ix_slots_starts", "slots", ["starts_at"]),
    ("ix_bookings_slot_status", "bookings", ["slot_id", "status"]),
)


def upgrade() -> None:
    """Add `sample_members.notified_at` and the dashboard's indexes."""
    with op.batch_alter_table("sample_members") as batch:
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    """Drop them again."""
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("sample_members") as batch:
        batch.drop_column("notified_at")
