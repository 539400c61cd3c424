"""The outbox table's queries: enqueue in the caller's transaction, claim due rows, record outcomes.

A row is claimed by setting it to `sending` with a lease. A row still `sending` after its lease
ran out belongs to a dispatcher that died mid-delivery: it is claimed again and marked
`outcome_uncertain`, so that its delivery first checks whether Slack already has the message.
Messages about one item go out in the order they were written.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def enqueue(
    *, session: Session, kind: str, payload: dict[str, Any], item_id: int | None, now: datetime
) -> OutboxMessage:
    message = OutboxMessage(
        kind=kind,
        payload=payload,
        item_id=item_id,
        status=OutboxStatus.PENDING,
        attempts=0,
        outcome_uncertain=False,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)  # written with the rest of the transaction, in the order queued
    return message


def enqueue_many(
    *, session: Session, messages: Sequence[tuple[str, dict[str, Any], int | None]], now: datetime
) -> None:
    """Queue (kind, payload, item_id) messages in one statement, in this order."""
    if not messages:
        return
    rows = [
        {**pending_message(kind, payload, now=now), "item_id": item_id} for kind, payload, item_id in messages
    ]
    session.connection().execute(insert(_OUTBOX), rows)


def pending_message(kind: str, payload: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """An outbox row (without its item_id), due now."""
    return {
        "kind": kind,
        "payload": payload,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "outcome_uncertain": False,
        "next_attempt_at": now,
        "created_at": now,
    }


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
    return or_(OutboxMessage.item_id.is_(None), ~blocked_by_earlier)


def claim_due(*, session: Session, now: datetime, lease: timedelta, limit: int) -> list[OutboxMessage]:
    """Claim up to `limit` due messages for this dispatcher. Commit right after."""
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_until <= now),
    )
    query = select(OutboxMessage).where(due, _not_blocked()).order_by(OutboxMessage.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxMessage)
    claimed = list(session.scalars(query))
    for message in claimed:
        if message.status is OutboxStatus.SENDING:
            message.outcome_uncertain = True
        message.status = OutboxStatus.SENDING
        message.claimed_until = now + lease
        message.attempt_started_at = now
        message.attempts += 1
    session.flush()
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
