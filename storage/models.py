"""The schema. Changed only through Alembic migrations (`storage/migrations/versions/`)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import text

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
    # Set by /tatthongbao: no ward announcements (reminders and results still come).
    announcements_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by /tathoitham: no post-vaccination check-ins (bot.domain.checkin_jobs).
    checkins_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A chat linked to another of the same citizen (/lienket): its people, bookings, results
    # and certificates are the holder's. On the holder: where its messages go when that is one
    # of its linked chats (the one used last, or the one chosen with `reach_pinned`).
    holder_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no FK: see 0009
    reach_channel: Mapped[str | None] = mapped_column(String(16))
    reach_chat_id: Mapped[str | None] = mapped_column(String(64))
    reach_pinned: Mapped[bool] = mapped_column(Boolean, default=False)


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


# The outbox rows not settled yet; spelt out literally so both engines match it to the
# partial index's predicate (a bound parameter would not prove the index usable).
OUTBOX_UNSENT = "status IN ('pending', 'waiting', 'sending')"


class OutboxMessage(Base):
    """A message the bot promised to send, written in the same transaction as the change.

    `attempts` counts the failed tries that count against SEND_MAX_ATTEMPTS (a 429 does not);
    `last_error` keeps the latest failure, `sent_at` and `external_id` the delivery. Once
    `OUTBOX_RETENTION_DAYS` have passed (or its citizen's data is erased), a settled row is
    `stripped_at`: its text, buttons, picture and template facts are gone, its delivery record
    and shape (thread, edit, template kind) stay for reports and replies.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        # The rows still to send, by channel, lane and age: what the sender claims from (a
        # range scan over unsent rows only, however many were sent before).
        Index(
            "ix_outbox_pending",
            "channel",
            "lane",
            "id",
            sqlite_where=text(OUTBOX_UNSENT),
            postgresql_where=text(OUTBOX_UNSENT),
        ),
        Index("ix_outbox_sent", "sent_at"),  # the dashboard's send rate
        Index("ix_outbox_chat", "channel", "chat_id", "id"),
        Index(  # the rows still to strip, oldest first
            "ix_outbox_unstripped",
            "created_at",
            sqlite_where=text("stripped_at IS NULL"),
            postgresql_where=text("stripped_at IS NULL"),
        ),
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
    # 0 replies, 1 results and reminders, 2 broadcasts and campaign waves: a lower lane leaves
    # first, and the bulk lane waits while the others have a backlog.
    lane: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
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
    stripped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Person(Base):
    """Someone an account registers for vaccination: the holder or a relative.

    The ID and phone numbers are sealed (AES-GCM) with a blind index for lookups; the ID
    number's index is unique, so nobody is registered twice, on whichever account.
    """

    __tablename__ = "people"
    __table_args__ = (
        # Broadcasts walk an area's people in account order, a batch at a time.
        Index("ix_people_ward_account", "ward_code", "account_id"),
        Index("ix_people_province_account", "province_code", "account_id"),
        # The console's dashboard counts registrations per day, city-wide and per ward.
        Index("ix_people_created", "created_at"),
        Index("ix_people_ward_created", "ward_code", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL once the account is erased while the person has doses on record (medical records
    # are kept); registering the same ID number again attaches the person to the new account.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    full_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(8))
    id_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    id_index: Mapped[str] = mapped_column(String(64), unique=True)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    province_code: Mapped[int] = mapped_column(Integer)
    ward_code: Mapped[int] = mapped_column(Integer, index=True)
    divisions_version: Mapped[str] = mapped_column(String(16))
    priority_group: Mapped[str] = mapped_column(String(16))
    is_holder: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Site(Base):
    """A vaccination site, identified by the code its operator gives it."""

    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    province_code: Mapped[int] = mapped_column(Integer, index=True)
    ward_code: Mapped[int] = mapped_column(Integer, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str | None] = mapped_column(String(20))  # told to citizens with a reaction


class Slot(Base):
    """A time window at a site with a number of places; `booked` never exceeds `capacity`."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("site_id", "starts_at"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="places"),
        Index("ix_slots_starts", "starts_at"),  # the dashboard's places per day, city-wide
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    # "children": a children's immunisation session (booked from the children's reminders);
    # NULL: an ordinary slot (booked by adults).
    purpose: Mapped[str | None] = mapped_column(String(16))


class Booking(Base):
    """A person's place in a slot for one dose; at most one active booking per dose."""

    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "uq_bookings_active_dose",
            "person_id",
            "dose_number",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        Index("ix_bookings_slot_status", "slot_id", "status"),  # the dashboard's no-shows
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"), index=True)
    dose_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="booked")
    needs_screening: Mapped[bool] = mapped_column(Boolean, default=False)
    screening: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # "Tôi sẽ đến" pressed


class Vaccination(Base):
    """A dose given: recorded by site staff from a booking, or imported from a site's system."""

    __tablename__ = "vaccinations"
    __table_args__ = (
        UniqueConstraint("person_id", "dose_number"),
        # The dashboard's doses by product: read from the index alone.
        Index("ix_vaccinations_site_given", "site_id", "given_on", "product"),
        Index("ix_vaccinations_given", "given_on", "product"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    dose_number: Mapped[int] = mapped_column(Integer)
    product: Mapped[str] = mapped_column(String(32))
    lot: Mapped[str] = mapped_column(String(40))
    given_on: Mapped[date] = mapped_column(Date)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffMember(Base):
    """A staff role held by one platform user, scoped to wards and sites."""

    __tablename__ = "staff"
    __table_args__ = (
        UniqueConstraint("channel", "user_id", "role"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(120))
    wards: Mapped[list[int]] = mapped_column(JSON, default=list)
    sites: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The lab a `lab` role records results for, as citizens are told it (None: not yet bound,
    # and the staff API refuses the key); its `sites` are the sites whose tubes it may result.
    lab: Mapped[str | None] = mapped_column(String(120))
    # SHA-256 of the key a scanner app or lab system sends (`Authorization: Bearer ...`).
    api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """A staff action: who (kept as text, so the trail outlives the staff row), what, when."""

    __tablename__ = "audit_log"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's own spelling

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Sample(Base):
    """A PCR sample tube: one person's, or a pool of up to 10; its current result.

    `result_version` counts the results recorded (a correction makes it 2, 3...); each member's
    `notified_version` says which one they were told, so a re-import tells nobody twice.
    """

    __tablename__ = "samples"
    __table_args__ = (
        Index("ix_samples_site_taken", "site_id", "taken_at"),  # the dashboard's samples
        Index("ix_samples_taken", "taken_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tube_code: Mapped[str] = mapped_column(String(40), unique=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    taken_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    pooled: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[str | None] = mapped_column(String(16))
    tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lab: Mapped[str | None] = mapped_column(String(120))
    result_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SampleMember(Base):
    """A person whose swab is in a tube, with the personal QR token that was scanned."""

    __tablename__ = "sample_members"

    sample_id: Mapped[int] = mapped_column(
        ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    token_id: Mapped[str] = mapped_column(String(32), unique=True)  # a token is used once
    notified_version: Mapped[int] = mapped_column(Integer, default=0)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # told the latest result


class SampleResult(Base):
    """Every result recorded for a tube, in order: the first, then any corrections."""

    __tablename__ = "sample_results"
    __table_args__ = (
        UniqueConstraint("sample_id", "version"),  # two concurrent writers cannot both win
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(16))
    tested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lab: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(300))  # why a correction was made
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LookupFailure(Base):
    """A result lookup that matched nothing, counted to slow down guessing birth dates.

    Counted per chat (`chat_key`, a keyed hash of channel and chat id, so erasing the account
    does not reset it) and per client address (`client_key`, a keyed hash the web chat gives;
    None elsewhere), which wait longer after each failure; and per looked-up tube or ID number
    (`target`, a keyed hash), which only raises an alarm to staff (bot.domain.lookups).
    """

    __tablename__ = "lookup_failures"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's own spelling

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_key: Mapped[str] = mapped_column(String(64), index=True)
    client_key: Mapped[str | None] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Certificate(Base):
    """A signed EU DCC ("HC1:") of one person: a dose given (`v`) or a negative test (`t`).

    `status` is `new` until its QR picture is rendered and the person has been sent it, then
    `ready`. A renewal (after expiry) is a new row with a new UVCI; the old row gets
    `replaced_at`. A revoked certificate keeps its row so the verifier can say so.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        Index("ix_certificates_status", "status"),
        Index("ix_certificates_expiry", "replaced_at", "revoked_at", "expires_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(1))  # v | t
    # What it certifies, so a second request re-sends instead of issuing again:
    # "dose:<vaccination id>" or "test:<sample id>:<result version>".
    subject: Mapped[str] = mapped_column(String(40), index=True)
    uvci: Mapped[str] = mapped_column(String(80), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    hc1: Mapped[str] = mapped_column(Text)
    png: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(8), default="new")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="SET NULL")
    )
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(200))
    revoked_by: Mapped[str | None] = mapped_column(String(80))


class MediaFile(Base):
    """A platform's own id for a picture we uploaded once (e.g. Telegram's `file_id`).

    Keyed by channel and our name for the picture (`certificate:<id>`), so sending it again
    is a reference, not a new upload.
    """

    __tablename__ = "media_files"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Job(Base):
    """Timed work: a reminder, an invitation wave, a no-show check. Fired once by the scheduler.

    `status` is `pending` until fired (`done`), found moot (`skipped`) or withdrawn
    (`cancelled`). A worker claims due rows for `claimed_until` (a lease); if it dies, the
    lease runs out and another worker takes them. Rows of one `group_key` (a booking, a person's
    next dose) that are due together collapse into the latest.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "status", "due_at"),
        # The group look-ups of a firing ("is a later one due?") must not walk every due row.
        Index("ix_jobs_group", "group_key", "status", "due_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    group_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Campaign(Base):
    """An invitation campaign: whom to invite (wards, groups, ages, doses), what to say, how fast.

    `wards` holds current ward codes, `groups` priority-group codes (empty: every group);
    `dose_status` is `none`, `due` or `dose1_older_than:<weeks>`. Waves of at most `daily_cap`
    invitations go out once a day from `starts_on` while `status` is `active`; then `finished`
    (nobody eligible is left), or `paused` / `cancelled` by staff.
    """

    __tablename__ = "campaigns"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's own spelling

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    created_by: Mapped[str] = mapped_column(String(120))  # the actor label, as in the audit log
    wards: Mapped[list[int]] = mapped_column(JSON, default=list)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_age: Mapped[int] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    dose_status: Mapped[str] = mapped_column(String(32))
    text_vi: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str | None] = mapped_column(Text)
    daily_cap: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="active")
    starts_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A vaccine code of the children's schedule: the campaign invites children (their parents'
    # chats, one invitation per child) instead of people; `dose_status` is `none` or `due`.
    child_vaccine: Mapped[str | None] = mapped_column(String(32))


class CampaignInvitation(Base):
    """One person invited by one campaign (never twice), and what they answered.

    `status`: `invited`, `accepted` ("Đặt lịch ngay" pressed) or `declined`. Whether they booked
    and whether they could be reached are read at report time from their bookings, doses,
    account and the invitation's outbox row (`outbox_id`), so people who booked on their own
    count too. Person and account go NULL when erased; the ward stays for the report.
    """

    __tablename__ = "campaign_invitations"
    __table_args__ = (
        UniqueConstraint("campaign_id", "person_id"),
        Index("ix_campaign_invitations_day", "campaign_id", "invited_at"),
        Index("uq_campaign_invitations_child", "campaign_id", "child_id", unique=True),
        Index("ix_campaign_invitations_outbox", "outbox_id"),  # pruning asks what is referenced
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    ward_code: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="invited")
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outbox_id: Mapped[int | None] = mapped_column(Integer)  # the invitation message
    # The child invited (a children's campaign; `person_id` is NULL then).
    child_id: Mapped[int | None] = mapped_column(ForeignKey("children.id", ondelete="SET NULL"))


class Broadcast(Base):
    """A ward announcement: staff-written text (and picture) to the citizens of an area.

    The area is `wards` (current ward codes) or a whole `province_code`, optionally narrowed to
    priority `groups`. `status`: `scheduled` until `send_at`, then `sending` (batches of
    outbox rows, one per recipient account, in account id order after `cursor`), then `done`,
    or `cancelled` by staff. `planned` is the recipient count when sending began; the staff
    member's progress message is the outbox row `progress_outbox_id`, edited in place.
    """

    __tablename__ = "broadcasts"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's own spelling

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[str] = mapped_column(String(120))  # the actor label, as in the audit log
    staff_channel: Mapped[str | None] = mapped_column(String(16))  # where progress is shown
    staff_chat_id: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    image_file_id: Mapped[str | None] = mapped_column(String(255))  # on `image_channel`
    image_channel: Mapped[str | None] = mapped_column(String(16))
    area: Mapped[str] = mapped_column(String(300))  # the area's name, as citizens read it
    wards: Mapped[list[int]] = mapped_column(JSON, default=list)
    province_code: Mapped[int | None] = mapped_column(Integer)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    planned: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[int] = mapped_column(Integer, default=0)  # the last account id queued
    exhausted: Mapped[bool] = mapped_column(Boolean, default=False)  # every recipient queued
    batch_first: Mapped[int | None] = mapped_column(Integer)  # outbox ids of the last batch
    batch_last: Mapped[int | None] = mapped_column(Integer)
    progress_outbox_id: Mapped[int | None] = mapped_column(Integer)
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(120))


class BroadcastDelivery(Base):
    """One recipient of a broadcast: at most one per account, and its outbox row.

    Its status is the outbox row's (sent, failed, blocked...); an account erased since has no
    row any more. `account_id` is a plain number: account ids are never reused.
    """

    __tablename__ = "broadcast_deliveries"
    __table_args__ = (Index("ix_broadcast_deliveries_outbox", "outbox_id"),)

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(Integer)


class Ticket(Base):
    """A citizen's request to talk to a human, relayed to the support staff chat (the desk).

    `status` is `open` (at most one per account) or `closed`. On the desk, a ticket is a forum
    topic (`desk_mode` `topic`, `desk_thread` the topic id) or a reply thread under its header
    message (`reply`, `desk_thread` the header's message id); both are known once the desk's
    first message for it (`anchor_outbox_id`) has been sent.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "uq_tickets_open_account",
            "account_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_tickets_status", "status", "opened_at"),
        Index("ix_tickets_desk_thread", "desk_chat_id", "desk_thread"),
        Index("ix_tickets_holder", "holder", "status", "id"),
        Index("ix_tickets_ward_code", "ward_code", "status", "id"),
        Index("ix_tickets_status_id", "status", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(8), default="open")
    reason: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(120))
    close_note: Mapped[str | None] = mapped_column(String(500))
    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    desk_channel: Mapped[str] = mapped_column(String(16))
    desk_chat_id: Mapped[str] = mapped_column(String(64))
    desk_mode: Mapped[str | None] = mapped_column(String(8))
    desk_thread: Mapped[str | None] = mapped_column(String(64))
    anchor_outbox_id: Mapped[int | None] = mapped_column(Integer)
    # The console's inbox: who holds it ("channel:user_id"), the citizen's ward (for ward staff),
    # why it closed, and when staff first answered. `desk_chat_id` is "" with no Telegram desk.
    holder: Mapped[str | None] = mapped_column(String(80))
    ward_code: Mapped[int | None] = mapped_column(Integer)
    close_reason: Mapped[str | None] = mapped_column(String(16))
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A recovery case ("this ID number is mine", bot.domain.account_recovery): the person the
    # citizen says is theirs, whom staff may move to the ticket's chat once they have checked.
    recovery_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )


class TicketEntry(Base):
    """One line of a ticket's conversation as the console shows it.

    `kind`: `citizen` (what they wrote), `staff` (an answer sent to them), `note` (internal, never
    sent) or `event` (claimed, assigned, closed). The text is dropped when the citizen is erased.
    """

    __tablename__ = "ticket_entries"
    __table_args__ = (
        Index("ix_ticket_entries_ticket", "ticket_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    author: Mapped[str] = mapped_column(String(120))
    text: Mapped[str | None] = mapped_column(String(4000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CannedResponse(Base):
    """A ready answer admins keep for the inbox, with {name}, {booking_code}, {site} filled in."""

    __tablename__ = "canned_responses"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's own spelling

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(80), unique=True)
    body: Mapped[str] = mapped_column(String(2000))
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TicketMessage(Base):
    """A ticket's message for the desk, waiting or written.

    It waits (`body` set) until the ticket's desk thread is known, then is written to the
    outbox (`desk_outbox_id`; the body is dropped). The outbox row's platform id tells which
    ticket a staff member answers by replying to it.
    """

    __tablename__ = "ticket_messages"
    __table_args__ = (
        Index("ix_ticket_messages_ticket", "ticket_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    desk_outbox_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundEvent(Base):
    """A webhook event stored before it is answered, processed after (Zalo: within 2 s).

    Keyed by channel and the event's own id (Zalo's `msg_id`), so a redelivery is not stored
    twice. Once its event is handled, a row is `handled_at` and its body emptied (what the
    citizen wrote is not kept); the key stays as long as redeliveries are refused. Rows left
    unhandled by a crash are handled at the next start.
    """

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("channel", "event_key"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_key: Mapped[str] = mapped_column(String(128))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class PlatformToken(Base):
    """A platform's OAuth token pair (Zalo OA), sealed, with when the access token expires.

    The refresh token is single-use: the pair a refresh returns replaces the old one in the
    transaction that holds this row's lock, before the new access token is used.
    """

    __tablename__ = "platform_tokens"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    access_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsoleAccount(Base):
    """A staff member's way into the web console: a sign-in name and an argon2id hash.

    One account per platform identity (`channel`, `user_id`), whose `StaffMember` rows give
    its roles and scope; staff without a chat have channel `console` and their sign-in name
    as user id. `password_hash` is None until the set-password link is used.
    """

    __tablename__ = "console_accounts"
    __table_args__ = (
        UniqueConstraint("channel", "user_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsoleSession(Base):
    """A signed-in browser: only the SHA-256 of its cookie is stored, with its two expiries."""

    __tablename__ = "console_sessions"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's own spelling

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("console_accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the absolute end


class ConsoleLink(Base):
    """A one-time link (`sign_in` or `password`): only the SHA-256 of its token is stored."""

    __tablename__ = "console_links"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's own spelling

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("console_accounts.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsoleFailure(Base):
    """A failed console sign-in, counted per sign-in name and per client address (keyed hashes)."""

    __tablename__ = "console_failures"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's own spelling

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Reaction(Base):
    """A citizen's report of a reaction after vaccination (bot.handlers.reactions).

    Kept with the dose when the citizen named one (`vaccination_id`, and its `site_id` and
    `product` copied so reports count per site and product); `severity` is `mild`, `moderate`
    or `severe`; `symptoms` the codes chosen, `note` what was typed. Erasing the account or
    the person removes their reports.
    """

    __tablename__ = "reactions"
    __table_args__ = (
        Index("ix_reactions_site_product", "site_id", "product"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    vaccination_id: Mapped[int | None] = mapped_column(
        ForeignKey("vaccinations.id", ondelete="CASCADE"), index=True
    )
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    product: Mapped[str | None] = mapped_column(String(32))
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(String(500))
    started: Mapped[str] = mapped_column(String(12))
    severity: Mapped[str] = mapped_column(String(12))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CheckIn(Base):
    """A post-vaccination check-in (day 1 or day 7 after a dose) and the citizen's answer.

    Asked by the scheduler (bot.domain.checkin_jobs); `answer` is `fine`, `mild` or `help`, None
    until pressed. The dose's `site_id` and `product` are copied so answers count per site and
    product. One per dose and day; erasing the account or the person removes them.
    """

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("vaccination_id", "day"),
        Index("ix_checkins_site_product", "site_id", "product"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    vaccination_id: Mapped[int] = mapped_column(ForeignKey("vaccinations.id", ondelete="CASCADE"))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    product: Mapped[str] = mapped_column(String(32))
    day: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(String(8))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Child(Base):
    """A child a parent registered for the national immunisation schedule (issue 21).

    The personal ID number (issued with the birth registration) is sealed with a unique blind
    index, like adults'; a newborn without one yet is registered by birth date and the parent's
    account (and person, when the parent is registered), and gets the number later.
    """

    __tablename__ = "children"
    __table_args__ = (
        # Due lists and coverage walk one ward's children by birth date.
        Index("ix_children_ward_birth", "ward_code", "birth_date"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL once the parent's account is erased (the immunisation record is kept).
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    parent_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    full_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(8))
    id_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    ward_code: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChildDose(Base):
    """A dose of the children's schedule: reported by a parent, or given (confirmed) by a site.

    `vaccine` is a code of `bot/domain/immunisation/schedule_vn.json`. A parent who does not
    remember the day reports the dose with `date_approximate` set and `given_on` the day the
    schedule recommends it (see docs/architecture.md).
    """

    __tablename__ = "child_doses"
    __table_args__ = (
        UniqueConstraint("child_id", "vaccine", "dose_number"),
        CheckConstraint("status IN ('reported', 'given')", name="status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"))
    vaccine: Mapped[str] = mapped_column(String(32))
    dose_number: Mapped[int] = mapped_column(Integer)
    given_on: Mapped[date] = mapped_column(Date)
    date_approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="reported")
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DoseCorrection(Base):
    """A citizen's request to correct a recorded dose (issue 16.7), decided by the site's staff.

    Routed to the site that recorded the dose (`site_id`, copied from the dose so the queue is
    one index read). The paper card's photo, if sent, is sealed like other sensitive data. The
    citizen is told the decision through the outbox, in their language (bot.domain).
    """

    __tablename__ = "dose_corrections"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'accepted', 'refused')", name="status"),
        # A site's queue: its open requests, oldest first.
        Index("ix_dose_corrections_site_status", "site_id", "status", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vaccination_id: Mapped[int] = mapped_column(
        ForeignKey("vaccinations.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    # NULL once the account is erased: the request stays with the dose's record.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    problem: Mapped[str] = mapped_column(String(500))  # what is wrong, in the citizen's words
    photo_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # the paper card, sealed
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(120))  # the actor label, as audited
    decision_note: Mapped[str | None] = mapped_column(String(500))


class ChildBooking(Base):
    """A child's place in a children's immunisation session; one active booking per child."""

    __tablename__ = "child_bookings"
    __table_args__ = (
        Index(
            "uq_child_bookings_active",
            "child_id",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="booked")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
