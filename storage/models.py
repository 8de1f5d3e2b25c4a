"""The schema. Changed only through Alembic migrations (`storage/migrations/versions/`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every engine (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with the constraint naming convention Alembic needs on both engines."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table(entity: type[Base]) -> Table:
    """The Core table behind a mapped class (for statements that skip the ORM's overhead)."""
    return cast(Table, entity.__table__)


class Account(Base):
    """One citizen's chat with the bot on one channel."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("channel", "chat_id"),
        {"sqlite_autoincrement": True},  # ids are never reused after an erasure
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8), default="vi")
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentEvent(Base):
    """Each time consent was given or withdrawn, with the text version shown."""

    __tablename__ = "consent_events"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's own spelling

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConversationRow(Base):
    """Where an account is in a flow; read and written with the handler's own changes."""

    __tablename__ = "conversations"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prompt: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProcessedUpdate(Base):
    """An inbound update already handled; a redelivery of it is ignored."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class OutboxMessage(Base):
    """A message the bot promised to send, written in the same transaction as the change.

    `attempts` counts the failed tries that count against SEND_MAX_ATTEMPTS (a 429 does not);
    `last_error` keeps the latest failure, `sent_at` and `external_id` the delivery.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_chat", "channel", "chat_id", "id"),
        # Ids only grow, even after an erasure deletes the newest rows: the web chat reads
        # "everything after id N".
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    bulk: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    external_id: Mapped[str | None] = mapped_column(String(64))
