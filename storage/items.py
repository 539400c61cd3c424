"""Queries over items and their events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import OPEN_STATUSES, Base, Event, Item, ItemKind, ItemStatus, Severity


def insert_item(*, session: Session, row: dict[str, Any]) -> int | None:
    """Insert an items row, unless one with its intake_key is stored already (ON CONFLICT DO
    NOTHING: two replicas filing the same submission at once store it once). Returns the new
    item's id, or None if it was stored already."""
    dialect = session.get_bind().dialect.name
    insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_into(Item).values(row).on_conflict_do_nothing(index_elements=["intake_key"])
    number: int | None = session.scalar(statement.returning(Item.id))
    return number


def number_by_intake_key(*, session: Session, intake_key: str) -> int | None:
    number: int | None = session.scalar(select(Item.id).where(Item.intake_key == intake_key))
    return number


def add_events(
    *, session: Session, events: Sequence[tuple[int, str, dict[str, Any]]], actor: str, at: datetime
) -> None:
    """Append (item_id, kind, data) events by one actor in one statement; ids follow this order."""
    if events:
        rows = [
            {"item_id": item_id, "kind": kind, "actor": actor, "at": at, "data": data}
            for item_id, kind, data in events
        ]
        session.connection().execute(insert(_table(Event)), rows)


def _table(model: type[Base]) -> Table:
    """The model's table, for plain Core statements: inserting many rows through the ORM's bulk
    path costs about a millisecond more per statement."""
    return cast(Table, model.__table__)


def get_item(*, session: Session, item_id: int) -> Item | None:
    return session.get(Item, item_id)


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


class OpenItem(NamedTuple):
    """The columns of an open item that staleness depends on (bot.items.sla), and that the nag
    sweep and the digest read instead of whole items: there can be tens of thousands."""

    id: int
    kind: ItemKind
    status: ItemStatus
    severity: Severity | None
    route_id: int | None
    grey_area: bool
    owner: str
    channel: str
    created_at: datetime
    acknowledged_at: datetime | None
    nag_count: int
    last_nagged_at: datetime | None
    escalated_at: datetime | None
    snoozed_until: datetime | None
    area: str | None = None  # the digest counts what is past its SLA by area


def item_by_card(*, session: Session, channel: str, card_ts: str) -> Item | None:
    return session.scalar(select(Item).where(Item.channel == channel, Item.card_ts == card_ts))


def last_event_at(*, session: Session, item_id: int, actor: str, kinds: tuple[str, ...]) -> datetime | None:
    return session.scalar(
        select(func.max(Event.at)).where(
            Event.item_id == item_id, Event.actor == actor, Event.kind.in_(kinds)
        )
    )


def open_items_among(*, session: Session, item_ids: list[int]) -> list[Item]:
    """Those of these items still open, oldest first."""
    query = (
        select(Item).where(Item.id.in_(item_ids), Item.status.in_(OPEN_STATUSES)).order_by(Item.created_at)
    )
    return list(session.scalars(query))


def last_event_data(*, session: Session, item_id: int, kind: str) -> dict[str, Any] | None:
    """The data of the item's latest event of this kind, if it has one."""
    data = session.scalar(
        select(Event.data)
        .where(Event.item_id == item_id, Event.kind == kind)
        .order_by(Event.at.desc(), Event.id.desc())
        .limit(1)
    )
    return data if isinstance(data, dict) else None


def events_since(*, session: Session, kind: str, since: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    """The data of the latest events of this kind since `since` (through ix_events_kind_at)."""
    query = (
        select(Event.data).where(Event.kind == kind, Event.at >= since).order_by(Event.at.desc()).limit(limit)
    )
    return [data for data in session.scalars(query) if isinstance(data, dict)]
