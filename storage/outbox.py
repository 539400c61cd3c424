"""The outbox table's queries: enqueue in the caller's transaction, claim due rows, record outcomes.

A row is claimed by setting it to `sending` with a lease. A row still `sending` after its lease
ran out belongs to a dispatcher that died mid-delivery: it is claimed again and marked
`outcome_uncertain`, so that its delivery first checks whether Slack already has the message.
Messages about one item go out in the order they were written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from storage.models import OutboxMessage, OutboxStatus

_UNFINISHED = (OutboxStatus.PENDING, OutboxStatus.SENDING)
_OUTBOX = cast(Table, OutboxMessage.__table__)  # for plain Core statements on the hot paths


@dataclass(frozen=True)
class NewMessage:
    """A message to queue, with how the dispatcher is to treat it (see OutboxMessage's columns)."""

    kind: str
    payload: dict[str, Any]
    item_id: int | None
    priority: int = 1
    pace_key: str | None = None
    coalesce_key: str | None = None
    in_item_order: bool = True

    def row(self, *, now: datetime) -> dict[str, Any]:
        """The outbox row, due now."""
        return {
            "kind": self.kind,
            "payload": self.payload,
            "item_id": self.item_id,
            "priority": self.priority,
            "pace_key": self.pace_key,
            "coalesce_key": self.coalesce_key,
            "in_item_order": self.in_item_order,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "outcome_uncertain": False,
            "next_attempt_at": now,
            "created_at": now,
        }


def enqueue(*, session: Session, message: NewMessage, now: datetime) -> OutboxMessage:
    queued = OutboxMessage(**message.row(now=now))
    session.add(queued)  # written with the rest of the transaction, in the order queued
    return queued


def enqueue_many(*, session: Session, messages: Sequence[NewMessage], now: datetime) -> None:
    """Queue messages in one statement, in this order."""
    if messages:
        session.connection().execute(insert(_OUTBOX), [message.row(now=now) for message in messages])


def _not_blocked() -> ColumnElement[bool]:
    """No earlier message about the same item is still unfinished. The statuses are written into
    the SQL, not bound, so that the database can see the partial index ix_outbox_unfinished_item_id
    applies (a bound parameter could hold any status)."""
    earlier = aliased(OutboxMessage)
    unfinished: BindParameter[list[str]] = bindparam(
        "unfinished", [status.value for status in _UNFINISHED], expanding=True, literal_execute=True
    )
    blocked_by_earlier = exists().where(
        earlier.item_id == OutboxMessage.item_id,
        earlier.id < OutboxMessage.id,
        earlier.status.in_(unfinished),
    )
    return or_(OutboxMessage.item_id.is_(None), ~OutboxMessage.in_item_order, ~blocked_by_earlier)


@dataclass(frozen=True)
class Held:
    """What keeps due messages back this pass: rate limits that have no room now."""

    pace_keys: frozenset[str] = frozenset()
    # Every "post:" key is held: the workspace-wide chat.postMessage limit has no room.
    all_posts: bool = False
    # Messages with a coalesce_key wait this long after they were queued, to gather the changes
    # that follow into one delivery.
    gather: timedelta = timedelta(0)


def due_candidates(*, session: Session, now: datetime, held: Held, limit: int) -> list[OutboxMessage]:
    """Up to `limit` due messages, most urgent first, that no held rate limit keeps back. Locked
    (PostgreSQL: skipping rows another replica holds) until the caller's transaction ends."""
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_until <= now),
    )
    conditions: list[ColumnElement[bool]] = [due, _not_blocked()]
    if held.pace_keys:
        conditions.append(
            or_(OutboxMessage.pace_key.is_(None), OutboxMessage.pace_key.not_in(sorted(held.pace_keys)))
        )
    if held.all_posts:
        conditions.append(or_(OutboxMessage.pace_key.is_(None), ~OutboxMessage.pace_key.startswith("post:")))
    if held.gather:
        conditions.append(
            or_(OutboxMessage.coalesce_key.is_(None), OutboxMessage.created_at <= now - held.gather)
        )
    query = (
        select(OutboxMessage)
        .where(*conditions)
        .order_by(OutboxMessage.priority, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxMessage)
    return list(session.scalars(query))


def _due_pending(now: datetime) -> ColumnElement[bool]:
    return and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)


def pace_keys_waiting(
    *, session: Session, now: datetime, keys: Sequence[str], prefixes: Sequence[str] = ()
) -> set[str]:
    """Which of these rate limits, and which limits starting with one of `prefixes` ("post:",
    say), due messages wait on."""
    among: list[ColumnElement[bool]] = [OutboxMessage.pace_key.in_(sorted(keys))] if keys else []
    among += [OutboxMessage.pace_key.startswith(prefix) for prefix in prefixes]
    if not among:
        return set()
    query = select(OutboxMessage.pace_key).where(_due_pending(now), _not_blocked(), or_(*among)).distinct()
    return {str(key) for key in session.scalars(query)}


def gathered_at(*, session: Session, now: datetime, gather: timedelta) -> datetime | None:
    """When the first message still gathering changes to coalesce with will have gathered."""
    first = session.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            _due_pending(now),
            OutboxMessage.coalesce_key.is_not(None),
            OutboxMessage.created_at > now - gather,
        )
    )
    return first + gather if first is not None else None


def claim(*, session: Session, messages: Sequence[OutboxMessage], now: datetime, lease: timedelta) -> None:
    """Make these messages this dispatcher's to deliver until the lease runs out. A message still
    `sending` from a dispatcher that died is claimed again as uncertain. Waiting messages with the
    same coalesce_key are folded into the claimed one: its delivery shows the latest state."""
    for message in messages:
        if message.status is OutboxStatus.SENDING:
            message.outcome_uncertain = True
        message.status = OutboxStatus.SENDING
        message.claimed_until = now + lease
        message.attempt_started_at = now
        message.attempts += 1
    session.flush()
    for message in messages:
        if message.coalesce_key is not None:
            _fold_into(session, message, now=now)


def _fold_into(session: Session, message: OutboxMessage, *, now: datetime) -> None:
    session.connection().execute(
        update(_OUTBOX)
        .where(
            _OUTBOX.c.coalesce_key == message.coalesce_key,
            _OUTBOX.c.status == OutboxStatus.PENDING,
            _OUTBOX.c.id != message.id,
        )
        .values(status=OutboxStatus.SENT, sent_at=now, result={"coalesced_into": message.id})
    )


def claim_due(*, session: Session, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
    """Claim up to `limit` due messages, most urgent first, with nothing held. Commit right after."""
    claimed = due_candidates(session=session, now=now, held=Held(), limit=limit)
    claim(session=session, messages=claimed, now=now, lease=lease)
    return claimed


def mark_sent(*, session: Session, message_id: int, result: dict[str, Any], now: datetime) -> None:
    _set(
        session,
        message_id,
        status=OutboxStatus.SENT,
        result=result,
        sent_at=now,
        claimed_until=None,
        outcome_uncertain=False,
        last_error=None,
    )


def mark_retry(*, session: Session, message_id: int, error: str, retry_at: datetime, uncertain: bool) -> None:
    values: dict[str, Any] = {
        "status": OutboxStatus.PENDING,
        "next_attempt_at": retry_at,
        "claimed_until": None,
        "last_error": error,
    }
    if uncertain:
        values["outcome_uncertain"] = True
    _set(session, message_id, **values)


def mark_failed(*, session: Session, message_id: int, error: str) -> None:
    _set(session, message_id, status=OutboxStatus.FAILED, claimed_until=None, last_error=error)


def _set(session: Session, message_id: int, **values: Any) -> None:
    """A plain UPDATE of one row: the ORM's bulk-update path costs more than the statement, and
    the dispatcher runs this once per message."""
    session.connection().execute(update(_OUTBOX).where(_OUTBOX.c.id == message_id).values(**values))


def next_due_at(*, session: Session) -> datetime | None:
    """When the soonest claimable message falls due (a pending retry, or a lease running out), so
    the dispatcher knows how long it may sleep. Messages waiting behind another don't count."""
    pending = select(func.min(OutboxMessage.next_attempt_at)).where(
        OutboxMessage.status == OutboxStatus.PENDING, _not_blocked()
    )
    leased = select(func.min(OutboxMessage.claimed_until)).where(OutboxMessage.status == OutboxStatus.SENDING)
    times = [session.scalar(pending), session.scalar(leased)]
    known = [moment for moment in times if moment is not None]
    return min(known) if known else None


def unfinished_by_priority(*, session: Session) -> dict[int, int]:
    """Messages not yet delivered (pending or sending), by priority."""
    rows = session.execute(
        select(OutboxMessage.priority, func.count())
        .where(OutboxMessage.status.in_(_UNFINISHED))
        .group_by(OutboxMessage.priority)
    ).all()
    return {int(priority): count for priority, count in rows}


def counts_by_status(*, session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    return {str(status): count for status, count in rows}


def release(*, session: Session, message_id: int, retry_at: datetime) -> None:
    """Undo a claim that was never attempted: no attempt counted, nothing uncertain."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status=OutboxStatus.PENDING,
            next_attempt_at=retry_at,
            claimed_until=None,
            attempts=OutboxMessage.attempts - 1,
        )
    )


def failed_messages(*, session: Session, limit: int = 50) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.FAILED)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def requeue_failed(*, session: Session, now: datetime) -> int:
    """Send every failed message again (after the cause, say a missing channel, is fixed)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.PENDING, next_attempt_at=now, last_error=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def card_was_refused(*, session: Session, item_id: int) -> bool:
    """Whether Slack refused every attempt to post the item's card (it is `failed`)."""
    failed = select(OutboxMessage.id).where(
        OutboxMessage.item_id == item_id,
        OutboxMessage.kind == "post_card",
        OutboxMessage.status == OutboxStatus.FAILED,
    )
    return session.scalar(failed.limit(1)) is not None
