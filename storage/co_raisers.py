"""Queries over co-raisers: the people who said "me too" to an item."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import OPEN_STATUSES, CoRaiser, Item, ItemKind, ItemStatus


def add_co_raiser(
    *, session: Session, item_id: int, user_id: str, anonymous: bool, via: str, now: datetime
) -> bool:
    """Make `user_id` a co-raiser of the item. Returns False if they already were one."""
    row = {"item_id": item_id, "user_id": user_id, "anonymous": anonymous, "via": via, "joined_at": now}
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):  # pragma: no cover - cxbot runs on these two
        if session.get(CoRaiser, (item_id, user_id)) is not None:
            return False
        session.execute(insert(CoRaiser).values(row))
        return True
    insert_row = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING says whether the row went in: rowcount isn't to be trusted after ON CONFLICT.
    statement = insert_row(CoRaiser).values(row).on_conflict_do_nothing().returning(CoRaiser.user_id)
    return session.execute(statement).first() is not None


def co_raisers_of(*, session: Session, item_id: int) -> list[CoRaiser]:
    """The item's co-raisers, first to join first."""
    query = select(CoRaiser).where(CoRaiser.item_id == item_id).order_by(CoRaiser.joined_at, CoRaiser.user_id)
    return list(session.scalars(query))


def co_raiser_count(*, session: Session, item_id: int) -> int:
    count = session.scalar(select(func.count()).select_from(CoRaiser).where(CoRaiser.item_id == item_id))
    return int(count or 0)


def joined_since(*, session: Session, item_id: int, since: datetime) -> int:
    """How many joined the item at or after `since`."""
    count = session.scalar(
        select(func.count())
        .select_from(CoRaiser)
        .where(CoRaiser.item_id == item_id, CoRaiser.joined_at >= since)
    )
    return int(count or 0)


def open_items_like(
    *, session: Session, kind: ItemKind, since: datetime, leave_out: int
) -> list[tuple[int, str]]:
    """(id, text) of the open items of this kind raised since `since`, other than `leave_out`:
    the candidates for "me too". A few hundred at most on a bad month."""
    query = (
        select(Item.id, Item.text)
        .where(
            Item.kind == kind,
            Item.status.in_(OPEN_STATUSES),
            Item.created_at >= since,
            Item.id != leave_out,
        )
        .order_by(Item.id.desc())
        .limit(5000)
    )
    return [(int(item_id), str(text)) for item_id, text in session.execute(query)]


def raised_by_counts(*, session: Session, item_ids: list[int]) -> dict[int, int]:
    """How many people raised each item: its raiser and its co-raisers."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(CoRaiser.item_id, func.count())
        .where(CoRaiser.item_id.in_(item_ids))
        .group_by(CoRaiser.item_id)
    )
    counts = {int(item_id): int(count) + 1 for item_id, count in rows}
    return {item_id: counts.get(item_id, 1) for item_id in item_ids}


__all__ = [
    "ItemStatus",
    "add_co_raiser",
    "co_raiser_count",
    "co_raisers_of",
    "joined_since",
    "open_items_like",
]


def find_co_raiser(*, session: Session, item_id: int, user_id: str) -> CoRaiser | None:
    return session.get(CoRaiser, (item_id, user_id))


def credited_co_raisers(*, session: Session, item_id: int) -> list[str]:
    """The co-raisers thanked by name: those who didn't file anonymously, and those who did and
    said yes when asked."""
    return [
        row.user_id
        for row in co_raisers_of(session=session, item_id=item_id)
        if not row.anonymous or row.credit_me is True
    ]
