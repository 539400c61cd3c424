"""Queries over "did this fix it?" asks: one row per raiser (or co-raiser) of an actioned item."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import TOMBSTONE_PREFIX, Item, ItemStatus, VerifyAnswer, VerifyAsk

_IN_CHUNK = 900  # ids per `IN (...)`: under SQLite's oldest limit of 999 bound parameters


class DueAsk(NamedTuple):
    item_id: int
    user_id: str
    anonymous: bool
    co_raiser: bool  # someone who said "me too", not the item's raiser


def schedule_asks(
    *, session: Session, item_id: int, people: Sequence[tuple[str, bool]], due_at: datetime
) -> None:
    """Owe each of `people` (user, anonymous) the question from `due_at` on. Someone already asked
    about this item is not asked again; someone not asked yet waits for the new date."""
    existing = {
        ask.user_id: ask for ask in session.scalars(select(VerifyAsk).where(VerifyAsk.item_id == item_id))
    }
    for user_id, anonymous in dict(people).items():
        ask = existing.get(user_id)
        if ask is None:
            session.add(VerifyAsk(item_id=item_id, user_id=user_id, anonymous=anonymous, due_at=due_at))
        elif ask.asked_at is None:
            ask.due_at = due_at
    session.flush()


def due_asks(
    *, session: Session, at: datetime, among: Sequence[tuple[int, str]] | None = None
) -> list[DueAsk]:
    """The questions due at `at`, not yet asked, about items still actioned (an item reopened since
    waits, and is asked about only if it is actioned again), oldest first; nobody who was replaced
    by a tombstone."""
    query = (
        select(VerifyAsk.item_id, VerifyAsk.user_id, VerifyAsk.anonymous, VerifyAsk.user_id != Item.raiser_id)
        .join(Item, Item.id == VerifyAsk.item_id)
        .where(
            VerifyAsk.asked_at.is_(None),
            VerifyAsk.answer.is_(None),
            VerifyAsk.due_at <= at,
            Item.status == ItemStatus.ACTIONED,
            VerifyAsk.user_id.not_like(f"{TOMBSTONE_PREFIX}%"),  # removed by retention or forget
        )
        .order_by(VerifyAsk.due_at, VerifyAsk.item_id, VerifyAsk.user_id)
    )
    if among is not None:
        if not among:
            return []
        query = query.where(or_(*(and_(VerifyAsk.item_id == i, VerifyAsk.user_id == u) for i, u in among)))
    return [DueAsk(int(i), str(u), bool(a), bool(c)) for i, u, a, c in session.execute(query)]


def mark_asked(*, session: Session, asks: Sequence[tuple[int, str]], at: datetime) -> None:
    for item_id, user_id in asks:
        session.execute(
            update(VerifyAsk)
            .where(VerifyAsk.item_id == item_id, VerifyAsk.user_id == user_id, VerifyAsk.asked_at.is_(None))
            .values(asked_at=at)
        )


def expire_asks(*, session: Session, asked_before: datetime, now: datetime) -> list[int]:
    """Mark the questions asked before `asked_before` and still unanswered as unconfirmed. Returns
    the items they were about, each once."""
    stale = and_(VerifyAsk.asked_at <= asked_before, VerifyAsk.answer.is_(None))
    item_ids = sorted({int(i) for i in session.scalars(select(VerifyAsk.item_id).where(stale))})
    if item_ids:
        session.execute(
            update(VerifyAsk).where(stale).values(answer=VerifyAnswer.UNCONFIRMED, answered_at=now)
        )
    return item_ids


def settled_unconfirmed(*, session: Session, item_ids: Sequence[int]) -> list[int]:
    """Of `item_ids`, the actioned items whose every question asked went unanswered: nobody said
    fixed or still happening, and nobody asked can still answer in time."""
    if not item_ids:
        return []
    found: list[int] = []
    ids = sorted(set(item_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        answered_or_waiting = (
            select(VerifyAsk.item_id)
            .where(
                VerifyAsk.item_id.in_(chunk),
                or_(
                    VerifyAsk.answer.in_((VerifyAnswer.FIXED, VerifyAnswer.STILL_HAPPENING)),
                    and_(VerifyAsk.asked_at.is_not(None), VerifyAsk.answer.is_(None)),
                ),
            )
            .distinct()
        )
        query = select(Item.id).where(
            Item.id.in_(chunk), Item.status == ItemStatus.ACTIONED, Item.id.not_in(answered_or_waiting)
        )
        found += [int(item_id) for item_id in session.scalars(query)]
    return sorted(found)


def find_ask(*, session: Session, item_id: int, user_id: str) -> VerifyAsk | None:
    """The question `user_id` was asked about the item; None if they were never asked."""
    ask = session.get(VerifyAsk, (item_id, user_id))
    return ask if ask is not None and ask.asked_at is not None else None


def fixed_count(*, session: Session, item_id: int) -> int:
    """How many of the item's raisers said it is fixed for customers."""
    count = session.scalar(
        select(func.count())
        .select_from(VerifyAsk)
        .where(VerifyAsk.item_id == item_id, VerifyAsk.answer == VerifyAnswer.FIXED)
    )
    return int(count or 0)
