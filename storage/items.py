"""Queries over items and their events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, func, insert, select
from sqlalchemy.orm import Session

from storage.models import Base, Event, Item, ItemStatus


def item_by_intake_key(*, session: Session, intake_key: str) -> Item | None:
    return session.scalar(select(Item).where(Item.intake_key == intake_key))


def numbers_by_intake_key(*, connection: Connection, intake_keys: Sequence[str]) -> dict[str, int]:
    """The ids of stored items among these intake keys, by key (no query when there are none)."""
    if not intake_keys:
        return {}
    rows = connection.execute(select(Item.intake_key, Item.id).where(Item.intake_key.in_(set(intake_keys))))
    return {key: number for key, number in rows if key is not None}


def insert_events(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append events in one statement (rows of column values, all with the same keys)."""
    if rows:
        session.connection().execute(insert(_table(Event)), list(rows))


def _table(model: type[Base]) -> Table:
    """The model's table, for plain Core statements: inserting many rows through the ORM's bulk
    path costs about a millisecond more per statement."""
    return cast(Table, model.__table__)


def get_item(*, session: Session, item_id: int) -> Item | None:
    return session.get(Item, item_id)


def events_of(*, session: Session, item_id: int) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.item_id == item_id).order_by(Event.id)))


def credited_duplicate_raisers(*, session: Session, item_id: int) -> list[str]:
    """Named raisers of items merged into this one: they share its credit (anonymous ones don't
    appear, as they were never asked)."""
    original = session.get(Item, item_id)
    rows = session.scalars(
        select(Item.raiser_id)
        .where(Item.duplicate_of_id == item_id, Item.anonymous.is_(False))
        .order_by(Item.id)
    )
    return [raiser for raiser in dict.fromkeys(rows) if original is None or raiser != original.raiser_id]


def item_for_update(*, session: Session, item_id: int) -> Item | None:
    """The item, locked for this transaction on PostgreSQL (SQLite's BEGIN IMMEDIATE already is)."""
    query = select(Item).where(Item.id == item_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def item_by_card(*, session: Session, channel: str, card_ts: str) -> Item | None:
    return session.scalar(select(Item).where(Item.channel == channel, Item.card_ts == card_ts))


def last_event_at(*, session: Session, item_id: int, actor: str, kinds: tuple[str, ...]) -> datetime | None:
    return session.scalar(
        select(func.max(Event.at)).where(
            Event.item_id == item_id, Event.actor == actor, Event.kind.in_(kinds)
        )
    )


def open_items(*, session: Session, item_ids: list[int]) -> list[Item]:
    query = (
        select(Item)
        .where(Item.id.in_(item_ids), Item.status.in_((ItemStatus.NEW, ItemStatus.ACKNOWLEDGED)))
        .order_by(Item.created_at)
    )
    return list(session.scalars(query))
