"""Storage on SQLite and PostgreSQL: the outbox queue, routes import, items and events."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, event, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from bot.capture.filing import file_item
from bot.capture.submission import Submission
from bot.routing.routes_file import parse_routes
from bot.routing.rules import Triage
from storage import outbox as queue
from storage import routes as route_queries
from storage.db import transaction
from storage.models import Event, ItemKind, JobRun, OutboxMessage, OutboxStatus
from storage.schema import schema_state
from tests.support import FakeClock

LEASE = timedelta(minutes=2)
TRIAGE = Triage(channel="C0TRIAGE", admins=("U0ADMIN1",))
ROUTES = """
[[routes]]
area = "billing"
owner = "U0BILLING"
channel = "C0BILLING"
keywords = ["refund"]
"""


def test_migrations_reach_head_with_every_table(engine: Engine) -> None:
    assert schema_state(engine).up_to_date
    assert {"items", "routes", "events", "outbox", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )


def _message(session: Session, clock: FakeClock, item_id: int | None, kind: str = "k") -> int:
    message = queue.enqueue(
        session=session, message=queue.NewMessage(kind=kind, payload={"n": 1}, item_id=item_id), now=clock()
    )
    session.flush()
    return message.id


def _file(session: Session, clock: FakeClock, text: str = "refund please") -> int:
    return file_item(
        session=session,
        submission=Submission(kind=ItemKind.ALARM, text=text, raiser_id="U0RAISER"),
        triage=TRIAGE,
        now=clock(),
    )


def _claim(factory: sessionmaker[Session], clock: FakeClock, limit: int = 10) -> list[OutboxMessage]:
    with transaction(factory) as session:
        return queue.claim_due(session=session, now=clock(), lease=LEASE, limit=limit)


def test_filing_writes_item_event_and_outbox_in_one_transaction(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as session:
        route_queries.import_routes(session=session, specs=parse_routes(ROUTES, path="r"), now=clock())
    try:
        with transaction(session_factory) as session:
            item_id = _file(session, clock)
            raise RuntimeError("the request died before commit")
    except RuntimeError:
        pass
    with session_factory() as session:
        assert list(session.scalars(select(Event).where(Event.item_id == item_id))) == []
        assert session.get(OutboxMessage, 1) is None
    with transaction(session_factory) as session:
        item_id = _file(session, clock)
    with session_factory() as session:
        [event] = list(session.scalars(select(Event).where(Event.item_id == item_id)))
        assert event.kind == "filed"
    # The confirmation doesn't wait for the card: a busy channel may hold the card back.
    assert [m.kind for m in _claim(session_factory, clock)] == ["post_card", "confirm_raiser"]


def test_messages_of_one_item_go_out_in_order(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as session:
        first_item = _file(session, clock)
        second_item = _file(session, clock, "lobby")
        first_news = _message(session, clock, first_item, "dm_raiser")
        second_news = _message(session, clock, second_item, "dm_raiser")
        loose = _message(session, clock, None)
    claimed = _claim(session_factory, clock)
    assert [(m.item_id, m.kind) for m in claimed] == [  # the most urgent first: cards and confirmations
        (first_item, "post_card"),
        (first_item, "confirm_raiser"),
        (second_item, "post_card"),
        (second_item, "confirm_raiser"),
        (None, "k"),
    ]
    assert _claim(session_factory, clock) == []  # the news waits for its item's card
    with transaction(session_factory) as session:
        queue.mark_sent(session=session, message_id=claimed[0].id, result={}, now=clock())
        queue.mark_failed(session=session, message_id=claimed[2].id, error="channel_not_found")
        queue.mark_sent(session=session, message_id=loose, result={}, now=clock())
    assert _claim(session_factory, clock) == []  # ...and for its confirmation, which is still going
    with transaction(session_factory) as session:
        for confirmation in (claimed[1], claimed[3]):
            queue.mark_sent(session=session, message_id=confirmation.id, result={}, now=clock())
    assert [m.id for m in _claim(session_factory, clock)] == [first_news, second_news]


def test_retry_waits_until_due(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    with transaction(session_factory) as session:
        message_id = _message(session, clock, None)
    [claimed] = _claim(session_factory, clock)
    with transaction(session_factory) as session:
        queue.mark_retry(
            session=session,
            message_id=claimed.id,
            error="boom",
            retry_at=clock() + timedelta(seconds=8),
            uncertain=False,
        )
    clock.advance(seconds=7)
    assert _claim(session_factory, clock) == []
    clock.advance(seconds=1)
    [again] = _claim(session_factory, clock)
    assert again.id == message_id and again.attempts == 2 and not again.outcome_uncertain


def test_expired_lease_is_reclaimed_as_uncertain(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as session:
        _message(session, clock, None)
    [claimed] = _claim(session_factory, clock)
    assert claimed.status is OutboxStatus.SENDING and not claimed.outcome_uncertain
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert _claim(session_factory, clock) == []
    clock.advance(seconds=1)
    [reclaimed] = _claim(session_factory, clock)
    assert reclaimed.outcome_uncertain and reclaimed.attempts == 2


def test_concurrent_dispatchers_never_claim_the_same_message(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as session:
        for _ in range(60):
            _message(session, clock, None)
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def dispatcher() -> None:
        barrier.wait()
        mine: list[int] = []
        while batch := _claim(session_factory, clock, limit=3):
            mine += [m.id for m in batch]
        results.append(mine)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    claimed = [message_id for mine in results for message_id in mine]
    assert len(claimed) == 60 and len(set(claimed)) == 60


def test_routes_import_adds_changes_and_retires(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    two = ROUTES + '\n[[routes]]\narea = "onboarding"\nowner = "S0ONB"\nchannel = "C0ONB"\n'
    with transaction(session_factory) as session:
        summary = route_queries.import_routes(session=session, specs=parse_routes(two, path="r"), now=clock())
    assert summary.added == ("billing", "onboarding")
    changed = ROUTES.replace("U0BILLING", "U0NEWOWNER")
    with transaction(session_factory) as session:
        summary = route_queries.import_routes(
            session=session, specs=parse_routes(changed, path="r"), now=clock()
        )
    assert (summary.changed, summary.retired) == (("billing",), ("onboarding",))
    with session_factory() as session:
        active = route_queries.active_routes(session=session)
    assert [(r.area, r.owner) for r in active] == [("billing", "U0NEWOWNER")]
    with transaction(session_factory) as session:
        summary = route_queries.import_routes(session=session, specs=parse_routes(two, path="r"), now=clock())
    assert summary.added == () and set(summary.changed) == {"billing", "onboarding"}


def test_next_due_ignores_messages_waiting_behind_another(
    session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    with transaction(session_factory) as session:
        item_id = _file(session, clock)
        _message(session, clock, item_id, "dm_raiser")
    card, confirmation = _claim(session_factory, clock)
    retry_at = clock() + timedelta(seconds=300)
    with transaction(session_factory) as session:
        queue.mark_retry(session=session, message_id=card.id, error="500", retry_at=retry_at, uncertain=True)
        queue.mark_sent(session=session, message_id=confirmation.id, result={}, now=clock())
    with session_factory() as session:
        assert queue.next_due_at(session=session) == retry_at  # not the blocked news's, in the past


def test_failed_messages_can_be_requeued(session_factory: sessionmaker[Session], clock: FakeClock) -> None:
    with transaction(session_factory) as session:
        _message(session, clock, None)
    [claimed] = _claim(session_factory, clock)
    with transaction(session_factory) as session:
        queue.mark_failed(session=session, message_id=claimed.id, error="channel_not_found")
    with session_factory() as session:
        assert [m.last_error for m in queue.failed_messages(session=session)] == ["channel_not_found"]
        assert queue.counts_by_status(session=session) == {"failed": 1}
    with transaction(session_factory) as session:
        assert queue.requeue_failed(session=session, now=clock()) == 1
    assert [m.id for m in _claim(session_factory, clock)] == [claimed.id]


def test_claiming_looks_up_earlier_messages_in_the_unfinished_index(
    engine: Engine, session_factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """Whether a message waits behind an earlier one about its item is one lookup in the partial
    index, even on a table the planner has no statistics for. Without it, PostgreSQL took half a
    second per claim with 3,000 messages queued after a burst (their statuses looked selective)."""
    statements: list[tuple[str, object]] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        if statement.startswith("SELECT outbox.id"):
            statements.append((statement, parameters))

    with transaction(session_factory) as session:
        for n in range(300):
            _file(session, clock, text=f"problem {n}")
    event.listen(engine, "before_cursor_execute", record)
    try:
        with transaction(session_factory) as session:
            claimed = queue.claim_due(session=session, now=clock(), lease=timedelta(seconds=60), limit=20)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [m.kind for m in claimed] == ["post_card", "confirm_raiser"] * 10  # most urgent first
    statement, parameters = statements[-1]
    with engine.connect() as connection:
        explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        plan = " ".join(str(row) for row in connection.exec_driver_sql(explain + statement, parameters))  # type: ignore[arg-type]
    assert "ix_outbox_unfinished_item_id" in plan


def test_sqlite_writers_of_one_process_take_turns(tmp_path: Path) -> None:
    """Threads writing at once all succeed, and a transaction that fails gives back its turn."""
    from storage.db import make_engine, make_session_factory
    from storage.schema import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for k in range(10):
                with transaction(factory) as session:
                    session.add(
                        JobRun(
                            job=f"writer {n}", period=str(k), started_at=datetime(2026, 11, 16, tzinfo=UTC)
                        )
                    )
                    if k == 5:
                        raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 6 * 5
    engine.dispose()
