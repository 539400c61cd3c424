"""Every transition and permission rule, as a table: actor by action by state, in the core."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.items import lifecycle
from bot.items.permissions import Actor, NotAllowed
from bot.routing.rules import Triage
from storage.db import transaction
from storage.models import Event, Item, ItemKind, ItemStatus, OutboxMessage, Route
from tests.support import FakeClock

ADMIN, RAISER, STRANGER, OWNER, MEMBER = "U0ADMIN", "U0RAISER", "U0STRANGER", "U0OWNER", "U0MEMBER"
TRIAGE = Triage(channel="C0TRIAGE", admins=(ADMIN,))
STATES = list(ItemStatus)


def members_of(group: str) -> frozenset[str]:
    return frozenset({MEMBER}) if group == "S0TEAM" else frozenset()


def who(user: str) -> Actor:
    return Actor(user_id=user, admins=(ADMIN,), members_of=members_of)


def _run(action: str, session: Session, item: Item, actor: Actor, clock: FakeClock, other_id: int) -> Any:
    now = clock()
    calls: dict[str, Callable[[], Any]] = {
        "acknowledge": lambda: lifecycle.acknowledge(
            session=session, item=item, actor=actor, now=now, via="button"
        ),
        "mark_actioned": lambda: lifecycle.mark_actioned(
            session=session, item=item, actor=actor, now=now, what_was_done="Fixed", led_to_action=True
        ),
        "decline": lambda: lifecycle.decline(session=session, item=item, actor=actor, now=now, why="Not now"),
        "reassign": lambda: lifecycle.reassign(
            session=session, item=item, actor=actor, now=now, to_area="billing", to_person=None, triage=TRIAGE
        ),
        "duplicate": lambda: lifecycle.mark_duplicate(
            session=session, item=item, actor=actor, now=now, original_id=other_id
        ),
        "reopen": lambda: lifecycle.reopen(session=session, item=item, actor=actor, now=now),
        "withdraw": lambda: lifecycle.withdraw(session=session, item=item, actor=actor, now=now),
        "snooze": lambda: lifecycle.snooze(session=session, item=item, actor=actor, now=now),
    }
    return calls[action]()


MANAGER_ACTIONS = {
    # action: (states it may start from, state it ends in)
    "acknowledge": ((ItemStatus.NEW,), ItemStatus.ACKNOWLEDGED),
    "mark_actioned": ((ItemStatus.NEW, ItemStatus.ACKNOWLEDGED), ItemStatus.ACTIONED),
    "decline": ((ItemStatus.NEW, ItemStatus.ACKNOWLEDGED), ItemStatus.DECLINED),
    "reassign": ((ItemStatus.NEW, ItemStatus.ACKNOWLEDGED), ItemStatus.NEW),
    "duplicate": ((ItemStatus.NEW, ItemStatus.ACKNOWLEDGED), ItemStatus.DUPLICATE),
    "reopen": ((ItemStatus.ACTIONED, ItemStatus.DECLINED, ItemStatus.DUPLICATE), ItemStatus.ACKNOWLEDGED),
}


def expected(action: str, actor: str, owner: str, state: ItemStatus) -> ItemStatus | type[Exception] | None:
    """The state after, an exception type, or None for "allowed, but nothing to do"."""
    if action == "withdraw":
        if actor != RAISER:
            return NotAllowed
        return ItemStatus.WITHDRAWN if state is ItemStatus.NEW else lifecycle.InvalidTransition
    managers = {ADMIN, MEMBER if owner == "S0TEAM" else OWNER}
    if actor not in managers:
        return NotAllowed
    if action == "snooze":
        return state if state in (ItemStatus.NEW, ItemStatus.ACKNOWLEDGED) else lifecycle.InvalidTransition
    starts, ends = MANAGER_ACTIONS[action]
    if action == "acknowledge" and state is ItemStatus.ACKNOWLEDGED:
        return None
    return ends if state in starts else lifecycle.InvalidTransition


CASES = [
    (action, actor, owner, state)
    for action in [*MANAGER_ACTIONS, "snooze", "withdraw"]
    for owner in ("U0OWNER", "S0TEAM")
    for actor in (OWNER, MEMBER, ADMIN, RAISER, STRANGER)
    for state in STATES
]


@pytest.fixture
def seeded(session_factory: sessionmaker[Session], clock: FakeClock) -> sessionmaker[Session]:
    with transaction(session_factory) as session:
        session.add(
            Route(
                area="billing",
                owner="U0BILLING",
                channel="C0BILLING",
                keywords=[],
                position=0,
                active=True,
                updated_at=clock(),
            )
        )
    return session_factory


def _item(session: Session, clock: FakeClock, *, owner: str, status: ItemStatus) -> Item:
    item = Item(
        kind=ItemKind.ALARM,
        status=status,
        text="The lobby is cold",
        raiser_id=RAISER,
        anonymous=False,
        grey_area=False,
        routed_by="picked",
        owner=owner,
        channel="C0HERE",
        card_ts="1.0",
        created_at=clock(),
        updated_at=clock(),
        area="facilities",
    )
    session.add(item)
    session.flush()
    return item


def _counts(session: Session) -> tuple[int, int]:
    events = session.scalar(select(func.count()).select_from(Event)) or 0
    messages = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    return events, messages


def test_table_of_every_actor_action_and_state(seeded: sessionmaker[Session], clock: FakeClock) -> None:
    failures = []
    for action, actor, owner, state in CASES:
        with seeded() as session, session.begin():
            other = _item(session, clock, owner=owner, status=ItemStatus.NEW)
            item = _item(session, clock, owner=owner, status=state)
            before = _counts(session)
            want = expected(action, actor, owner, state)
            try:
                _run(action, session, item, who(actor), clock, other.id)
                got: Any = item.status
            except (NotAllowed, lifecycle.InvalidTransition) as error:
                got = type(error)
                assert item.status is state, "a refused change must change nothing"
            after = _counts(session)
            if want is None:
                ok = got is state and after == before
            elif isinstance(want, ItemStatus) and action == "snooze":
                ok = got is want and after[0] == before[0] + 1 and item.snoozed_until is not None
            elif isinstance(want, ItemStatus):
                ok = got is want and after[0] == before[0] + 1 and after[1] > before[1]
            else:
                ok = got is want and after == before
            if not ok:
                failures.append(
                    f"{action} by {actor} on {state.value} (owner {owner}): wanted {want}, got {got}"
                )
            session.rollback()
    assert failures == [], "\n".join(failures)
    assert len(CASES) == 8 * 2 * 5 * len(STATES)


def test_every_change_records_actor_and_time(seeded: sessionmaker[Session], clock: FakeClock) -> None:
    with transaction(seeded) as session:
        item = _item(session, clock, owner=OWNER, status=ItemStatus.NEW)
        lifecycle.acknowledge(session=session, item=item, actor=who(OWNER), now=clock(), via="button")
        clock.advance(minutes=5)
        lifecycle.mark_actioned(
            session=session,
            item=item,
            actor=who(ADMIN),
            now=clock(),
            what_was_done="Heating fixed",
            led_to_action=True,
        )
        events = session.scalars(select(Event).where(Event.item_id == item.id).order_by(Event.id)).all()
        assert [(e.kind, e.actor) for e in events] == [("acknowledged", OWNER), ("actioned", ADMIN)]
        assert events[1].at - events[0].at == clock() - events[0].at
        assert item.acted_by == ADMIN and item.resolution == "Heating fixed"


def test_credit_is_posted_once_even_when_reopened_and_actioned_again(
    seeded: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(seeded) as session:
        item = _item(session, clock, owner=OWNER, status=ItemStatus.NEW)
        for _ in range(2):
            lifecycle.mark_actioned(
                session=session,
                item=item,
                actor=who(OWNER),
                now=clock(),
                what_was_done="x",
                led_to_action=True,
            )
            lifecycle.reopen(session=session, item=item, actor=who(OWNER), now=clock())
        kinds = session.scalars(select(OutboxMessage.kind).where(OutboxMessage.item_id == item.id)).all()
        assert kinds.count("post_kudos") == 1


def test_required_text_and_sane_duplicates(seeded: sessionmaker[Session], clock: FakeClock) -> None:
    with transaction(seeded) as session:
        item = _item(session, clock, owner=OWNER, status=ItemStatus.NEW)
        with pytest.raises(lifecycle.InvalidTransition, match="what was done"):
            lifecycle.mark_actioned(
                session=session,
                item=item,
                actor=who(OWNER),
                now=clock(),
                what_was_done="  ",
                led_to_action=True,
            )
        with pytest.raises(lifecycle.InvalidTransition, match="why"):
            lifecycle.decline(session=session, item=item, actor=who(OWNER), now=clock(), why="")
        with pytest.raises(lifecycle.InvalidTransition, match="itself"):
            lifecycle.mark_duplicate(
                session=session, item=item, actor=who(OWNER), now=clock(), original_id=item.id
            )
        with pytest.raises(lifecycle.InvalidTransition, match="no item #999"):
            lifecycle.mark_duplicate(
                session=session, item=item, actor=who(OWNER), now=clock(), original_id=999
            )
