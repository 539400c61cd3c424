"""SQL aggregation behind the weekly digest. Each function returns counts or percentiles computed by
the database, never by looping over rows in Python."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Subquery,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session, aliased

from storage.figures import CreditedFix, Flow, Series, Speed, Verification, Week
from storage.items import OpenItem
from storage.models import (
    OPEN_STATUSES,
    CoRaiser,
    CreditState,
    Event,
    Item,
    ItemKind,
    ItemStatus,
    Severity,
    UTCDateTime,
    Vote,
)

PERCENTILES = (0.5, 0.9)


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


def people_who_spoke_up(*, session: Session, start: datetime, end: datetime) -> int:
    """Distinct people who raised an item, or joined one as a co-raiser, in [start, end)."""
    raisers = select(Item.raiser_id.label("person")).where(Item.created_at >= start, Item.created_at < end)
    joiners = select(CoRaiser.user_id.label("person")).where(
        CoRaiser.joined_at >= start, CoRaiser.joined_at < end
    )
    everyone = union(raisers, joiners).subquery()
    return int(session.scalar(select(func.count()).select_from(everyone)) or 0)


def verification(*, session: Session, start: datetime, end: datetime) -> Verification:
    """Items that raisers confirmed fixed, that a raiser reopened as still happening, and that went
    unconfirmed, in [start, end): each item once per count."""
    by_raiser = and_(Event.kind == "reopened", Event.data["by_raiser"].as_boolean())
    outcome = case(
        (Event.kind == "verified", literal("fixed")),
        (Event.kind == "unconfirmed", literal("unconfirmed")),
        else_=literal("reopened"),
    )
    rows = session.execute(
        select(outcome, func.count(func.distinct(Event.item_id)))
        .where(
            Event.at >= start,
            Event.at < end,
            or_(Event.kind.in_(("verified", "unconfirmed")), by_raiser),
        )
        .group_by(outcome)
    ).all()
    counts = {str(kind): int(count) for kind, count in rows}
    return Verification(
        fixed=counts.get("fixed", 0),
        reopened=counts.get("reopened", 0),
        unconfirmed=counts.get("unconfirmed", 0),
    )


def _firsts_in_window(kind: str, start: datetime, end: datetime) -> Subquery:
    """(item_id, at) of each item whose first `kind` event fell in [start, end): its earliest such
    event in the window, unless it had one before the window. Reads the window through
    ix_events_kind_at and looks back through ix_events_item_id_kind_at, never the whole log."""
    in_window = (
        select(Event.item_id.label("item_id"), func.min(Event.at).label("at"))
        .where(Event.kind == kind, Event.at >= start, Event.at < end)
        .group_by(Event.item_id)
        .subquery()
    )
    earlier = aliased(Event)
    before = (
        select(earlier.id)
        .where(earlier.item_id == in_window.c.item_id, earlier.kind == kind, earlier.at < start)
        .exists()
    )
    return select(in_window.c.item_id, in_window.c.at).where(~before).subquery()


def speed(*, session: Session, event_kind: str, start: datetime, end: datetime) -> Speed:
    """Time from raising to the first `event_kind`, for items whose first one fell in the window."""
    first = _firsts_in_window(event_kind, start, end)
    # Each item's created_at looked up by id, row by row, rather than joined: for a few thousand
    # items a join has PostgreSQL read all the items to hash them. (The foreign key from events to
    # items says the item is there, as the join did.)
    raised = select(Item.created_at).where(Item.id == first.c.item_id).scalar_subquery()
    seconds = _seconds_between(first.c.at, raised, _dialect(session)).label("seconds")
    durations = select(
        seconds,
        func.row_number().over(order_by=seconds).label("rank"),
        func.count().over().label("n"),
    ).subquery()
    # Nearest rank: the value at the lowest rank >= n * fraction. Durations rise with their rank,
    # so that is the smallest duration ranked there or above: every percentile in one pass.
    row = session.execute(
        select(
            *(
                func.min(case((durations.c.rank >= durations.c.n * literal(fraction), durations.c.seconds)))
                for fraction in PERCENTILES
            )
        )
    ).one()
    values = [timedelta(seconds=round(float(value))) if value is not None else None for value in row]
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
        select(func.count()).where(Item.grey_area.is_(True), Item.status.in_(OPEN_STATUSES))
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
    # Only items raised or actioned in the window count, so only those are read (through
    # ix_items_created_at and ix_items_status_closed); the sums above still decide what counts.
    touched = or_(
        and_(Item.created_at >= start, Item.created_at < end),
        and_(Item.closed_at >= start, Item.closed_at < end, Item.status == ItemStatus.ACTIONED),
    )
    rows = session.execute(
        select(column, raised, actioned).where(touched).group_by(column).order_by(raised.desc(), column)
    ).all()
    return [(value, int(r or 0), int(a or 0)) for value, r, a in rows if (r or 0) or (a or 0)]


def top_ideas(*, session: Session, limit: int = 5) -> list[tuple[Item, int]]:
    """The ideas with the most votes, most first (ties: lowest number first), leaving out withdrawn,
    declined and duplicate ones; only the winners are loaded whole."""
    votes = func.count(Vote.voter_id)
    # Votes counted per item and ranked, then items looked up by id down that ranking until
    # `limit` qualify. The OFFSET 0 keeps the item filter from being pushed into the ranking, which
    # would have PostgreSQL read every item to pick out the ideas.
    ranked = (
        select(Vote.item_id.label("item_id"), votes.label("votes"))
        .group_by(Vote.item_id)
        .order_by(votes.desc(), Vote.item_id)
        .offset(0)
        .subquery()
    )
    qualifies = (
        select(Item.id)
        .where(
            Item.id == ranked.c.item_id,
            Item.kind == ItemKind.IDEA,
            Item.status.notin_((ItemStatus.WITHDRAWN, ItemStatus.DECLINED, ItemStatus.DUPLICATE)),
        )
        .exists()
    )
    query = (
        select(ranked.c.item_id, ranked.c.votes)
        .where(qualifies)
        .order_by(ranked.c.votes.desc(), ranked.c.item_id)
        .limit(limit)
    )
    counts = [(item_id, int(count)) for item_id, count in session.execute(query).all()]
    items = items_by_id(session=session, ids=[item_id for item_id, _ in counts])
    return [(items[item_id], count) for item_id, count in counts]


def open_items_by_age(*, session: Session, now: datetime) -> list[OpenItem]:
    """Every open item, snoozed or not: just the columns, not whole items (there can be tens of
    thousands). Unsnoozed ones first, then those snoozed at `now`, each part oldest first."""
    snoozed = case((Item.snoozed_until > now, 1), else_=0)
    query = (
        select(*(getattr(Item, name) for name in OpenItem._fields))
        .where(Item.status.in_(OPEN_STATUSES))
        .order_by(snoozed, Item.created_at, Item.id)
    )
    return [OpenItem._make(row) for row in session.execute(query)]


def items_by_id(*, session: Session, ids: Sequence[int]) -> dict[int, Item]:
    """Whole items, for the few the digest names."""
    if not ids:
        return {}
    return {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(ids)))}


# The chart's 12 weeks, and the loop ----------------------------------------------------------------

WEEKS = 12
WEEK_SECONDS = 7 * 86400
OUTCOMES = ("acknowledged", "actioned", "declined")


def _weeks_back(at: Any, end: datetime, dialect: str) -> ColumnElement[int]:
    """Which of the 12 weeks before `end` `at` falls in: 0 for the last, 11 for the oldest. Weeks
    are half-open, [start, start + 1 week), counted from the oldest's start."""
    start = end - timedelta(weeks=WEEKS)
    weeks = _seconds_between(at, literal(start, UTCDateTime()), dialect) / WEEK_SECONDS
    if dialect == "postgresql":  # a float cast to integer rounds there; floor it first
        return WEEKS - 1 - cast(func.floor(weeks), Integer)
    return WEEKS - 1 - cast(weeks, Integer)  # truncates: the floor, for times at or after `start`


def _counts_by_week(session: Session, query: Any) -> dict[int, int]:
    return {int(week): int(count) for week, count in session.execute(query).all()}


def _medians_by_week(
    session: Session, *, event_kind: str, start: datetime, end: datetime
) -> dict[int, float]:
    """Median seconds from raising to the first `event_kind`, by the week it fell in (as speed())."""
    dialect = _dialect(session)
    first = _firsts_in_window(event_kind, start, end)
    raised = select(Item.created_at).where(Item.id == first.c.item_id).scalar_subquery()
    seconds = _seconds_between(first.c.at, raised, dialect)
    week = _weeks_back(first.c.at, end, dialect)
    durations = select(
        week.label("week"),
        seconds.label("seconds"),
        func.row_number().over(partition_by=week, order_by=seconds).label("rank"),
        func.count().over(partition_by=week).label("n"),
    ).subquery()
    median = func.min(case((durations.c.rank >= durations.c.n * literal(0.5), durations.c.seconds)))
    rows = session.execute(select(durations.c.week, median).group_by(durations.c.week)).all()
    return {int(week): float(value) for week, value in rows if value is not None}


def weekly_series(
    *,
    session: Session,
    end: datetime,
    default: Mapping[str, float] | None = None,
    by_route: Mapping[int, Mapping[str, float]] | None = None,
) -> Series:
    """The chart's figures: for each of the 12 weeks before `end`, items raised, items actioned
    (distinct, by their actioned events), and the median hours to a first acknowledgement and
    action; and the items open now by journey stage, grey areas apart. Six queries, each reading
    its weeks through an index (ix_items_created_at, ix_events_kind_at). Given the SLA periods
    (`default`, and `by_route`, as for `heard`), also each week's share of raisers who heard within
    their SLA: a query a week."""
    dialect = _dialect(session)
    start = end - timedelta(weeks=WEEKS)
    raised_week = _weeks_back(Item.created_at, end, dialect)
    raised = _counts_by_week(
        session,
        select(raised_week, func.count())
        .where(Item.created_at >= start, Item.created_at < end)
        .group_by(raised_week),
    )
    actioned_week = _weeks_back(Event.at, end, dialect)
    actioned = _counts_by_week(
        session,
        select(actioned_week, func.count(func.distinct(Event.item_id)))
        .where(Event.kind == "actioned", Event.at >= start, Event.at < end)
        .group_by(actioned_week),
    )
    ack = _medians_by_week(session, event_kind="acknowledged", start=start, end=end)
    action = _medians_by_week(session, event_kind="actioned", start=start, end=end)
    weeks = []
    for index in range(WEEKS):
        back = WEEKS - 1 - index
        weeks.append(
            Week(
                start=end - timedelta(weeks=back + 1),
                raised=raised.get(back, 0),
                actioned=actioned.get(back, 0),
                ack_hours=ack[back] / 3600 if back in ack else None,
                action_hours=action[back] / 3600 if back in action else None,
            )
        )
    if default is not None:
        weeks = [_with_heard(session, week, default, by_route or {}) for week in weeks]
    return Series(weeks=weeks, open_by_stage=open_by_stage(session=session))


def _with_heard(
    session: Session, week: Week, default: Mapping[str, float], by_route: Mapping[int, Mapping[str, float]]
) -> Week:
    week_end = week.start + timedelta(weeks=1)
    _speed, within, decided = heard(
        session=session, start=week.start, end=week_end, default=default, by_route=by_route
    )
    return replace(week, heard_within_sla=within / decided if decided else None)


def open_by_stage(*, session: Session) -> list[tuple[str | None, int, int]]:
    """Open items by journey stage: (stage, with an owner, grey areas), in no particular order."""
    grey = func.sum(case((Item.grey_area.is_(True), 1), else_=0))
    rows = session.execute(
        select(Item.journey_stage, func.count(), grey)
        .where(Item.status.in_(OPEN_STATUSES))
        .group_by(Item.journey_stage)
    ).all()
    return [(stage, int(count) - int(greys or 0), int(greys or 0)) for stage, count, greys in rows]


def _sla_seconds(periods: Mapping[str, float]) -> ColumnElement[float]:
    """How long an item of this kind and severity may wait for a first answer, by `periods` (a
    stale policy's alarm, high, critical and idea, in seconds)."""
    return case(
        (Item.kind == ItemKind.IDEA, literal(periods["idea"])),
        (Item.severity == Severity.CRITICAL, literal(periods["critical"])),
        (Item.severity == Severity.HIGH, literal(periods["high"])),
        else_=literal(periods["alarm"]),
    )


def heard(
    *,
    session: Session,
    start: datetime,
    end: datetime,
    default: Mapping[str, float],
    by_route: Mapping[int, Mapping[str, float]],
) -> tuple[Speed, int, int]:
    """For items raised in [start, end): time from raising to the raiser's first outcome
    (acknowledged, actioned or declined, before `end`) as (p50, p90); how many heard within their
    SLA; and how many are decided (heard, or their SLA ran out by `end`). SLA periods in seconds:
    `default`, or the route's from `by_route`. One query."""
    dialect = _dialect(session)
    outcome = (
        select(func.min(Event.at))
        .where(Event.item_id == Item.id, Event.kind.in_(OUTCOMES), Event.at < end)
        .scalar_subquery()
    )
    limit = _sla_seconds(default)
    if by_route:
        limit = case(
            *((Item.route_id == route_id, _sla_seconds(periods)) for route_id, periods in by_route.items()),
            else_=limit,
        )
    raised = (
        select(
            _seconds_between(outcome, Item.created_at, dialect).label("seconds"),
            limit.label("limit"),
            _seconds_between(literal(end, UTCDateTime()), Item.created_at, dialect).label("age"),
        )
        .where(Item.created_at >= start, Item.created_at < end)
        .subquery()
    )
    ranked = select(
        raised,
        func.row_number().over(order_by=raised.c.seconds.nulls_last()).label("rank"),
        func.count(raised.c.seconds).over().label("n"),
    ).subquery()
    known = ranked.c.seconds.is_not(None)
    row = session.execute(
        select(
            *(
                func.min(case((and_(known, ranked.c.rank >= ranked.c.n * literal(f)), ranked.c.seconds)))
                for f in PERCENTILES
            ),
            func.sum(case((and_(known, ranked.c.seconds <= ranked.c.limit), 1), else_=0)),
            func.sum(case((or_(known, ranked.c.age >= ranked.c.limit), 1), else_=0)),
        )
    ).one()
    p50, p90 = (timedelta(seconds=round(float(v))) if v is not None else None for v in row[:2])
    return Speed(median=p50, p90=p90), int(row[2] or 0), int(row[3] or 0)


def raisers_by_owner(*, session: Session, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
    """(owner, raiser, alarms) for the alarms raised in [start, end): who raised what for whom."""
    rows = session.execute(
        select(Item.owner, Item.raiser_id, func.count())
        .where(Item.kind == ItemKind.ALARM, Item.created_at >= start, Item.created_at < end)
        .group_by(Item.owner, Item.raiser_id)
    ).all()
    return [(str(owner), str(raiser), int(count)) for owner, raiser, count in rows]


def credited_fix(*, session: Session, start: datetime, end: datetime) -> CreditedFix | None:
    """The latest item actioned in [start, end) that led to action and whose raiser may be named
    (not anonymous, or agreed to be credited), as recognition_board names them."""
    row = session.execute(
        select(Item.id, Item.raiser_id, Item.text)
        .where(
            Item.status == ItemStatus.ACTIONED,
            Item.closed_at >= start,
            Item.closed_at < end,
            Item.led_to_action.is_(True),
            or_(Item.anonymous.is_(False), Item.credit == CreditState.POSTED),
        )
        .order_by(Item.closed_at.desc(), Item.id.desc())
        .limit(1)
    ).first()
    return CreditedFix(item_id=row[0], raiser_id=row[1], text=row[2]) if row is not None else None
