"""SQL aggregation behind the weekly digest. Each function returns counts or percentiles computed by
the database, never by looping over rows in Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session

from storage.models import Event, Item, ItemKind, ItemStatus, Vote

PERCENTILES = (0.5, 0.9)


@dataclass(frozen=True)
class Flow:
    """How many items of a kind were raised, acknowledged, actioned and declined in a window."""

    raised: int = 0
    acknowledged: int = 0
    actioned: int = 0
    declined: int = 0


@dataclass(frozen=True)
class Speed:
    """Nearest-rank median and 90th percentile; None when nothing happened."""

    median: timedelta | None
    p90: timedelta | None


def _seconds_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    return cast((func.julianday(later) - func.julianday(earlier)) * 86400.0, Float)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def flow(*, session: Session, start: datetime, end: datetime) -> dict[ItemKind, Flow]:
    raised = dict(
        session.execute(
            select(Item.kind, func.count())
            .where(Item.created_at >= start, Item.created_at < end)
            .group_by(Item.kind)
        ).all()
    )
    changes = session.execute(
        select(Item.kind, Event.kind, func.count(func.distinct(Event.item_id)))
        .join(Item, Item.id == Event.item_id)
        .where(Event.at >= start, Event.at < end, Event.kind.in_(("acknowledged", "actioned", "declined")))
        .group_by(Item.kind, Event.kind)
    ).all()
    counted: dict[tuple[ItemKind, str], int] = {(kind, event): count for kind, event, count in changes}
    return {
        kind: Flow(
            raised=int(raised.get(kind, 0)),
            acknowledged=counted.get((kind, "acknowledged"), 0),
            actioned=counted.get((kind, "actioned"), 0),
            declined=counted.get((kind, "declined"), 0),
        )
        for kind in ItemKind
    }


def _first_event(kind: str) -> Select[int, datetime]:
    return (
        select(Event.item_id.label("item_id"), func.min(Event.at).label("at"))
        .where(Event.kind == kind)
        .group_by(Event.item_id)
    )


def speed(*, session: Session, event_kind: str, start: datetime, end: datetime) -> Speed:
    """Time from raising to the first `event_kind`, for items whose first one fell in the window."""
    first = _first_event(event_kind).subquery()
    seconds = _seconds_between(first.c.at, Item.created_at, _dialect(session)).label("seconds")
    durations = (
        select(
            seconds,
            func.row_number().over(order_by=seconds).label("rank"),
            func.count().over().label("n"),
        )
        .join(first, first.c.item_id == Item.id)
        .where(first.c.at >= start, first.c.at < end)
        .subquery()
    )
    values = []
    for fraction in PERCENTILES:
        query = (
            select(durations.c.seconds)
            .where(durations.c.rank >= durations.c.n * literal(fraction))
            .order_by(durations.c.rank)
            .limit(1)
        )
        value = session.scalar(query)
        values.append(timedelta(seconds=round(float(value))) if value is not None else None)
    return Speed(median=values[0], p90=values[1])


def grey_areas(*, session: Session, start: datetime, end: datetime) -> tuple[int, int, int]:
    """(came in with no owner in the window, resolved by reassignment in the window, still unowned now)."""
    came_in = session.scalar(
        select(func.count()).where(
            Item.routed_by == "grey_area", Item.created_at >= start, Item.created_at < end
        )
    )
    resolved = session.scalar(
        select(func.count(func.distinct(Event.item_id))).where(
            Event.kind == "reassigned",
            Event.at >= start,
            Event.at < end,
            Event.data["from_grey_area"].as_boolean(),
        )
    )
    unowned = session.scalar(
        select(func.count()).where(
            Item.grey_area.is_(True), Item.status.in_((ItemStatus.NEW, ItemStatus.ACKNOWLEDGED))
        )
    )
    return int(came_in or 0), int(resolved or 0), int(unowned or 0)


def breakdown(
    *, session: Session, column: Any, start: datetime, end: datetime
) -> list[tuple[str | None, int, int]]:
    """(value, raised in the window, actioned in the window) for each area or journey stage."""
    raised = func.sum(case((and_(Item.created_at >= start, Item.created_at < end), 1), else_=0))
    actioned = func.sum(
        case(
            (and_(Item.status == ItemStatus.ACTIONED, Item.closed_at >= start, Item.closed_at < end), 1),
            else_=0,
        )
    )
    rows = session.execute(
        select(column, raised, actioned).group_by(column).order_by(raised.desc(), column)
    ).all()
    return [(value, int(r or 0), int(a or 0)) for value, r, a in rows if (r or 0) or (a or 0)]


def top_ideas(*, session: Session, limit: int = 5) -> list[tuple[Item, int]]:
    votes = func.count(Vote.voter_id).label("votes")
    query = (
        select(Item, votes)
        .join(Vote, Vote.item_id == Item.id)
        .where(
            Item.kind == ItemKind.IDEA,
            Item.status.notin_((ItemStatus.WITHDRAWN, ItemStatus.DECLINED, ItemStatus.DUPLICATE)),
        )
        .group_by(Item.id)
        .order_by(votes.desc(), Item.id)
        .limit(limit)
    )
    return [(item, int(count)) for item, count in session.execute(query).all()]
