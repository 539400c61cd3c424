"""The filer's group commit, on SQLite and PostgreSQL: what arrives together is stored together,
each caller hears its own outcome, and nothing is filed twice. Also SQLite's turn-taking."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import InvalidSubmission
from bot.filer import Filer
from bot.intake import ReplyTarget, Submission, Triage
from bot.routes_file import parse_routes
from storage import routes as route_queries
from storage.db import transaction
from storage.models import Event, Item, ItemKind, JobRun, OutboxMessage
from tests.support import FakeClock

TRIAGE = Triage(channel="C0TRIAGE", admins=("U0ADMIN1",))
ROUTES = """
[[routes]]
area = "billing"
owner = "U0BILLING"
channel = "C0BILLING"
keywords = ["refund"]
"""


@pytest.fixture
def routed(session_factory: sessionmaker[Session], clock: FakeClock) -> sessionmaker[Session]:
    with transaction(session_factory) as session:
        route_queries.import_routes(session=session, specs=parse_routes(ROUTES, path="r"), now=clock())
    return session_factory


def _submission(text: str, key: str | None) -> Submission:
    return Submission(
        kind=ItemKind.ALARM,
        text=text,
        raiser_id="U0RAISER",
        intake_key=key,
        reply=ReplyTarget(response_url="https://hooks.example/r", channel_id="C0HERE"),
    )


class _Held:
    """Holds the filer's thread at its first transaction until released, so that what is
    submitted meanwhile lands in one batch. Counts the transactions committed."""

    def __init__(self, engine: Engine) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.commits = 0
        self._first = True
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._commit)

    def _begin(self, _connection: Any) -> None:
        if self._first and threading.current_thread().name == "cxbot-filer":
            self._first = False
            self.entered.set()
            assert self.release.wait(10)

    def _commit(self, _connection: Any) -> None:
        if threading.current_thread().name == "cxbot-filer":
            self.commits += 1


def _filer(factory: sessionmaker[Session], clock: FakeClock, woken: list[int]) -> Filer:
    return Filer(session_factory=factory, triage=TRIAGE, clock=clock, on_filed=lambda: woken.append(1))


def _count(factory: sessionmaker[Session], model: type[Any]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_what_arrives_together_is_stored_in_one_transaction(
    engine: Engine, routed: sessionmaker[Session], clock: FakeClock
) -> None:
    held, woken = _Held(engine), []
    filer = _filer(routed, clock, woken)
    try:
        first = filer.submit(_submission("a refund, please", "command:first"))
        assert held.entered.wait(10)
        rest = [filer.submit(_submission(f"problem {n}", f"command:{n}")) for n in range(20)]
        held.release.set()
        numbers = [future.result(10) for future in [first, *rest]]
    finally:
        filer.stop()
    assert len(set(numbers)) == 21
    assert held.commits == 2  # the first alone (it was being stored), then the other 20 together
    assert woken  # the outbox was told
    with routed() as session:
        items = {item.id: item for item in session.scalars(select(Item))}
        assert items[numbers[0]].area == "billing" and items[numbers[1]].grey_area
        assert [items[n].text for n in numbers[1:]] == [f"problem {n}" for n in range(20)]
        filed = session.scalars(select(Event).where(Event.kind == "filed").order_by(Event.id)).all()
        assert [e.item_id for e in filed] == numbers
        assert filed[0].data["matched_keywords"] == ["refund"]
        outbox = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    # Each item's card, then its confirmation, in the order the items were filed.
    assert [(m.item_id, m.kind) for m in outbox] == [
        (n, kind) for n in numbers for kind in ("post_card", "confirm_raiser")
    ]
    assert outbox[1].payload == {"response_url": "https://hooks.example/r", "channel_id": "C0HERE"}


def test_the_same_intake_key_is_filed_once_in_a_batch_and_across_batches(
    engine: Engine, routed: sessionmaker[Session], clock: FakeClock
) -> None:
    held, woken = _Held(engine), []
    filer = _filer(routed, clock, woken)
    try:
        blocker = filer.submit(_submission("first", "view:V1"))
        assert held.entered.wait(10)
        twice = [filer.submit(_submission("second", "view:V2")) for _ in range(2)]
        again = filer.submit(_submission("first, resubmitted", "view:V1"))
        held.release.set()
        assert twice[0].result(10) == twice[1].result(10)
        assert again.result(10) == blocker.result(10)
        assert filer.file(_submission("second, much later", "view:V2")) == twice[0].result()
    finally:
        filer.stop()
    assert _count(routed, Item) == 2
    assert _count(routed, OutboxMessage) == 4
    assert _count(routed, Event) == 2


def test_each_caller_hears_its_own_outcome(routed: sessionmaker[Session], clock: FakeClock) -> None:
    filer = _filer(routed, clock, [])
    try:
        empty = filer.submit(_submission("   ", "command:empty"))
        with pytest.raises(InvalidSubmission):
            empty.result(10)
        assert filer.file(_submission("fine", "command:fine"), timeout=10) > 0
    finally:
        filer.stop()
    assert _count(routed, Item) == 1


def test_a_database_error_reaches_every_caller_in_the_batch(clock: FakeClock, tmp_path: Any) -> None:
    from storage.db import make_engine, make_session_factory

    broken = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite'}")  # can't be opened
    filer = _filer(make_session_factory(broken), clock, [])
    try:
        futures: list[Future[int]] = [filer.submit(_submission(f"x{n}", f"command:{n}")) for n in range(3)]
        for future in futures:
            with pytest.raises(OperationalError):
                future.result(10)
    finally:
        filer.stop()
        broken.dispose()


def test_deliveries_wait_for_a_quiet_moment_but_not_forever(
    routed: sessionmaker[Session], clock: FakeClock
) -> None:
    filer = _filer(routed, clock, [])
    try:
        filer.file(_submission("just now", "command:now"), timeout=10)
        waited = threading.Event()

        def wait() -> None:
            filer.wait_until_quiet(quiet=0.2, longest=10)
            waited.set()

        waiter = threading.Thread(target=wait)
        waiter.start()
        assert not waited.wait(0.05)  # the last filing finished under 0.2 s ago
        assert waited.wait(5)  # and then it is quiet
        waiter.join()
        # However busy it gets, `longest` bounds the wait.
        blocked = filer.submit(_submission("x", "command:x"))
        filer.wait_until_quiet(quiet=60, longest=0.05)
        blocked.result(10)
    finally:
        filer.stop()


def test_sqlite_writers_of_one_process_take_turns(tmp_path: Any) -> None:
    """Threads writing at once all succeed, and a transaction that fails gives back its turn."""
    from storage.db import make_engine, make_session_factory
    from storage.schema import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    clock = FakeClock()
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for k in range(10):
                with transaction(factory) as session:
                    session.add(JobRun(job=f"writer {n}", period=str(k), started_at=clock()))
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
    assert _count(factory, JobRun) == 6 * 5
    engine.dispose()


def test_file_together_stores_a_batch_in_the_calling_thread(
    engine: Engine, routed: sessionmaker[Session], clock: FakeClock
) -> None:
    """The filing worker's loop files what it read off its pipe in one transaction, itself."""
    held, woken = _Held(engine), []
    filer = _filer(routed, clock, woken)
    held.release.set()
    commits: list[str] = []
    event.listen(engine, "commit", lambda _c: commits.append(threading.current_thread().name))
    try:
        outcomes = filer.file_together(
            [
                _submission("a refund", "command:a"),
                _submission("  ", "command:empty"),
                _submission("b", "command:b"),
            ]
        )
        with pytest.raises(InvalidSubmission):
            outcomes[1].result(0)
        numbers = [outcomes[0].result(0), outcomes[2].result(0)]
    finally:
        filer.stop()
    assert commits == [threading.current_thread().name]
    assert woken and len(set(numbers)) == 2
    assert _count(routed, Item) == 2


def test_keeping_warm_reads_the_routes_and_a_connection_before_the_next_burst_needs_them(
    engine: Engine, routed: sessionmaker[Session], clock: FakeClock
) -> None:
    """In an idle moment the filer reads what the first filing of a burst would otherwise read
    while its ack waits: the routes, and a connection the pool has just checked."""
    filer = _filer(routed, clock, [])
    statements: list[str] = []
    checkouts: list[int] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    event.listen(engine.pool, "checkout", lambda *_: checkouts.append(1))
    try:
        filer.keep_warm(within=1.0)
        assert any("FROM routes" in statement for statement in statements)
        statements.clear()
        checkouts.clear()
        number = filer.file_together([_submission("a refund, please", "command:warm")])[0].result(0)
        assert not any("FROM routes" in statement for statement in statements)
        assert checkouts == []  # the held connection was already checked out
        filer.keep_warm(within=1.0)  # nothing is due yet: nothing read
        assert checkouts == []
        assert not any("FROM routes" in statement for statement in statements)
    finally:
        filer.stop()
    with routed() as session:
        item = session.get(Item, number)
        assert item is not None and item.route is not None and item.route.area == "billing"


def test_keeping_warm_while_the_database_is_away_leaves_the_next_filing_to_report_it(
    clock: FakeClock, tmp_path: Any
) -> None:
    from storage.db import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'cx.db'}")  # its folder doesn't exist
    filer = _filer(make_session_factory(engine), clock, [])
    try:
        filer.keep_warm(within=1.0)  # no exception
        with pytest.raises(OperationalError):
            filer.file_together([_submission("a refund", "command:away")])[0].result(0)
    finally:
        filer.stop()
        engine.dispose()


def test_keeping_warm_survives_any_error_and_waits_before_trying_again(
    routed: sessionmaker[Session], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    filer = _filer(routed, clock, [])
    attempts: list[int] = []

    def broken() -> list[Any]:
        attempts.append(1)
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(filer, "_read_routes", broken)
    try:
        filer.keep_warm(within=1.0)  # no exception reaches the worker's loop
        filer.keep_warm(within=1.0)  # and it doesn't hammer a database that is away
        assert attempts == [1]
    finally:
        filer.stop()


def test_reading_the_routes_doesnt_wait_for_a_writer(routed: sessionmaker[Session], clock: FakeClock) -> None:
    """On SQLite the routes are read in a reader's transaction: a write under way (here, in this
    very thread) neither blocks it nor is seen by it."""
    filer = _filer(routed, clock, [])
    try:
        with transaction(routed) as writing:
            route_queries.import_routes(
                session=writing,
                specs=parse_routes(ROUTES.replace("billing", "refunds"), path="r"),
                now=clock(),
            )
            writing.flush()
            started = time.monotonic()
            filer.keep_warm(within=10.0)
            assert time.monotonic() - started < 5  # a writer's turn would have waited 30 s
        with routed() as session:
            assert [route.area for route in route_queries.active_routes(session=session)] == ["refunds"]
        assert [route.area for route in filer._active_routes()] == ["billing"]  # read before the commit
    finally:
        filer.stop()
