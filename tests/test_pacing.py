"""Pacing, priorities and coalescing in the outbox's claim (bot/outbox/pacing.py), on SQLite and
PostgreSQL, with the wall clock Slack counts in under the test's control."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.outbox.kinds import OutboxKind
from bot.outbox.messages import outgoing
from bot.outbox.pacing import Pacer, Rate, post_key
from storage import outbox as queue
from storage.db import transaction
from storage.models import OutboxMessage, OutboxStatus, SlackPace
from tests.support import FakeClock

LEASE = timedelta(minutes=2)


class Wall:
    """The real-time clock a Pacer reads, stopped and moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def queue_messages(factory: sessionmaker[Session], clock: FakeClock, *messages: queue.NewMessage) -> None:
    with transaction(factory) as session:
        queue.enqueue_many(session=session, messages=messages, now=clock())


def claim(
    pacer: Pacer, factory: sessionmaker[Session], clock: FakeClock, limit: int = 20
) -> list[OutboxMessage]:
    with transaction(factory) as session:
        claimed = pacer.claim(session, now=clock(), lease=LEASE, limit=limit)
    return claimed.messages


def card(item_id: int, channel: str) -> queue.NewMessage:
    return outgoing(OutboxKind.POST_CARD, {}, item_id=item_id, to=channel)


def nag(user: str) -> queue.NewMessage:
    return outgoing(OutboxKind.DM_NAG, {"user": user, "items": []}, item_id=None, to=user)


def test_a_rate_lets_a_burst_through_then_one_per_interval() -> None:
    rate, start = Rate(timedelta(seconds=1), burst=2), datetime(2026, 1, 1, tzinfo=UTC)
    ready, at, sent = start - timedelta(days=1), start, []
    while at < start + timedelta(seconds=5):
        if ready <= at:
            sent.append((at - start).total_seconds())
            ready = rate.after_call(ready, at)
        at += timedelta(milliseconds=100)
    assert sent == [0.0, 0.1, 1.0, 2.0, 3.0, 4.0]  # two at once (as fast as asked), then one a second


def test_a_busy_channel_waits_its_turn_while_a_dm_behind_it_goes(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    wall = Wall()
    pacer = Pacer(wall=wall)
    items = _items(session_factory, clock, 6)
    queue_messages(session_factory, clock, *(card(i, "C0HOT") for i in items), nag("U0OWNER"))
    first = claim(pacer, session_factory, clock)
    # Two cards (the channel's burst), and the DM behind the other four.
    assert [(m.kind, m.pace_key) for m in first] == [("post_card", "post:C0HOT")] * 2 + [
        ("dm_nag", "post:U0OWNER")
    ]
    assert claim(pacer, session_factory, clock) == []  # the channel has no room yet
    wall.advance(1.0)
    assert len(claim(pacer, session_factory, clock)) == 1  # then one a second
    wall.advance(0.5)
    assert claim(pacer, session_factory, clock) == []
    wall.advance(0.5)
    assert len(claim(pacer, session_factory, clock)) == 1


def test_two_replicas_keep_to_one_channels_limit_between_them(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    wall = Wall()
    replicas = [Pacer(wall=wall), Pacer(wall=wall)]
    items = _items(session_factory, clock, 20)
    queue_messages(session_factory, clock, *(card(i, "C0HOT") for i in items))
    claimed_per_second = []
    for _second in range(5):
        claimed_per_second.append(sum(len(claim(replica, session_factory, clock)) for replica in replicas))
        wall.advance(1.0)
    assert claimed_per_second == [2, 1, 1, 1, 1]  # the burst, then one a second: not twice that


def test_the_most_urgent_go_first(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    [item] = _items(session_factory, clock, 1)
    confirmation = outgoing(OutboxKind.CONFIRM_RAISER, {}, item_id=item, to=None)
    queue_messages(session_factory, clock, nag("U0A"), nag("U0B"), card(item, "C0BILLING"), confirmation)
    claimed = claim(Pacer(wall=Wall()), session_factory, clock, limit=2)
    assert [m.kind for m in claimed] == ["post_card", "confirm_raiser"]


def test_a_429_holds_only_its_own_channel(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    wall = Wall()
    pacer = Pacer(wall=wall)
    items = _items(session_factory, clock, 2)
    with transaction(session_factory) as session:
        pacer.hold(session, key=post_key("C0HOT"), seconds=30)
    queue_messages(session_factory, clock, card(items[0], "C0HOT"), card(items[1], "C0CALM"))
    assert [m.pace_key for m in claim(pacer, session_factory, clock)] == ["post:C0CALM"]
    wall.advance(29)
    assert claim(pacer, session_factory, clock) == []
    wall.advance(1)
    assert [m.pace_key for m in claim(pacer, session_factory, clock)] == ["post:C0HOT"]


def test_changes_to_one_card_within_a_second_make_one_update(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    pacer = Pacer(wall=Wall())
    [item] = _items(session_factory, clock, 1)
    for _change in range(10):
        queue_messages(
            session_factory, clock, outgoing(OutboxKind.UPDATE_CARD, {}, item_id=item, to="C0BILLING")
        )
        clock.advance(seconds=0.05)
    assert claim(pacer, session_factory, clock) == []  # gathering: the first change is 0.5 s old
    clock.advance(seconds=0.5)
    [update] = claim(pacer, session_factory, clock)
    with session_factory() as session:
        folded = session.scalars(select(OutboxMessage).where(OutboxMessage.id != update.id)).all()
    assert [m.kind for m in folded if m.kind == "update_card"] == ["update_card"] * 9
    assert all(m.status is OutboxStatus.SENT and m.result == {"coalesced_into": update.id} for m in folded)


def test_several_app_home_refreshes_for_one_person_make_one_publish(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    def home(user: str) -> queue.NewMessage:
        return outgoing(OutboxKind.PUBLISH_HOME, {"user": user}, item_id=None, to=user)

    queue_messages(session_factory, clock, home("U0A"), home("U0B"), home("U0A"), home("U0A"))
    clock.advance(seconds=1)
    claimed = claim(Pacer(wall=Wall()), session_factory, clock)
    assert sorted(m.payload["user"] for m in claimed) == ["U0A", "U0B"]
    with session_factory() as session:
        assert queue.counts_by_status(session=session) == {"sending": 2, "sent": 2}


def _items(factory: sessionmaker[Session], clock: FakeClock, count: int) -> list[int]:
    """Items for messages to be about (the outbox's item_id refers to one)."""
    from storage.items import insert_item
    from storage.models import ItemKind, ItemStatus

    numbers = []
    with transaction(factory) as session:
        for n in range(count):
            number = insert_item(
                session=session,
                row={
                    "kind": ItemKind.ALARM,
                    "status": ItemStatus.NEW,
                    "text": f"problem {n}",
                    "raiser_id": "U0RAISER",
                    "anonymous": False,
                    "grey_area": True,
                    "routed_by": "none",
                    "owner": "U0ADMIN1",
                    "channel": "C0TRIAGE",
                    "intake_key": f"test:{n}",
                    "created_at": clock(),
                    "updated_at": clock(),
                },
            )
            assert number is not None
            numbers.append(number)
    return numbers


def test_limits_long_unused_are_forgotten(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    wall = Wall()
    pacer = Pacer(wall=wall)
    queue_messages(session_factory, clock, nag("U0A"), nag("U0B"))
    assert len(claim(pacer, session_factory, clock)) == 2
    with session_factory() as session:
        assert session.get(SlackPace, "post:U0A") is not None
    wall.advance(2 * 3600)
    claim(pacer, session_factory, clock)
    with session_factory() as session:
        assert session.scalars(select(SlackPace.key)).all() == []


def test_a_held_method_limit_says_when_the_messages_it_holds_may_go(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """A 429 on chat.update holds every card's updates (each counts against it too): the claim
    says there is something to wait for (at most a second, then it looks again), so that a
    dispatcher's drain (`cxbot jobs run`) waits for them instead of stopping, and a running one
    doesn't poll at full speed."""
    wall = Wall()
    pacer = Pacer(wall=wall, gather=timedelta(0))
    [item] = _items(session_factory, clock, 1)
    with transaction(session_factory) as session:
        pacer.hold(session, key="method:chat.update", seconds=20)
    queue_messages(session_factory, clock, outgoing(OutboxKind.UPDATE_CARD, {}, item_id=item, to="C0BILLING"))
    with transaction(session_factory) as session:
        held = pacer.claim(session, now=clock(), lease=LEASE, limit=20)
    assert held.messages == [] and held.wait == 1.0
    wall.advance(20)
    assert [m.kind for m in claim(pacer, session_factory, clock)] == ["update_card"]
