"""console: staff web accounts, sessions, one-time links and failed sign-ins

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-15 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _owned(name: str, *columns: sa.Column[object]) -> None:
    """A table of rows that belong to one console account (deleted with it)."""
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "console_accounts.id",
                ondelete="CASCADE",
                name=f"fk_{name}_account_id_console_accounts",
            ),
            nullable=False,
        ),
        *columns,
        sa.UniqueConstraint("token_hash", name=f"uq_{name}_token_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index(f"ix_{name}_account_id", name, ["account_id"])
    op.create_index(f"ix_{name}_expires_at", name, ["expires_at"])


def upgrade() -> None:
    op.create_table(
        "console_accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("login", name="uq_console_accounts_login"),
        sa.UniqueConstraint("channel", "user_id", name="uq_console_accounts_channel"),
        sqlite_autoincrement=True,
    )
    _owned(
        "console_sessions",
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_seen_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
    )
    _owned(
        "console_links",
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("used_at", UTC_DATETIME),
    )
    op.create_table(
        "console_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_console_failures_key", "console_failures", ["key"])
    op.create_index("ix_console_failures_at", "console_failures", ["at"])


def downgrade() -> None:
    op.drop_table("console_failures")
    op.drop_table("console_links")
    op.drop_table("console_sessions")
    op.drop_table("console_accounts")
