"""What the "you said, we did" roundup reads: what changed because people spoke up, in a period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Event, Item, ItemStatus


def acted_on(*, session: Session, start: datetime, end: datetime, limit: int = 50) -> list[Item]:
    """Alarms actioned and ideas adopted in [start, end) that led to a change, in that order."""
    query = (
        select(Item)
        .where(
            Item.status == ItemStatus.ACTIONED,
            Item.led_to_action.is_(True),
            Item.closed_at >= start,
            Item.closed_at < end,
        )
        .order_by(Item.closed_at, Item.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def grey_areas_owned(
    *, session: Session, start: datetime, end: datetime
) -> list[tuple[Item, str, str | None]]:
    """(item, who gave it an owner, the area it went to) for each grey area that found an owner in
    [start, end). Who gave it one is whoever claimed the area ("I can own this"), if someone did;
    else whoever reassigned it."""
    rows = session.execute(
        select(Item, Event.actor, Event.data)
        .join(Event, Event.item_id == Item.id)
        .where(
            Event.kind == "reassigned",
            Event.at >= start,
            Event.at < end,
            Event.data["from_grey_area"].as_boolean(),
        )
        .order_by(Event.at, Event.id)
    ).all()
    seen: set[int] = set()
    found = []
    for item, actor, data in rows:
        if item.id not in seen:
            seen.add(item.id)
            details = data or {}
            found.append((item, str(details.get("claimed_by") or actor), details.get("to_area")))
    return found
