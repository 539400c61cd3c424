"""The nag sweep's bulk reads and writes, on SQLite and PostgreSQL: the SQL filter in front of
bot.items.sla.due_for_nag never leaves out a due item (and with one policy picks exactly the due ones),
and one sweep writes the same rows, in the same order, as nagging item by item would."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.items.sla import DEFAULT_POLICY, due_for_nag, shortest, stale_period
from bot.jobs.nag import policies_by_route, run_nag_sweep
from bot.slack.directory import Person
from storage import jobs
from storage.db import transaction
from storage.items import OpenItem
from storage.models import OPEN_STATUSES, Event, Item, ItemKind, ItemStatus, OutboxMessage, Route, Severity

AT = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday, 10:00 in London and in UTC
TICK = timedelta(microseconds=1)
ADMINS = ("U0ADMIN1", "U0ADMIN2")

# Route 1 keeps the defaults; route 2 shortens some periods and lengthens others; route 3 the reverse.
OVERRIDES: dict[int, dict[str, float] | None] = {
    1: None,
    2: {"alarm": 3600, "critical": 6 * 3600, "acknowledged": 30 * 86400},
    3: {"high": 3600, "idea": 86400, "acknowledged": 3600, "alarm": 40 * 3600},
}
SHAPES: list[tuple[ItemKind, Severity | None]] = [
    (ItemKind.ALARM, None),
    (ItemKind.ALARM, Severity.LOW),
    (ItemKind.ALARM, Severity.MEDIUM),
    (ItemKind.ALARM, Severity.HIGH),
    (ItemKind.ALARM, Severity.CRITICAL),
    (ItemKind.IDEA, None),
]


def add_routes(session: Session, overrides: dict[int, dict[str, float] | None]) -> None:
    for route_id, stale_after in overrides.items():
        session.add(
            Route(
                id=route_id,
                area=f"area-{route_id}",
                owner=f"U0OWNER{route_id}",
                channel=f"C0AREA{route_id}",
                keywords=[],
                escalate_to=f"U0ESC{route_id}" if route_id != 1 else None,
                position=route_id,
                active=True,
                stale_after=stale_after,
                updated_at=AT,
            )
        )
    session.flush()


def item_row(**fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": ItemKind.ALARM,
        "status": ItemStatus.NEW,
        "severity": None,
        "text": "something is wrong",
        "raiser_id": "U0RAISER",
        "anonymous": False,
        "route_id": None,
        "grey_area": False,
        "routed_by": "keyword",
        "owner": "U0OWNER",
        "channel": "C0AREA",
        "created_at": AT - timedelta(days=60),
        "updated_at": AT,
        "acknowledged_at": None,
        "nag_count": 0,
        "last_nagged_at": None,
        "escalated_at": None,
        "snoozed_until": None,
        "snooze_count": 0,
    }
    row.update(fields)
    return row


def insert_items(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(insert(Item), rows)


def edges(period: timedelta) -> list[timedelta]:
    return [period - TICK, period, period + TICK]


def matrix(overrides: dict[int, dict[str, float] | None]) -> list[dict[str, Any]]:
    """Open items of every shape, route and state, waiting and last nagged just under, exactly at
    and just over their own staleness period and the shortest one in force, snoozed or not."""
    routes = {
        route_id: DEFAULT_POLICY.with_overrides(stale_after) for route_id, stale_after in overrides.items()
    }
    floor = shortest(routes.values())
    rows = []
    for (kind, severity), route_id, state in itertools.product(
        SHAPES, [None, *overrides], ["new", "acknowledged", "acknowledged, no time"]
    ):
        status = ItemStatus.NEW if state == "new" else ItemStatus.ACKNOWLEDGED
        shape = Item(kind=kind, severity=severity, status=status)
        own = stale_period(shape, routes.get(route_id, DEFAULT_POLICY) if route_id else DEFAULT_POLICY)
        least = stale_period(shape, floor)
        assert own is not None and least is not None
        ages = sorted({*edges(own), *edges(least), timedelta(0), timedelta(days=60)})
        moments = [(age, nagged_ago, None) for age in ages for nagged_ago in [None, *ages]]
        moments += [(timedelta(days=60), None, snoozed) for snoozed in (AT - TICK, AT, AT + TICK)]
        for age, nagged_ago, snoozed in moments:
            since = AT - age
            rows.append(
                item_row(
                    kind=kind,
                    severity=severity,
                    status=status,
                    route_id=route_id,
                    # acknowledged an hour after it was filed
                    created_at=since if state != "acknowledged" else since - timedelta(hours=1),
                    acknowledged_at=since if state == "acknowledged" else None,
                    last_nagged_at=None if nagged_ago is None else AT - nagged_ago,
                    snoozed_until=snoozed,
                )
            )
    # Acknowledged (oddly) before it was filed: waiting since the acknowledgement, the older.
    rows.append(
        item_row(status=ItemStatus.ACKNOWLEDGED, created_at=AT, acknowledged_at=AT - timedelta(days=8))
    )
    rows.append(item_row(status=ItemStatus.ACTIONED))  # closed: never due
    return rows


def due_item_by_item(session: Session, at: datetime) -> list[int]:
    """What the sweep nagged before it read only candidate columns: every open, unsnoozed item as
    an ORM object, each checked against its own route's policy."""
    policies = policies_by_route(jobs.routes_by_id(session=session))
    unsnoozed = select(Item).where(
        Item.status.in_(OPEN_STATUSES), or_(Item.snoozed_until.is_(None), Item.snoozed_until <= at)
    )
    return [
        item.id
        for item in session.scalars(unsnoozed.order_by(Item.created_at))
        if due_for_nag(item, policies.get(item.route_id, DEFAULT_POLICY), at)
    ]


def candidates(session: Session, at: datetime) -> list[OpenItem]:
    floor = shortest(policies_by_route(jobs.routes_by_id(session=session)).values())
    return jobs.nag_candidates(
        session=session,
        now=at,
        alarm=floor.alarm,
        high=floor.high,
        critical=floor.critical,
        idea=floor.idea,
        acknowledged=floor.acknowledged,
    )


@pytest.mark.parametrize("overrides", [OVERRIDES, {1: None}], ids=["route overrides", "defaults only"])
def test_the_sql_filter_keeps_every_due_item(
    session_factory: sessionmaker[Session], overrides: dict[int, dict[str, float] | None]
) -> None:
    with transaction(session_factory) as session:
        add_routes(session, overrides)
        insert_items(session, matrix(overrides))
    with session_factory() as session:
        expected = due_item_by_item(session, AT)
        found = candidates(session, AT)
        policies = policies_by_route(jobs.routes_by_id(session=session))
        due = [c.id for c in found if due_for_nag(c, policies.get(c.route_id, DEFAULT_POLICY), AT)]
        assert len(expected) > 100
        assert sorted(due) == sorted(expected)
        if len(overrides) == 1:  # one policy in force: the filter is exactly the policy
            assert sorted(c.id for c in found) == sorted(expected)
        # The candidate columns are the item's own.
        orm = {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(due[:200])))}
        for candidate in found:
            if candidate.id in orm:
                item = orm[candidate.id]
                assert candidate == OpenItem(*(getattr(item, name) for name in candidate._fields))
                assert stale_period(candidate, DEFAULT_POLICY) == stale_period(item, DEFAULT_POLICY)


def test_candidates_are_oldest_first(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        insert_items(
            session,
            [item_row(created_at=AT - timedelta(days=days), owner=f"U0O{days}") for days in (3, 9, 5, 9, 2)],
        )
    with session_factory() as session:
        found = candidates(session, AT)
    assert [(c.created_at, c.id) for c in found] == sorted((c.created_at, c.id) for c in found)
    assert len(found) == 5


# One sweep's writes ------------------------------------------------------------------------------------------


def test_one_sweep_writes_escalations_before_dms_and_counts_each_nag(
    session_factory: sessionmaker[Session],
) -> None:
    stale = AT - timedelta(days=2)
    with transaction(session_factory) as session:
        add_routes(session, {1: None, 2: None})
        insert_items(
            session,
            [
                item_row(owner="U0ANN", route_id=2, nag_count=3, created_at=stale),  # escalates, nagged
                item_row(owner="U0BOB", nag_count=0, created_at=stale),  # nagged for the first time
                item_row(
                    owner="U0ANN", nag_count=5, escalated_at=stale, created_at=stale
                ),  # escalated before
                item_row(owner="U0TOKYO", route_id=1, nag_count=4, created_at=stale),  # escalates, night
                item_row(owner="U0BOB", created_at=AT - timedelta(hours=1)),  # not stale yet
                item_row(grey_area=True, owner="U0ADMIN1", nag_count=1, created_at=stale),  # the CX leads
            ],
        )
    with session_factory() as session:
        ids = list(session.scalars(select(Item.id).order_by(Item.id)))
    ann_escalates, bob, ann_escalated_before, tokyo, not_stale, grey = ids

    result = run_nag_sweep(
        session_factory,
        at=AT,
        now=AT + timedelta(seconds=5),
        interval=timedelta(minutes=15),
        admins=ADMINS,
        members_of=lambda _group: frozenset(),
        people_of=lambda users: {
            user: Person(zone="Asia/Tokyo" if user == "U0TOKYO" else "Europe/London") for user in users
        },
    )

    assert (result.nagged_items, result.dms, result.escalated, result.waiting_for_working_hours) == (
        4,
        4,
        2,
        1,
    )
    period = "2026-11-18T10:00:00+00:00"
    with session_factory() as session:
        outbox = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(m.kind, m.item_id, m.payload) for m in outbox] == [
            ("escalate", ann_escalates, {"to": ["U0ESC2"], "nags": 3}),
            ("thread_note", ann_escalates, {"note": "escalated", "to": ["U0ESC2"], "nags": 3}),
            ("escalate", tokyo, {"to": list(ADMINS), "nags": 4}),  # route 1 escalates to nobody
            ("thread_note", tokyo, {"note": "escalated", "to": list(ADMINS), "nags": 4}),
            ("dm_nag", None, {"user": "U0ANN", "items": [ann_escalates, ann_escalated_before]}),
            ("dm_nag", None, {"user": "U0BOB", "items": [bob]}),
            ("dm_nag", None, {"user": "U0ADMIN1", "items": [grey]}),
            ("dm_nag", None, {"user": "U0ADMIN2", "items": [grey]}),
        ]
        assert {
            (m.status, m.attempts, m.outcome_uncertain, m.next_attempt_at, m.created_at) for m in outbox
        } == {("pending", 0, False, AT + timedelta(seconds=5), AT + timedelta(seconds=5))}
        events = session.scalars(select(Event).order_by(Event.id)).all()
        assert [(e.item_id, e.kind, e.actor, e.at, e.data) for e in events] == [
            (ann_escalates, "escalated", "cxbot", AT, {"to": ["U0ESC2"], "nags": 3}),
            (tokyo, "escalated", "cxbot", AT, {"to": list(ADMINS), "nags": 4}),
            (ann_escalates, "nagged", "cxbot", AT, {"period": period, "count": 4}),
            (bob, "nagged", "cxbot", AT, {"period": period, "count": 1}),
            (ann_escalated_before, "nagged", "cxbot", AT, {"period": period, "count": 6}),
            (grey, "nagged", "cxbot", AT, {"period": period, "count": 2}),
        ]
        items = {item.id: item for item in session.scalars(select(Item))}
        assert {i: (items[i].nag_count, items[i].last_nagged_at, items[i].escalated_at) for i in ids} == {
            ann_escalates: (4, AT, AT),
            bob: (1, AT, None),
            ann_escalated_before: (6, AT, stale),
            tokyo: (4, None, AT),
            not_stale: (0, None, None),
            grey: (2, AT, None),
        }
        assert {items[i].updated_at for i in ids} == {AT}  # nagging isn't an update by a person


def test_a_sweep_with_nothing_due_writes_nothing(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        insert_items(session, [item_row(created_at=AT - timedelta(hours=1))])
    result = run_nag_sweep(
        session_factory,
        at=AT,
        now=AT,
        interval=timedelta(minutes=15),
        admins=ADMINS,
        members_of=lambda _group: frozenset(),
        people_of=lambda users: {user: Person(zone="UTC") for user in users},
    )
    assert (result.ran, result.nagged_items, result.dms, result.escalated) == (True, 0, 0, 0)
    with session_factory() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
        assert session.scalars(select(Event)).all() == []
