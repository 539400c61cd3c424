"""Retention (CX_RETENTION_DAYS, the daily purge) and erasure (`cxbot forget`), on SQLite and
PostgreSQL: what goes from every table, what stays, and that no past digest changes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import labels
from bot.blocks.roundup import roundup_reply
from bot.cli import main
from bot.jobs import retention
from bot.jobs.digest import build_digest, run_digest
from bot.jobs.roundup import build_roundup
from bot.ops.forget import CantForget, forget
from storage import privacy
from storage.db import transaction
from storage.figures import Digest
from storage.models import (
    CoRaiser,
    CreditState,
    Event,
    Item,
    ItemKind,
    ItemStatus,
    JourneyStage,
    OutboxMessage,
    OutboxStatus,
    Severity,
    SlackPace,
    VerifyAnswer,
    VerifyAsk,
    Vote,
    is_tombstone,
)
from storage.verify import due_asks

MONDAY = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)  # the first of six weeks of items
WEEK = timedelta(days=7)
NOW = MONDAY + 8 * WEEK  # a purge of 30 days takes what closed before 2026-10-03 09:00
PEOPLE = [f"U0PERSON{n}" for n in range(6)]
OWNER = "U0OWNER"
TABLES = ("items", "events", "co_raisers", "votes", "verify_asks", "route_claims", "outbox", "slack_pace")


def _add(session: Session, model: Any) -> Any:
    session.add(model)
    session.flush()
    return model


def seed(session: Session) -> None:
    """Six weeks of alarms and ideas: named and anonymous raisers who come back week after week,
    co-raisers, votes, comments, replies, actioned, declined, verified and reopened items; the
    last two weeks' items still open (or closed recently), as a live system's are."""
    for week in range(6):
        for n in range(5):
            created = MONDAY + week * WEEK + timedelta(hours=5 * n + week)
            raiser = PEOPLE[(week + n) % 5]
            kind = ItemKind.IDEA if n == 4 else ItemKind.ALARM
            item = _add(
                session,
                Item(
                    kind=kind,
                    text=f"Customers can't pay, week {week} #{n} ({raiser} saw it)",
                    customers="Acme, Globex" if n % 2 else None,
                    journey_stage=list(JourneyStage)[n],
                    severity=Severity.HIGH if kind is ItemKind.ALARM else None,
                    raiser_id=raiser,
                    anonymous=n == 3,
                    area="billing" if n % 2 else None,
                    grey_area=not n % 2,
                    routed_by="keywords" if n % 2 else "grey_area",
                    owner=OWNER,
                    channel="C0BILLING",
                    source_permalink="https://acme.slack.com/archives/C0SUPPORT/p1" if n == 1 else None,
                    source_channel="C0SUPPORT" if n == 1 else None,
                    source_ts="1.000100" if n == 1 else None,
                    created_at=created,
                    updated_at=created,
                ),
            )
            _history(session, item, week=week, n=n)


def _history(session: Session, item: Item, *, week: int, n: int) -> None:
    def event(kind: str, actor: str, at: datetime, **data: Any) -> None:
        session.add(Event(item_id=item.id, kind=kind, actor=actor, at=at, data=data))

    created = item.created_at
    event("filed", item.raiser_id, created, routed_by=item.routed_by, owner=OWNER)
    joiner = PEOPLE[(week + n + 1) % 6]
    session.add(CoRaiser(item_id=item.id, user_id=joiner, anonymous=n == 2, via="card", joined_at=created))
    event("co_raised", joiner, created + timedelta(minutes=5), via="card", anonymous=n == 2)
    event(
        "comment",
        PEOPLE[5],
        created + timedelta(minutes=10),
        text=f"Me too, ask <@{item.raiser_id}>",
        ts="2.1",
    )
    if item.kind is ItemKind.IDEA:
        for voter in PEOPLE[: week + 1]:
            session.add(Vote(item_id=item.id, voter_id=voter, at=created + timedelta(hours=1)))
    _outbox(session, item, sent=True)
    if week >= 4 and n < 3:
        _outbox(session, item, sent=False)
        return  # open: the last two weeks keep some items open
    acknowledged = created + timedelta(hours=2 + n)
    item.status, item.acknowledged_at = ItemStatus.ACKNOWLEDGED, acknowledged
    event("acknowledged", OWNER, acknowledged, via="reply", reply="On it, thank you")
    if not n % 2:
        event(
            "reassigned",
            OWNER,
            acknowledged + timedelta(minutes=1),
            from_owner=OWNER,
            to_owner=OWNER,
            from_grey_area=True,
            to_area="billing",
        )
    closed = acknowledged + timedelta(days=1 + n)
    item.closed_at, item.updated_at, item.acted_by = closed, closed, OWNER
    if n == 2:
        item.status, item.resolution = ItemStatus.DECLINED, "Not something we can change"
        event("declined", OWNER, closed, why="Not something we can change")
        return
    item.status, item.resolution, item.led_to_action = ItemStatus.ACTIONED, "Fixed the payment page", True
    item.credit = CreditState.POSTED if n != 3 else CreditState.DECLINED
    event("actioned", OWNER, closed, what_was_done="Fixed the payment page", led_to_action=True)
    session.add(
        VerifyAsk(
            item_id=item.id,
            user_id=item.raiser_id,
            anonymous=item.anonymous,
            due_at=closed + timedelta(days=3),
            asked_at=closed + timedelta(days=3),
            answer=VerifyAnswer.FIXED if n != 1 else VerifyAnswer.STILL_HAPPENING,
            answered_at=closed + timedelta(days=4),
            note="Still see it on mobile" if n == 1 else None,
        )
    )
    if n == 1:
        event("reopened", item.raiser_id, closed + timedelta(days=4), by_raiser=True, note="Still on mobile")
        event(
            "actioned",
            OWNER,
            closed + timedelta(days=5),
            what_was_done="Fixed mobile too",
            led_to_action=True,
        )
    else:
        event("verified", item.raiser_id, closed + timedelta(days=4))


def _outbox(session: Session, item: Item, *, sent: bool) -> None:
    session.add(
        OutboxMessage(
            kind="dm_raiser",
            item_id=item.id,
            payload={"news": "acknowledged", "by": OWNER, "co_raiser": item.raiser_id, "text": item.text},
            status=OutboxStatus.SENT if sent else OutboxStatus.PENDING,
            next_attempt_at=item.created_at,
            created_at=item.created_at,
            sent_at=item.created_at if sent else None,
            pace_key=f"post:{item.raiser_id}",
        )
    )


def figures(digest: Digest, *, people: bool = True) -> tuple[Any, ...]:
    """Every number the digest shows; without `people`, all but those that depend on who people
    are (how many spoke up; alarms from outside the owning team). (Who is credited is a list of
    names, which loses those removed: see credited_after_forget.)"""
    windows = [digest.this_week, digest.last_week]
    if not people:
        windows = [replace(window, people=0) for window in windows]
    return (
        *windows,
        digest.past_sla,
        [(item.id, due) for item, due in digest.oldest_past_sla],
        (digest.grey_came_in, digest.grey_resolved, digest.grey_unowned),
        digest.by_area,
        digest.by_stage,
        [(item.id, votes) for item, votes in digest.top_ideas],
        digest.verification,
        digest.loop if people else replace(digest.loop, outside=0, countable=0),
    )


# The digests of every week since the first, and of the days half-way between.
ENDS = [MONDAY + k * WEEK / 2 for k in range(1, 21)]


def post_digests(session_factory: sessionmaker[Session], *, ends: list[datetime] = ENDS) -> None:
    """Post the digest of each week ending at `ends`, as the scheduler would have."""
    for end in ends:
        assert run_digest(session_factory, at=end, now=end, channel="C0DIGEST", zone="UTC")


def every_digest(
    session_factory: sessionmaker[Session], *, ends: list[datetime] = ENDS, people: bool = True
) -> list[tuple[Any, ...]]:
    with session_factory() as session:
        return [figures(build_digest(session, end=end), people=people) for end in ends]


def dump(engine: Engine) -> str:
    """Every row of every table with people in it, as text, the tables in TABLES' order."""
    with engine.connect() as connection:
        return json.dumps(
            {
                table: [list(map(str, row)) for row in connection.execute(text(f"SELECT * FROM {table}"))]
                for table in TABLES
            }
        )


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(session_factory) as session:
        seed(session)
    return session_factory


def purge(session_factory: sessionmaker[Session], *, days: int = 30, at: datetime = NOW) -> retention.Purge:
    return retention.run_retention(session_factory, at=at, now=at, days=days, zone="UTC")


# --- The digest stays as it was ------------------------------------------------------------------


def test_a_purge_changes_no_past_digest(seeded: sessionmaker[Session]) -> None:
    """Every figure of every digest posted before the purge, computed again after it."""
    post_digests(seeded)
    before = every_digest(seeded)
    result = purge(seeded)
    assert result.items > 0
    assert every_digest(seeded) == before


def test_a_digest_never_posted_keeps_every_figure_but_who_spoke_up(seeded: sessionmaker[Session]) -> None:
    """Weeks the purge took in full are whole even unposted; in every other, only the figures
    that depend on who people are may change, which a posted digest keeps (below)."""
    purged_weeks = [end for end in ENDS if end <= MONDAY + 3 * WEEK]
    whole = every_digest(seeded, ends=purged_weeks)
    all_but_people = every_digest(seeded, people=False)
    purge(seeded)
    assert every_digest(seeded, ends=purged_weeks) == whole
    assert every_digest(seeded, people=False) == all_but_people


def test_a_week_half_purged_counts_each_person_once_in_its_posted_digest(
    seeded: sessionmaker[Session],
) -> None:
    """Nothing ties a purged item to its raiser any more, so in a week where someone raised one
    item that was purged and another that wasn't yet, counting again would count them twice. The
    posted digest recorded its count, and keeps it."""
    with transaction(seeded) as session:  # #20, raised by PEOPLE[2] in week 3, closes too late
        raised = MONDAY + 3 * WEEK + timedelta(hours=2)
        early = _add(
            session,
            Item(
                kind=ItemKind.ALARM,
                text="Checkout is slow",
                raiser_id=PEOPLE[2],
                routed_by="keywords",
                owner=OWNER,
                channel="C0BILLING",
                status=ItemStatus.DECLINED,
                created_at=raised,
                updated_at=raised,
                closed_at=raised + timedelta(hours=1),
            ),
        )
        session.add(Event(item_id=early.id, kind="declined", actor=OWNER, at=early.closed_at, data={}))
    unposted = every_digest(seeded)
    post_digests(seeded)
    purge(seeded)
    assert every_digest(seeded) == unposted
    with transaction(seeded) as session:  # counted again, without what the digest recorded
        session.execute(text("UPDATE job_runs SET summary = NULL WHERE job = 'digest'"))
    recounted = every_digest(seeded)
    people = [(old[0].people, new[0].people) for old, new in zip(unposted, recounted, strict=True)]
    assert all(new >= old for old, new in people)
    assert any(new > old for old, new in people)  # this seed has such a week


def test_forgetting_people_changes_no_past_digest(seeded: sessionmaker[Session]) -> None:
    post_digests(seeded)
    before = every_digest(seeded)
    for person in (PEOPLE[1], PEOPLE[3], PEOPLE[5]):
        assert forget(seeded, user_id=person, really=True).total > 0
    assert every_digest(seeded) == before


def test_the_digest_credits_everyone_but_the_forgotten_as_before(seeded: sessionmaker[Session]) -> None:
    end = MONDAY + 3 * WEEK
    with seeded() as session:
        before = build_digest(session, end=end).credited
    assert PEOPLE[1] in {entry.user_id for entry in before}
    forget(seeded, user_id=PEOPLE[1], really=True)
    with seeded() as session:
        after = build_digest(session, end=end).credited
    assert after == [entry for entry in before if entry.user_id != PEOPLE[1]]


def test_forget_after_a_purge_changes_no_past_digest(seeded: sessionmaker[Session]) -> None:
    post_digests(seeded)
    before = every_digest(seeded)
    purge(seeded)
    forget(seeded, user_id=PEOPLE[2], really=True)
    assert every_digest(seeded) == before


# --- Retention ---------------------------------------------------------------------------------


def test_a_purge_takes_free_text_and_people_from_old_closed_items_only(
    seeded: sessionmaker[Session], engine: Engine
) -> None:
    cutoff = NOW - timedelta(days=30)
    with seeded() as session:
        old = set(session.scalars(select(Item.id).where(Item.closed_at < cutoff)))
        kept = {
            item.id: (item.text, item.raiser_id)
            for item in session.scalars(select(Item))
            if item.id not in old
        }
    result = purge(seeded)
    assert result.items == len(old) > 0
    with seeded() as session:
        for item in session.scalars(select(Item)):
            if item.id in kept:
                assert (item.text, item.raiser_id, item.purged_at) == (*kept[item.id], None)
                continue
            assert (item.text, item.customers, item.resolution) == ("", None, None)
            assert (item.source_permalink, item.source_channel, item.source_ts) == (None, None, None)
            assert is_tombstone(item.raiser_id) and item.purged_at == NOW
            assert item.acted_by == OWNER and item.status in (ItemStatus.ACTIONED, ItemStatus.DECLINED)
            for event in session.scalars(select(Event).where(Event.item_id == item.id)):
                assert not set(privacy.FREE_TEXT_KEYS) & {key for key, value in event.data.items() if value}
                assert event.actor == OWNER or is_tombstone(event.actor)
                assert not any(person in json.dumps(event.data) for person in PEOPLE)
            rows = [
                *session.scalars(select(CoRaiser.user_id).where(CoRaiser.item_id == item.id)),
                *session.scalars(select(Vote.voter_id).where(Vote.item_id == item.id)),
                *session.scalars(select(VerifyAsk.user_id).where(VerifyAsk.item_id == item.id)),
            ]
            assert rows and all(is_tombstone(person) for person in rows)
            notes = session.scalars(select(VerifyAsk.note).where(VerifyAsk.item_id == item.id))
            assert all(note is None for note in notes)
            for message in session.scalars(select(OutboxMessage).where(OutboxMessage.item_id == item.id)):
                assert message.status is OutboxStatus.SENT and message.payload == {}
        pending = session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING))
        assert all(message.payload["text"] for message in pending)


def test_one_person_is_one_tombstone_across_a_purge(seeded: sessionmaker[Session]) -> None:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(retention, "BATCH", 3)  # many short transactions
    try:
        with seeded() as session:
            before = {
                person: session.scalar(
                    select(Item.id).where(Item.raiser_id == person, Item.closed_at < NOW - timedelta(days=30))
                )
                for person in PEOPLE[:5]
            }
        purge(seeded)
    finally:
        monkeypatch.undo()
    with seeded() as session:
        tombstones = {
            person: session.get(Item, item_id).raiser_id for person, item_id in before.items() if item_id
        }  # type: ignore[union-attr]
        assert len(set(tombstones.values())) == len(tombstones) == 5
        for person, tombstone in tombstones.items():
            mine = session.scalars(
                select(Item.raiser_id).where(
                    Item.purged_at.is_not(None), Item.raiser_id.in_([person, tombstone])
                )
            )
            assert set(mine) == {tombstone}


def test_the_purge_runs_once_a_day_across_replicas(seeded: sessionmaker[Session]) -> None:
    first = purge(seeded)
    assert first.ran and first.items > 0
    assert not purge(seeded, at=NOW + timedelta(hours=5)).ran
    tomorrow = purge(seeded, at=NOW + timedelta(days=1))
    assert tomorrow.ran
    later = purge(seeded, at=NOW + timedelta(days=40))
    assert later.ran and later.items > 0


# --- Forget ------------------------------------------------------------------------------------


def test_forget_removes_the_person_from_every_table(seeded: sessionmaker[Session], engine: Engine) -> None:
    person = PEOPLE[1]
    with transaction(seeded) as session:
        session.add(SlackPace(key=f"post:{person}", ready_at=NOW))
    assert person in dump(engine)
    before = dump(engine)
    preview = forget(seeded, user_id=person, really=False)
    assert not preview.done and preview.total > 0 and dump(engine) == before
    assert preview.waiting > 0  # pending DMs to them are left for the outbox
    done = forget(seeded, user_id=person, really=True)
    assert done.rows == preview.rows
    assert {table for table, count in done.rows.items() if count} >= {
        "items raised",
        "events",
        "co_raisers",
        "votes",
        "verify_asks",
        "outbox",
        "slack_pace",
    }
    after = dump(engine)
    with seeded() as session:
        pending = session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING))
        left = sum(person in json.dumps(message.payload) + str(message.pace_key) for message in pending)
        assert left == done.waiting
        raised = list(session.scalars(select(Item).where(Item.raiser_id == done.tombstone)))
        assert raised and all(item.text == "" and item.customers is None for item in raised)
        assert any(item.resolution for item in raised)  # the owner's words stay
        comments = session.scalars(
            select(Event).where(Event.actor == done.tombstone, Event.kind == "comment")
        )
        assert all(event.data["text"] is None for event in comments)
    assert person not in after.split('"outbox"')[0] + after.split('"slack_pace"')[1]
    assert done.tombstone in after


def test_two_forgotten_people_stay_two(seeded: sessionmaker[Session]) -> None:
    one = forget(seeded, user_id=PEOPLE[0], really=True)
    two = forget(seeded, user_id=PEOPLE[1], really=True)
    assert one.tombstone != two.tombstone
    assert is_tombstone(one.tombstone) and is_tombstone(two.tombstone)


def test_forget_refuses_an_owner_of_open_items_and_a_bad_id(seeded: sessionmaker[Session]) -> None:
    with pytest.raises(CantForget, match="still looks after open item #"):
        forget(seeded, user_id=OWNER, really=True)
    with pytest.raises(CantForget, match="not a Slack user ID"):
        forget(seeded, user_id="alice", really=True)
    assert forget(seeded, user_id="U0NOBODY", really=True).total == 0


def test_the_roundup_names_no_forgotten_person(seeded: sessionmaker[Session]) -> None:
    start, end = MONDAY, MONDAY + 6 * WEEK
    with seeded() as session:
        before = build_roundup(session, start=start, end=end)
    named = roundup_reply(before).text + json.dumps(roundup_reply(before).as_dicts())
    assert PEOPLE[0] in named
    forget(seeded, user_id=PEOPLE[0], really=True)
    with seeded() as session:
        after = build_roundup(session, start=start, end=end)
    shown = roundup_reply(after).text + json.dumps(roundup_reply(after).as_dicts())
    assert PEOPLE[0] not in shown and "gone:" not in shown
    assert (len(after.changes), after.people) == (len(before.changes), before.people)


def test_a_tombstone_is_never_shown_as_a_mention() -> None:
    tombstone = privacy.new_tombstone()
    assert labels.mention(tombstone) == "someone"
    assert labels.mentions(f"U0LEAD,{tombstone}") == "<@U0LEAD>, someone"


def test_anonymous_raisers_stay_unnamed_after_a_purge(seeded: sessionmaker[Session]) -> None:
    """Purging never turns an anonymous raiser into a credited one, and the digest's credit list
    has no more entries than before."""
    with seeded() as session:
        before = build_digest(session, end=MONDAY + 4 * WEEK).credited
    purge(seeded)
    with seeded() as session:
        anonymous = list(session.scalars(select(Item).where(Item.anonymous.is_(True))))
        assert anonymous and all(item.credit is not CreditState.POSTED for item in anonymous)
        after = build_digest(session, end=MONDAY + 4 * WEEK).credited
    assert len(after) == len(before)


# --- The command ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)


def test_cxbot_forget_says_first_then_does_it_with_yes(
    cli_env: None, seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["forget", PEOPLE[2]]) == 0
    out = capsys.readouterr().out
    assert "Would change" in out and "items raised" in out and f"cxbot forget {PEOPLE[2]} --yes" in out
    with seeded() as session:
        assert session.scalar(select(Item.id).where(Item.raiser_id == PEOPLE[2])) is not None
    assert main(["forget", PEOPLE[2], "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Changed" in out and "gone:" in out and "untouched" in out
    with seeded() as session:
        assert session.scalar(select(Item.id).where(Item.raiser_id == PEOPLE[2])) is None
    assert main(["forget", PEOPLE[2], "--yes"]) == 0
    assert "appears nowhere" in capsys.readouterr().out


def test_cxbot_forget_refuses_in_one_line(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forget", "#alice"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cxbot: '#alice' is not a Slack user ID") and err.count("\n") == 1


def test_nobody_forgotten_is_asked_whether_it_fixed_things(seeded: sessionmaker[Session]) -> None:
    with transaction(seeded) as session:
        item = session.scalars(select(Item).where(Item.status == ItemStatus.ACTIONED)).first()
        assert item is not None
        session.add(VerifyAsk(item_id=item.id, user_id="U0LATECOMER", due_at=NOW))
    with seeded() as session:
        assert [ask.user_id for ask in due_asks(session=session, at=NOW)] == ["U0LATECOMER"]
    forget(seeded, user_id="U0LATECOMER", really=True)
    with seeded() as session:
        assert due_asks(session=session, at=NOW) == []
