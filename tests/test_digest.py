"""The digest's numbers at their edges, on SQLite and PostgreSQL: which items count in a window, the
nearest-rank percentiles, the breakdowns and the top ideas; and the migrations building the indexes
those queries are planned around (the models and the migrations agree)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage import digest as numbers
from storage.db import transaction
from storage.figures import Speed
from storage.models import Base, Event, Item, ItemKind, ItemStatus, JourneyStage, Vote

START = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
END = START + timedelta(days=7)
HOUR = timedelta(hours=1)


def add_item(
    session: Session,
    created: datetime,
    *,
    kind: ItemKind = ItemKind.ALARM,
    status: ItemStatus = ItemStatus.NEW,
    closed: datetime | None = None,
    area: str | None = None,
    stage: JourneyStage | None = None,
) -> Item:
    item = Item(
        kind=kind,
        status=status,
        text=f"{kind.value} raised {created.isoformat()}",
        raiser_id="U0RAISER",
        area=area,
        journey_stage=stage,
        routed_by="keyword" if area else "grey_area",
        grey_area=area is None,
        owner="U0OWNER",
        channel="C0OWNER",
        created_at=created,
        updated_at=closed or created,
        closed_at=closed,
    )
    session.add(item)
    session.flush()
    return item


def add_event(session: Session, item: Item, kind: str, at: datetime) -> None:
    session.add(Event(item_id=item.id, kind=kind, actor="U0OWNER", at=at, data={}))


def speed(db: sessionmaker[Session], kind: str, start: datetime, end: datetime) -> Speed:
    with db() as session:
        return numbers.speed(session=session, event_kind=kind, start=start, end=end)


def test_speed_counts_an_item_only_in_the_window_of_its_first_event(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        early = add_item(session, START - timedelta(days=2))
        add_event(session, early, "acknowledged", START - HOUR)  # first: 47 h, last week
        add_event(session, early, "acknowledged", START + HOUR)  # again this week: not counted
        twice = add_item(session, START - 2 * HOUR)
        add_event(session, twice, "acknowledged", START + 5 * HOUR)  # logged out of order
        add_event(session, twice, "acknowledged", START + HOUR)  # first: 3 h
        on_start = add_item(session, START - timedelta(days=1))
        add_event(session, on_start, "acknowledged", START)  # first, at the window's start: 24 h
        plain = add_item(session, START)
        add_event(session, plain, "acknowledged", START + 10 * HOUR)  # 10 h
        on_end = add_item(session, START)
        add_event(session, on_end, "acknowledged", END)  # at the window's end: next week's
        other = add_item(session, START)
        add_event(session, other, "actioned", START + HOUR)  # another kind of event
    this_week = speed(session_factory, "acknowledged", START, END)
    # 3 h, 10 h, 24 h: the median is rank 2 (>= 1.5), the 90th percentile rank 3 (>= 2.7).
    assert this_week == Speed(median=10 * HOUR, p90=24 * HOUR)
    assert speed(session_factory, "acknowledged", START - timedelta(days=7), START) == Speed(
        median=47 * HOUR, p90=47 * HOUR
    )
    assert speed(session_factory, "acknowledged", END, END + timedelta(days=7)) == Speed(
        median=7 * 24 * HOUR, p90=7 * 24 * HOUR
    )
    assert speed(session_factory, "actioned", START, END) == Speed(median=HOUR, p90=HOUR)
    assert speed(session_factory, "declined", START, END) == Speed(median=None, p90=None)


def nearest_rank(values: list[timedelta], fraction: float) -> timedelta:
    """The value at the lowest rank r (from 1) with r >= n * fraction, as the digest defines it."""
    ordered = sorted(values)
    rank = next(r for r in range(1, len(ordered) + 1) if r >= len(ordered) * fraction)
    return ordered[rank - 1]


def test_speed_percentiles_are_nearest_rank_for_every_count(session_factory: sessionmaker[Session]) -> None:
    counts = (1, 2, 3, 4, 5, 9, 10, 11, 20, 21, 70)
    expected: list[Speed] = []
    with transaction(session_factory) as session:
        for window, n in enumerate(counts):
            start = START + timedelta(days=30 * window)
            # Uneven durations, some repeated, logged in no particular order.
            minutes = [(37 * i) % (n + 3) * 10 + 5 for i in range(n)]
            for value in minutes:
                item = add_item(session, start)
                add_event(session, item, "acknowledged", start + timedelta(minutes=value))
            durations = [timedelta(minutes=value) for value in minutes]
            expected.append(Speed(nearest_rank(durations, 0.5), nearest_rank(durations, 0.9)))
    for window, want in enumerate(expected):
        start = START + timedelta(days=30 * window)
        assert speed(session_factory, "acknowledged", start, start + timedelta(days=7)) == want, counts[
            window
        ]


def test_breakdown_counts_only_what_was_raised_or_actioned_in_the_window(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        add_item(session, START + HOUR, area="billing", stage=JourneyStage.BUY)
        add_item(session, END - HOUR, area="billing")
        add_item(session, START, area="billing", status=ItemStatus.DECLINED, closed=START + HOUR)
        add_item(
            session, START - timedelta(days=20), area="billing", status=ItemStatus.ACTIONED, closed=START
        )
        add_item(
            session, START - timedelta(days=20), area="support", status=ItemStatus.ACTIONED, closed=END - HOUR
        )
        # Closed in the window but not actioned; actioned outside it; raised outside it: none count.
        add_item(session, START - HOUR, area="legal", status=ItemStatus.DECLINED, closed=START + HOUR)
        add_item(session, START - HOUR, area="legal", status=ItemStatus.WITHDRAWN, closed=START + HOUR)
        add_item(session, START - timedelta(days=9), area="legal", status=ItemStatus.ACTIONED, closed=END)
        add_item(
            session, START - timedelta(days=9), area="legal", status=ItemStatus.ACTIONED, closed=START - HOUR
        )
        add_item(session, END, area="legal")
        add_item(session, START - HOUR, area="legal")
        add_item(
            session, START + 2 * HOUR, stage=JourneyStage.USE, status=ItemStatus.ACTIONED, closed=END + HOUR
        )
    with session_factory() as session:
        by_area = numbers.breakdown(session=session, column=Item.area, start=START, end=END)
        by_stage = numbers.breakdown(session=session, column=Item.journey_stage, start=START, end=END)
    assert by_area == [("billing", 3, 1), (None, 1, 0), ("support", 0, 1)]
    assert by_stage == [(None, 2, 2), (JourneyStage.BUY, 1, 0), (JourneyStage.USE, 1, 0)]


def test_top_ideas_rank_open_and_actioned_ideas_by_votes(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:

        def idea(votes: int, status: ItemStatus = ItemStatus.NEW, kind: ItemKind = ItemKind.IDEA) -> int:
            item = add_item(session, START, kind=kind, status=status)
            session.add_all(Vote(item_id=item.id, voter_id=f"U0V{n}", at=START) for n in range(votes))
            return item.id

        second = idea(3)
        first = idea(4, ItemStatus.ACKNOWLEDGED)
        third = idea(3, ItemStatus.ACTIONED)
        idea(9, ItemStatus.WITHDRAWN)
        idea(8, ItemStatus.DECLINED)
        idea(7, ItemStatus.DUPLICATE)
        idea(6, kind=ItemKind.ALARM)
        fourth = idea(1)
        idea(0)
    with session_factory() as session:
        top = numbers.top_ideas(session=session)
        assert [(item.id, votes) for item, votes in top] == [(first, 4), (second, 3), (third, 3), (fourth, 1)]
        assert [item.status for item, _ in top][:3] == [
            ItemStatus.ACKNOWLEDGED,
            ItemStatus.NEW,
            ItemStatus.ACTIONED,
        ]
        assert [(item.id, votes) for item, votes in numbers.top_ideas(session=session, limit=2)] == [
            (first, 4),
            (second, 3),
        ]


def test_open_items_put_the_snoozed_last_and_each_part_oldest_first(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        snoozed = add_item(session, START - 3 * HOUR)
        snoozed.snoozed_until = END + HOUR
        woke = add_item(session, START - HOUR)
        woke.snoozed_until = END
        newest = add_item(session, START)
        oldest = add_item(session, START - 2 * HOUR, status=ItemStatus.ACKNOWLEDGED)
        add_item(session, START - 4 * HOUR, status=ItemStatus.ACTIONED, closed=START)
        ids = [snoozed.id, woke.id, newest.id, oldest.id]
    with session_factory() as session:
        rows = numbers.open_items_by_age(session=session, now=END)
    assert [row.id for row in rows] == [ids[3], ids[1], ids[2], ids[0]]


def test_verification_counts_each_item_once_in_the_window(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        items = [add_item(session, START - timedelta(days=5), status=ItemStatus.ACTIONED) for _ in range(5)]
        fixed, twice, reopened, quiet, early = items
        add_event(session, fixed, "verified", START + HOUR)
        add_event(session, twice, "verified", START + HOUR)  # its raiser and a co-raiser
        add_event(session, twice, "verified", START + 2 * HOUR)
        session.add(
            Event(item_id=reopened.id, kind="reopened", actor="U0RAISER", at=START, data={"by_raiser": True})
        )
        session.add(
            Event(item_id=quiet.id, kind="reopened", actor="U0OWNER", at=START, data={"was": "actioned"})
        )
        add_event(session, quiet, "unconfirmed", END - HOUR)
        add_event(session, early, "verified", START - HOUR)  # last week's
        add_event(session, early, "unconfirmed", END)  # next week's
    with session_factory() as session:
        said = numbers.verification(session=session, start=START, end=END)
    assert (said.fixed, said.reopened, said.unconfirmed, said.settled) == (2, 1, 1, 4)
    assert said.fixed_share == 0.5


def test_migrations_match_the_models(engine: Engine) -> None:
    """Every table, column and index the models declare (the digest's indexes among them) is what
    the migrations build."""
    with engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert differences == []
