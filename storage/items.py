"""Queries over items and their events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Event, Item


def item_by_intake_key(*, session: Session, intake_key: str) -> Item | None:
    return session.scalar(select(Item).where(Item.intake_key == intake_key))


def get_item(*, session: Session, item_id: int) -> Item | None:
    return session.get(Item, item_id)


def events_of(*, session: Session, item_id: int) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.item_id == item_id).order_by(Event.id)))
