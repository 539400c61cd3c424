"""Typed SQLAlchemy 2.0 models.

Items, the routes they are sent to, an append-only event log of every state change, and the
outbox through which every message that follows from a stored change reaches Slack.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_NUL, _MARK = "\x00", "\ue000"
_ESCAPED = re.compile("\ue000([\ue001\ue002])")


class VerbatimText(TypeDecorator[str]):
    """Text stored exactly as typed on every backend. PostgreSQL can't hold NUL in text, so there
    NUL is written as a private-use escape (and the escape character itself is doubled)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql":
            return value
        return value.replace(_MARK, _MARK + "\ue001").replace(_NUL, _MARK + "\ue002")

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql" or _MARK not in value:
            return value
        return _ESCAPED.sub(lambda found: _MARK if found.group(1) == "\ue001" else _NUL, value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


class ItemKind(enum.StrEnum):
    ALARM = "alarm"
    IDEA = "idea"


class ItemStatus(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ACTIONED = "actioned"
    DECLINED = "declined"
    DUPLICATE = "duplicate"
    WITHDRAWN = "withdrawn"


# An item someone still has to act on.
OPEN_STATUSES = (ItemStatus.NEW, ItemStatus.ACKNOWLEDGED)

# Stands in for a person removed by retention or `cxbot forget` (storage/privacy.py): "gone:" and
# 16 random hex digits, one per person, never a Slack ID (those have no colon).
TOMBSTONE_PREFIX = "gone:"


def is_tombstone(person: str) -> bool:
    return person.startswith(TOMBSTONE_PREFIX)


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class JourneyStage(enum.StrEnum):
    DISCOVER = "discover"
    BUY = "buy"
    ONBOARD = "onboard"
    USE = "use"
    GET_HELP = "get_help"
    RENEW = "renew"
    LEAVE = "leave"


class CreditState(enum.StrEnum):
    """Public credit for an item that led to action: posted once, and for anonymous raisers only
    after they said yes."""

    NONE = "none"
    ASKED = "asked"
    DECLINED = "declined"
    POSTED = "posted"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(
        cls,
        name=cls.__name__.lower(),
        native_enum=False,
        length=32,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class Route(Base):
    """An area of the customer experience and the person or group that owns it."""

    __tablename__ = "routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area: Mapped[str] = mapped_column(String(75), unique=True)
    owner: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    escalate_to: Mapped[str | None] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    stale_after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    # Who took this area on from a grey-area card, once a CX lead approved (None: from the file).
    # `cxbot routes import` keeps a claimed route that the file lacks, unless told --replace.
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None]
    # Working days after an item is marked actioned before its raisers are asked whether it fixed
    # things (bot/items/verify.py): None for the default, 0 never to ask.
    verify_after: Mapped[float | None] = mapped_column(Float)


UNPURGED_SQL = "purged_at IS NULL AND closed_at IS NOT NULL"
_UNPURGED = text(UNPURGED_SQL)  # built here: inside Item, `text` is its column


class Item(Base):
    """An alarm or idea. Its id is the number people see (#12)."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[ItemKind] = mapped_column(_enum(ItemKind))
    status: Mapped[ItemStatus] = mapped_column(_enum(ItemStatus), default=ItemStatus.NEW)
    text: Mapped[str] = mapped_column(VerbatimText)
    customers: Mapped[str | None] = mapped_column(VerbatimText)
    journey_stage: Mapped[JourneyStage | None] = mapped_column(_enum(JourneyStage))
    severity: Mapped[Severity | None] = mapped_column(_enum(Severity))
    raiser_id: Mapped[str] = mapped_column(String(32))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id"))
    area: Mapped[str | None] = mapped_column(String(75))
    grey_area: Mapped[bool] = mapped_column(Boolean, default=False)
    routed_by: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(400))
    channel: Mapped[str] = mapped_column(String(32))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    source_channel: Mapped[str | None] = mapped_column(String(32))
    source_ts: Mapped[str | None] = mapped_column(String(32))
    source_permalink: Mapped[str | None] = mapped_column(Text)
    intake_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    acted_by: Mapped[str | None] = mapped_column(String(32))
    resolution: Mapped[str | None] = mapped_column(VerbatimText)
    led_to_action: Mapped[bool | None] = mapped_column(Boolean)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    credit: Mapped[CreditState] = mapped_column(
        _enum(CreditState), default=CreditState.NONE, server_default=CreditState.NONE.value
    )
    credited_at: Mapped[datetime | None]
    nag_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_nagged_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    snooze_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When retention (CX_RETENTION_DAYS) took its free text and its people; None while it has them.
    purged_at: Mapped[datetime | None]

    route: Mapped[Route | None] = relationship()

    __table_args__ = (
        Index("ix_items_status_created", "status", "created_at"),
        Index("ix_items_channel_card_ts", "channel", "card_ts"),
        Index("ix_items_created_at", "created_at"),
        Index("ix_items_status_closed", "status", "closed_at"),
        Index("ix_items_duplicate_of_id", "duplicate_of_id"),
        # Closed items retention hasn't purged yet: each day's run reads only those.
        Index(
            "ix_items_unpurged_closed_at",
            "closed_at",
            postgresql_where=_UNPURGED,
            sqlite_where=_UNPURGED,
        ),
    )


class Event(Base):
    """One state change of an item: append-only, never updated or deleted."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Looked up through ix_events_item_id_kind_at, which leads with item_id.
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_events_kind_at", "kind", "at"),
        Index("ix_events_item_id_kind_at", "item_id", "kind", "at"),
    )


class Vote(Base):
    """One person's upvote on an idea; a second click takes it back."""

    __tablename__ = "votes"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    voter_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime]


class CoRaiser(Base):
    """Someone who raised the same problem as an item's raiser ("me too"): they hear what its
    owner does, as the raiser does, and share its credit (anonymous ones only with consent)."""

    __tablename__ = "co_raisers"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    via: Mapped[str] = mapped_column(String(16))  # filing, card, home, duplicate
    joined_at: Mapped[datetime]
    # An anonymous co-raiser's answer to "may we thank you by name?": None until asked and answered.
    credit_me: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (Index("ix_co_raisers_item_id_joined_at", "item_id", "joined_at"),)


class ClaimStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class RouteClaim(Base):
    """Someone's offer to own a grey area ("I can own this"): the route it would make, waiting for
    a CX lead's Approve or Not now (a CX lead's own claim is approved as it is made)."""

    __tablename__ = "route_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    claimer: Mapped[str] = mapped_column(String(32))
    area: Mapped[str] = mapped_column(String(75))
    owner: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[ClaimStatus] = mapped_column(_enum(ClaimStatus), default=ClaimStatus.PENDING)
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None]
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id"))
    # The request in triage with Approve and Not now, once posted.
    request_channel: Mapped[str | None] = mapped_column(String(32))
    request_ts: Mapped[str | None] = mapped_column(String(32))


class VerifyAnswer(enum.StrEnum):
    FIXED = "fixed"
    STILL_HAPPENING = "still_happening"
    UNCONFIRMED = "unconfirmed"  # no answer within 7 days of the question


class VerifyAsk(Base):
    """ "Did this fix it?", owed to one of an actioned item's raisers (its raiser or a co-raiser):
    asked once, from `due_at` on, in their working hours."""

    __tablename__ = "verify_asks"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[datetime]
    asked_at: Mapped[datetime | None]
    answer: Mapped[VerifyAnswer | None] = mapped_column(_enum(VerifyAnswer))
    answered_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(VerbatimText)

    __table_args__ = (
        Index("ix_verify_asks_due_at", "due_at"),
        Index("ix_verify_asks_asked_at", "asked_at"),
    )


class JobRun(Base):
    """One run of a scheduled job for one period: the row is the claim, so across replicas and
    repeated `cxbot jobs run --at` each period runs once."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime]
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class HandledRequest(Base):
    """Keys of requests already acted on (an event_id, a view id, a click), so retries act once."""

    __tablename__ = "handled_requests"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime]


UNFINISHED_SQL = "status IN ('pending', 'sending')"


class OutboxMessage(Base):
    """A message owed to Slack, written in the same transaction as the change it reports."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    attempt_started_at: Mapped[datetime | None]
    outcome_uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # 0 goes first (a raiser's confirmation, an owner's first card); 2 can wait (nags, App Home).
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    # The rate limit its Slack call counts against: "post:<channel or user>" (chat.postMessage, one
    # a second per channel) or "method:<name>". None: nothing paced (a response_url reply).
    pace_key: Mapped[str | None] = mapped_column(String(64))
    # Messages with the same key that are still waiting make one delivery with the latest state
    # (a card's updates, a person's App Home).
    coalesce_key: Mapped[str | None] = mapped_column(String(64))
    # False: it doesn't wait for earlier messages about its item (a confirmation needn't wait for
    # a card held back by its channel's rate limit).
    in_item_order: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    __table_args__ = (
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        Index(
            "ix_outbox_pending_coalesce_key",
            "coalesce_key",
            postgresql_where=text("status = 'pending' AND coalesce_key IS NOT NULL"),
            sqlite_where=text("status = 'pending' AND coalesce_key IS NOT NULL"),
        ),
        # Only the unfinished messages, by item: whether an earlier message about the same item
        # is still unfinished (storage.outbox._not_blocked) is one lookup in a small index,
        # whatever the planner knows about the table.
        Index(
            "ix_outbox_unfinished_item_id",
            "item_id",
            "id",
            postgresql_where=text(UNFINISHED_SQL),
            sqlite_where=text(UNFINISHED_SQL),
        ),
    )


class SlackPace(Base):
    """When the next Slack call counted against a rate limit may go: shared by every replica,
    since Slack counts per app and workspace, not per process (bot/outbox/pacing.py)."""

    __tablename__ = "slack_pace"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    ready_at: Mapped[datetime]
