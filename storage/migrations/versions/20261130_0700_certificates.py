"""certificates: signed DCCs and the platforms' ids of uploaded pictures

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "person_id",
            sa.Integer(),
            sa.ForeignKey(
                "people.id", ondelete="CASCADE", name="fk_certificates_person_id_people"
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("uvci", sa.String(80), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("hc1", sa.Text(), nullable=False),
        sa.Column("png", sa.LargeBinary()),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("issued_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column(
            "replaces_id",
            sa.Integer(),
            sa.ForeignKey(
                "certificates.id",
                ondelete="SET NULL",
                name="fk_certificates_replaces_id_certificates",
            ),
        ),
        sa.Column("replaced_at", UTC_DATETIME),
        sa.Column("revoked_at", UTC_DATETIME),
        sa.Column("revoked_reason", sa.String(200)),
        sa.Column("revoked_by", sa.String(80)),
        sa.UniqueConstraint("uvci", name="uq_certificates_uvci"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_certificates_person_id", "certificates", ["person_id"])
    op.create_index("ix_certificates_subject", "certificates", ["subject"])
    op.create_index("ix_certificates_status", "certificates", ["status"])
    op.create_index(
        "ix_certificates_expiry", "certificates", ["replaced_at", "revoked_at", "expires_at"]
    )
    op.create_table(
        "media_files",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("file_id", sa.String(255), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("media_files")
    op.drop_table("certificates")
