"""Items and events for `cxbot export`, a page at a time: each page is one short read, keyed by id
(`id > after`), so an export of any size holds one page in memory and never holds a transaction
open (on SQLite every transaction takes the write lock)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.models import CoRaiser, Event, Item, Vote

PAGE_SIZE = 1000


@dataclass(frozen=True)
class Window:
    """Items raised, or events that happened, from `since` (inclusive) until `until` (exclusive)."""

    since: datetime | None = None
    until: datetime | None = None

    def over(self, moment: InstrumentedAttribute[datetime]) -> list[ColumnElement[bool]]:
        conditions = []
        if self.since is not None:
            conditions.append(moment >= self.since)
        if self.until is not None:
            conditions.append(moment < self.until)
        return conditions


@dataclass(frozen=True)
class ItemRecord:
    item: dict[str, Any]  # the item's columns, by name
    co_raisers: int
    votes: int
    anonymous_people: frozenset[str]  # its raiser if anonymous, and its anonymous co-raisers

    @property
    def id(self) -> int:
        number: int = self.item["id"]
        return number


@dataclass(frozen=True)
class EventRecord:
    event: dict[str, Any]
    anonymous_people: frozenset[str]  # of the event's item, as in ItemRecord

    @property
    def id(self) -> int:
        number: int = self.event["id"]
        return number


ITEM_FIELDS = (
    Item.id,
    Item.kind,
    Item.status,
    Item.severity,
    Item.journey_stage,
    Item.area,
    Item.grey_area,
    Item.routed_by,
    Item.owner,
    Item.channel,
    Item.raiser_id,
    Item.anonymous,
    Item.created_at,
    Item.updated_at,
    Item.acknowledged_at,
    Item.closed_at,
    Item.acted_by,
    Item.led_to_action,
    Item.credit,
    Item.duplicate_of_id,
    Item.text,
    Item.customers,
    Item.resolution,
)
EVENT_FIELDS = (Event.id, Event.item_id, Event.kind, Event.actor, Event.at, Event.data)


def count_items(*, session: Session, window: Window) -> int:
    return session.scalar(select(func.count()).select_from(Item).where(*window.over(Item.created_at))) or 0


def count_events(*, session: Session, window: Window) -> int:
    return session.scalar(select(func.count()).select_from(Event).where(*window.over(Event.at))) or 0


def items_page(*, session: Session, window: Window, after: int, limit: int = PAGE_SIZE) -> list[ItemRecord]:
    """The next `limit` items with ids above `after`, in id order."""
    query = (
        select(*ITEM_FIELDS)
        .where(Item.id > after, *window.over(Item.created_at))
        .order_by(Item.id)
        .limit(limit)
    )
    items = [dict(row._mapping) for row in session.execute(query)]
    if not items:
        return []
    ids = [item["id"] for item in items]
    co_raisers, anonymous = _co_raisers(session, ids)
    votes = _votes(session, ids)
    return [
        ItemRecord(
            item=item,
            co_raisers=co_raisers[item["id"]],
            votes=votes[item["id"]],
            anonymous_people=frozenset(
                anonymous[item["id"]] | ({item["raiser_id"]} if item["anonymous"] else set())
            ),
        )
        for item in items
    ]


def events_page(*, session: Session, window: Window, after: int, limit: int = PAGE_SIZE) -> list[EventRecord]:
    """The next `limit` events with ids above `after`, in id order."""
    query = (
        select(*EVENT_FIELDS).where(Event.id > after, *window.over(Event.at)).order_by(Event.id).limit(limit)
    )
    events = [dict(row._mapping) for row in session.execute(query)]
    item_ids = sorted({event["item_id"] for event in events})
    hidden = _anonymous_people(session, item_ids)
    return [
        EventRecord(event=event, anonymous_people=frozenset(hidden[event["item_id"]])) for event in events
    ]


def _co_raisers(session: Session, item_ids: Collection[int]) -> tuple[Counter[int], dict[int, set[str]]]:
    """How many co-raisers each item has, and which of them joined anonymously."""
    counts: Counter[int] = Counter()
    anonymous: dict[int, set[str]] = defaultdict(set)
    rows = session.execute(
        select(CoRaiser.item_id, CoRaiser.user_id, CoRaiser.anonymous).where(CoRaiser.item_id.in_(item_ids))
    )
    for item_id, user_id, is_anonymous in rows:
        counts[item_id] += 1
        if is_anonymous:
            anonymous[item_id].add(user_id)
    return counts, anonymous


def _votes(session: Session, item_ids: Collection[int]) -> Counter[int]:
    rows = session.execute(
        select(Vote.item_id, func.count()).where(Vote.item_id.in_(item_ids)).group_by(Vote.item_id)
    )
    votes: dict[int, int] = dict(rows.all())
    return Counter(votes)


def _anonymous_people(session: Session, item_ids: Collection[int]) -> dict[int, set[str]]:
    """Each item's anonymous raiser and anonymous co-raisers."""
    hidden: dict[int, set[str]] = defaultdict(set)
    if not item_ids:
        return hidden
    raisers = session.execute(select(Item.id, Item.raiser_id).where(Item.id.in_(item_ids), Item.anonymous))
    co_raisers = session.execute(
        select(CoRaiser.item_id, CoRaiser.user_id).where(CoRaiser.item_id.in_(item_ids), CoRaiser.anonymous)
    )
    for item_id, person in (*raisers, *co_raisers):
        hidden[item_id].add(person)
    return hidden
