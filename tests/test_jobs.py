"""The nag sweep and the digest on SQLite and PostgreSQL, with a controllable clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.card import HandedOver
from bot.capture.filing import file_item
from bot.capture.submission import Submission
from bot.items import lifecycle
from bot.items.cards import card_extras
from bot.items.permissions import Actor
from bot.jobs.digest import build_digest, run_digest
from bot.jobs.nag import run_nag_sweep
from bot.routing.routes_file import parse_routes
from bot.routing.rules import Triage
from bot.slack.directory import PeopleOf, Person
from storage import routes as route_queries
from storage.db import transaction
from storage.figures import Flow
from storage.models import Event, Item, ItemKind, JourneyStage, OutboxMessage, Severity
from storage.votes import add_vote

ADMINS = ("U0ADMIN1", "U0ADMIN2")
TRIAGE = Triage(channel="C0TRIAGE", admins=ADMINS)
MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # 10:00 in London
ROUTES = """
[[routes]]
area = "billing"
owner = "U0BILLING"
channel = "C0BILLING"
keywords = ["refund", "invoice"]
escalate_to = "U0CFO"

[[routes]]
area = "support"
owner = "S0SUPPORT"
channel = "C0SUPPORT"
keywords = ["ticket"]
stale_after = { alarm = "2h" }
"""
ZONES = {"U0NIGHT": "Asia/Tokyo"}


def members_of(group: str) -> frozenset[str]:
    return frozenset({"U0SUP1", "U0SUP2"}) if group == "S0SUPPORT" else frozenset()


def zone_of(user: str) -> str:
    return ZONES.get(user, "Europe/London")


def people_in_zones(zones: Callable[[str], str], *, deactivated: Collection[str] = ()) -> PeopleOf:
    """Slack's answers about people: a zone for each, and whether they are in `deactivated`."""
    return lambda users: {user: Person(zone=zones(user), deleted=user in deactivated) for user in users}


def admin() -> Actor:
    return Actor(user_id="U0ADMIN1", admins=ADMINS, members_of=members_of)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(session_factory) as session:
        route_queries.import_routes(session=session, specs=parse_routes(ROUTES, path="r"), now=MONDAY)
    return session_factory


def file(db: sessionmaker[Session], text: str, at: datetime, **fields: object) -> int:
    with transaction(db) as session:
        submission = Submission(
            kind=fields.pop("kind", ItemKind.ALARM),
            text=text,
            raiser_id=fields.pop("raiser", "U0RAISER"),
            **fields,
        )  # type: ignore[arg-type]
        return file_item(session=session, submission=submission, triage=TRIAGE, now=at)


def sweep(  # type: ignore[no-untyped-def]
    db: sessionmaker[Session],
    at: datetime,
    *,
    members: Callable[[str], frozenset[str]] = members_of,
    zones: Callable[[str], str] = zone_of,
    deactivated: Collection[str] = (),
    people: PeopleOf | None = None,
):
    return run_nag_sweep(
        db,
        at=at,
        now=at,
        interval=timedelta(minutes=15),
        admins=ADMINS,
        members_of=members,
        people_of=people or people_in_zones(zones, deactivated=deactivated),
    )


def nag_dms(db: sessionmaker[Session]) -> list[dict[str, object]]:
    with db() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "dm_nag").order_by(OutboxMessage.id)
        )
        return [row.payload for row in rows]


def kinds(db: sessionmaker[Session], kind: str) -> list[OutboxMessage]:
    with db() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


# The nag sweep ---------------------------------------------------------------------------------------------


def test_n_stale_items_for_one_owner_make_one_dm(db: sessionmaker[Session]) -> None:
    ids = [file(db, f"refund problem {n}", MONDAY) for n in range(4)]
    result = sweep(db, MONDAY + timedelta(hours=24))
    assert (result.nagged_items, result.dms) == (4, 1)
    assert nag_dms(db) == [{"user": "U0BILLING", "items": ids}]


def test_not_yet_stale_items_do_not_nag(db: sessionmaker[Session]) -> None:
    file(db, "refund problem", MONDAY)
    assert sweep(db, MONDAY + timedelta(hours=23, minutes=59)).nagged_items == 0
    assert nag_dms(db) == []


def test_same_period_runs_once_and_each_item_nags_once_per_staleness_period(
    db: sessionmaker[Session],
) -> None:
    file(db, "refund problem", MONDAY)
    stale = MONDAY + timedelta(hours=24)
    assert sweep(db, stale).ran
    assert not sweep(db, stale + timedelta(minutes=5)).ran  # the same 15-minute period
    assert sweep(db, stale + timedelta(minutes=15)).nagged_items == 0  # nagged less than 24 h ago
    assert sweep(db, stale + timedelta(hours=24)).nagged_items == 1
    assert len(nag_dms(db)) == 2


def test_group_owners_and_grey_areas_nag_each_person(db: sessionmaker[Session]) -> None:
    file(db, "ticket queue lost my ticket", MONDAY)  # support: group owner, stale after 2 h
    file(db, "the lobby is cold", MONDAY)  # grey area: the CX admins
    sweep(db, MONDAY + timedelta(hours=24))
    assert sorted(dm["user"] for dm in nag_dms(db)) == ["U0ADMIN1", "U0ADMIN2", "U0SUP1", "U0SUP2"]


def test_route_override_and_severity(db: sessionmaker[Session]) -> None:
    file(db, "ticket system down", MONDAY)
    file(db, "refund fraud", MONDAY, severity=Severity.CRITICAL)
    result = sweep(db, MONDAY + timedelta(hours=2))
    assert result.nagged_items == 2


def test_slack_is_asked_with_no_transaction_open(db: sessionmaker[Session]) -> None:
    """Group members and time zones come from Slack, which may be slow or rate limited: the sweep
    asks between its two database visits, holding no connection (so no transaction) meanwhile."""
    file(db, "ticket queue lost my ticket", MONDAY)  # a group owner
    file(db, "refund problem", MONDAY)
    pool = db.kw["bind"].pool
    asked: list[tuple[str, int]] = []

    def count_members(group: str) -> frozenset[str]:
        asked.append((group, pool.checkedout()))
        return members_of(group)

    def count_zone(user: str) -> str:
        asked.append((user, pool.checkedout()))
        return zone_of(user)

    result = sweep(db, MONDAY + timedelta(hours=24), members=count_members, zones=count_zone)
    assert result.dms == 3
    assert sorted(who for who, _ in asked) == ["S0SUPPORT", "U0BILLING", "U0SUP1", "U0SUP2"]
    assert [open_connections for _, open_connections in asked] == [0, 0, 0, 0]


def test_an_item_acted_on_while_slack_is_asked_is_not_nagged(db: sessionmaker[Session]) -> None:
    acted_on = file(db, "refund problem", MONDAY)
    still_waiting = file(db, "invoice problem", MONDAY)
    at = MONDAY + timedelta(hours=24)

    def acknowledge_meanwhile(user: str) -> str:
        with transaction(db) as session:
            item = session.get(Item, acted_on)
            assert item is not None
            lifecycle.acknowledge(session=session, item=item, actor=admin(), now=at, via="button")
        return zone_of(user)

    result = sweep(db, at, zones=acknowledge_meanwhile)
    assert (result.nagged_items, result.dms) == (1, 1)
    assert nag_dms(db) == [{"user": "U0BILLING", "items": [still_waiting]}]


# A deactivated owner ------------------------------------------------------------------------------------


def events_of(db: sessionmaker[Session], kind: str) -> list[Event]:
    with db() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def test_a_deactivated_owners_items_go_to_escalate_to_and_so_do_the_nags(db: sessionmaker[Session]) -> None:
    stale = file(db, "refund problem", MONDAY)
    fresh = file(db, "invoice problem", MONDAY + timedelta(hours=20))  # not stale yet: handed over too
    pool = db.kw["bind"].pool
    asked: list[tuple[str, int]] = []

    def answer(users: Collection[str]) -> dict[str, Person]:
        asked.extend((user, pool.checkedout()) for user in users)
        return {user: Person(zone="Europe/London", deleted=user == "U0BILLING") for user in users}

    result = sweep(db, MONDAY + timedelta(hours=24), people=answer)

    assert (result.handed_over, result.nagged_items, result.dms) == (2, 1, 1)
    assert nag_dms(db) == [{"user": "U0CFO", "items": [stale]}]  # the new owner; never the deactivated one
    with db() as session:
        items = [session.get(Item, item_id) for item_id in (stale, fresh)]
        assert [(item.owner, item.status) for item in items if item] == [("U0CFO", "new")] * 2
        extras = card_extras(session=session, item=items[0], triage_channel=TRIAGE)  # type: ignore[arg-type]
    assert extras.handed_over == HandedOver(from_owner="U0BILLING", to_owner="U0CFO")
    [handed, _] = events_of(db, "reassigned")
    assert (handed.item_id, handed.actor, handed.data) == (
        stale,
        "cxbot",
        {
            "from_owner": "U0BILLING",
            "to_owner": "U0CFO",
            "from_area": "billing",
            "to_area": "billing",
            "from_grey_area": False,
            "why": "owner_deactivated",
        },
    )
    assert sorted(message.item_id for message in kinds(db, "update_card")) == [stale, fresh]
    # Slack was asked in two rounds (the owners, then who stands behind them), neither in a transaction.
    assert {user for user, _ in asked} == {"U0BILLING", "U0CFO", *ADMINS}
    assert {connections for _, connections in asked} == {0}

    sweep(db, MONDAY + timedelta(hours=48), deactivated={"U0BILLING"})
    assert len(events_of(db, "reassigned")) == 2  # handed over once each


def test_without_escalate_to_the_cx_leads_take_over(db: sessionmaker[Session]) -> None:
    item_id = file(db, "ticket queue lost my ticket", MONDAY)  # support: a group, no escalate_to
    with transaction(db) as session:
        item = session.get(Item, item_id)
        assert item is not None
        lifecycle.reassign(
            session=session,
            item=item,
            actor=admin(),
            now=MONDAY,
            to_area=None,
            to_person="U0GONE",
            triage=TRIAGE,
        )
    result = sweep(db, MONDAY + timedelta(hours=24), deactivated={"U0GONE", "U0ADMIN2"})
    assert result.handed_over == 1
    with db() as session:
        item = session.get(Item, item_id)
        assert item is not None and item.owner == "U0ADMIN1"  # the CX leads still reachable
        assert card_extras(session=session, item=item, triage_channel=TRIAGE).handed_over == HandedOver(
            "U0GONE", "U0ADMIN1"
        )
    assert nag_dms(db) == [{"user": "U0ADMIN1", "items": [item_id]}]


def test_deactivated_people_are_never_nagged_and_a_group_is_never_deactivated(
    db: sessionmaker[Session],
) -> None:
    file(db, "ticket queue lost my ticket", MONDAY)  # group S0SUPPORT: U0SUP1 and U0SUP2
    file(db, "the lobby is cold", MONDAY)  # a grey area: the CX leads
    result = sweep(db, MONDAY + timedelta(hours=24), deactivated={"U0SUP1", "U0ADMIN1"})
    assert result.handed_over == 0
    assert sorted(dm["user"] for dm in nag_dms(db)) == ["U0ADMIN2", "U0SUP2"]
    assert events_of(db, "reassigned") == []


def test_an_owner_with_nobody_reachable_behind_them_keeps_their_items(
    db: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    item_id = file(db, "refund problem", MONDAY)
    with caplog.at_level("WARNING", logger="bot.jobs.handover"):
        result = sweep(db, MONDAY + timedelta(hours=24), deactivated={"U0BILLING", "U0CFO", *ADMINS})
    assert (result.handed_over, result.dms) == (0, 0)
    assert [record.item_id for record in caplog.records] == [item_id]  # type: ignore[attr-defined]
    assert events_of(db, "reassigned") == []


def test_outside_working_hours_the_nag_waits(db: sessionmaker[Session]) -> None:
    file(db, "refund problem", MONDAY)
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    result = sweep(db, saturday)
    assert (result.nagged_items, result.waiting_for_working_hours) == (0, 1)
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert sweep(db, monday).nagged_items == 1


def test_three_unanswered_nags_escalate_once(db: sessionmaker[Session]) -> None:
    item_id = file(db, "refund problem", MONDAY)
    moments = [MONDAY + timedelta(hours=24 * n) for n in range(1, 6)]  # Tue..Sat 10:00; Sat is off
    for moment in moments[:3]:
        assert sweep(db, moment).escalated == 0
    assert sweep(db, moments[3]).escalated == 1  # Friday: the 4th due sweep
    [escalation] = kinds(db, "escalate")
    assert escalation.payload == {"to": ["U0CFO"], "nags": 3} and escalation.item_id == item_id
    assert len(kinds(db, "thread_note")) == 1
    assert sweep(db, datetime(2026, 11, 23, 10, 0, tzinfo=UTC)).escalated == 0  # never twice
    with db() as session:
        escalated = session.scalars(select(Event).where(Event.kind == "escalated")).all()
    assert len(escalated) == 1


def test_acknowledging_restarts_the_count(db: sessionmaker[Session]) -> None:
    item_id = file(db, "refund problem", MONDAY)
    sweep(db, MONDAY + timedelta(hours=24))
    with transaction(db) as session:
        item = session.get(Item, item_id)
        assert item is not None and item.nag_count == 1
        lifecycle.acknowledge(
            session=session, item=item, actor=admin(), now=MONDAY + timedelta(hours=25), via="button"
        )
        assert item.nag_count == 0 and item.last_nagged_at is None


def test_snooze_quiets_a_day_and_only_twice(db: sessionmaker[Session]) -> None:
    item_id = file(db, "refund problem", MONDAY)
    stale = MONDAY + timedelta(hours=24)
    with transaction(db) as session:
        item = session.get(Item, item_id)
        assert item is not None
        lifecycle.snooze(session=session, item=item, actor=admin(), now=stale)
    assert sweep(db, stale + timedelta(hours=23)).nagged_items == 0
    assert sweep(db, stale + timedelta(hours=24)).nagged_items == 1
    with transaction(db) as session:
        item = session.get(Item, item_id)
        assert item is not None
        lifecycle.snooze(session=session, item=item, actor=admin(), now=stale + timedelta(hours=25))
        with pytest.raises(lifecycle.InvalidTransition, match="snoozed 2 times"):
            lifecycle.snooze(session=session, item=item, actor=admin(), now=stale + timedelta(hours=26))


def test_two_sweeps_racing_for_one_period_run_once(db: sessionmaker[Session]) -> None:
    file(db, "refund problem", MONDAY)
    at = MONDAY + timedelta(hours=24)
    results = []
    barrier = threading.Barrier(2)

    def race() -> None:
        barrier.wait()
        results.append(sweep(db, at))

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(result.ran for result in results) == [False, True]
    assert len(nag_dms(db)) == 1


# The digest ------------------------------------------------------------------------------------------------------

END = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 09:00 in London


def day(date: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, date, hour, 0, tzinfo=UTC)


def act(db: sessionmaker[Session], item_id: int, at: datetime, change: str, **arguments: object) -> None:
    with transaction(db) as session:
        item = session.get(Item, item_id)
        assert item is not None
        getattr(lifecycle, change)(session=session, item=item, actor=admin(), now=at, **arguments)


@pytest.fixture
def week(db: sessionmaker[Session]) -> sessionmaker[Session]:
    """A fixture whose numbers were worked out by hand (see the test below)."""
    last_week_alarm = file(db, "refund late", day(12), journey_stage=JourneyStage.BUY)
    act(db, last_week_alarm, day(12, 10), "acknowledge", via="button")  # 1 h
    idea = file(db, "refund tracker page", day(10), kind=ItemKind.IDEA)
    act(db, idea, day(11), "acknowledge", via="button")  # 24 h
    with transaction(db) as session:
        add_vote(session=session, item_id=idea, voter_id="U0V1", now=day(11))
        add_vote(session=session, item_id=idea, voter_id="U0V2", now=day(11))

    a1 = file(db, "invoice wrong", day(17, 10), raiser="U0ONE", journey_stage=JourneyStage.BUY)
    act(db, a1, day(17, 12), "acknowledge", via="button")  # 2 h
    act(db, a1, day(18, 10), "mark_actioned", what_was_done="fixed", led_to_action=True)  # 24 h
    a2 = file(db, "refund slow", day(18))
    act(db, a2, day(19), "acknowledge", via="button")  # 24 h
    act(db, a2, day(19, 10), "decline", why="policy")
    file(db, "refund never came", day(20), severity=Severity.HIGH)  # stale from day 20, 17:00
    file(db, "the lobby is cold", day(21))  # grey area, still unowned
    grey = file(db, "parking is full", day(19))
    act(db, grey, day(20), "reassign", to_area="billing", to_person=None, triage=TRIAGE)
    file(db, "anonymous refund worry", day(22), anonymous=True)
    return db


def test_digest_numbers_match_the_hand_computed_fixture(week: sessionmaker[Session]) -> None:
    with week() as session:
        digest = build_digest(session, end=END)
    this, last = digest.this_week, digest.last_week
    assert this.flow[ItemKind.ALARM] == Flow(raised=6, acknowledged=2, actioned=1, declined=1)
    assert this.flow[ItemKind.IDEA] == Flow()
    assert last.flow[ItemKind.ALARM] == Flow(raised=1, acknowledged=1)
    assert last.flow[ItemKind.IDEA] == Flow(raised=1, acknowledged=1)
    assert (this.to_acknowledge.median, this.to_acknowledge.p90) == (timedelta(hours=2), timedelta(hours=24))
    assert (this.to_action.median, this.to_action.p90) == (timedelta(hours=24), timedelta(hours=24))
    assert (last.to_acknowledge.median, last.to_acknowledge.p90) == (timedelta(hours=1), timedelta(hours=24))
    # Past SLA at the end: the high alarm, the grey one, the reassigned one, the anonymous one
    # (24 h from Sunday 09:00, so due exactly at the end), last week's acknowledged alarm and the idea.
    assert digest.past_sla == 6
    assert [item.text for item, _ in digest.oldest_past_sla] == [
        "refund tracker page",
        "refund late",
        "parking is full",  # stale 24 h after it was raised, whoever owns it now
        "refund never came",
        "the lobby is cold",
    ]
    assert (digest.grey_came_in, digest.grey_resolved, digest.grey_unowned) == (2, 1, 1)
    areas = {area: (raised, actioned) for area, raised, actioned in digest.by_area}
    assert areas == {"billing": (5, 1), None: (1, 0)}
    stages = {stage: (raised, actioned) for stage, raised, actioned in digest.by_stage}
    assert stages == {"buy": (1, 1), None: (5, 0)}
    assert [(entry.user_id, entry.alarms) for entry in digest.credited] == [("U0ONE", 1)]
    assert [(item.text, votes) for item, votes in digest.top_ideas] == [("refund tracker page", 2)]


def test_digest_is_queued_once_per_moment(week: sessionmaker[Session]) -> None:
    assert run_digest(week, at=END, now=END, channel="C0DIGEST", zone="Europe/London")
    assert not run_digest(
        week, at=END, now=END + timedelta(seconds=30), channel="C0DIGEST", zone="Europe/London"
    )
    [message] = kinds(week, "post_digest")
    assert message.payload["channel"] == "C0DIGEST"
    assert "U0RAISER" not in str(message.payload)  # the anonymous raiser never shows


def _gone(*_args: object, **_kwargs: object) -> None:
    raise OSError("gone")


def test_a_digest_that_fails_after_its_claim_runs_again_and_is_queued_once(
    week: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim commits with the work: a failure in between (here, building the digest) leaves
    the period unclaimed, so the next run (the scheduler's catch-up, or `cxbot jobs run`) does it."""
    import bot.jobs.digest

    build = bot.jobs.digest.build_digest
    monkeypatch.setattr(bot.jobs.digest, "build_digest", _gone)
    with pytest.raises(OSError, match="gone"):
        run_digest(week, at=END, now=END, channel="C0DIGEST", zone="Europe/London")
    assert kinds(week, "post_digest") == []
    monkeypatch.setattr(bot.jobs.digest, "build_digest", build)
    assert run_digest(week, at=END, now=END, channel="C0DIGEST", zone="Europe/London")
    assert not run_digest(week, at=END, now=END, channel="C0DIGEST", zone="Europe/London")
    assert len(kinds(week, "post_digest")) == 1


def test_a_sweep_that_fails_after_its_claim_runs_again(
    db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.jobs.nag

    file(db, "refund problem", MONDAY)
    at = MONDAY + timedelta(hours=24)
    sweep_items = bot.jobs.nag._sweep
    monkeypatch.setattr(bot.jobs.nag, "_sweep", _gone)
    with pytest.raises(OSError, match="gone"):
        sweep(db, at)
    monkeypatch.setattr(bot.jobs.nag, "_sweep", sweep_items)
    assert sweep(db, at).ran
    assert not sweep(db, at).ran
    assert len(nag_dms(db)) == 1
