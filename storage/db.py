"""The engine and the session factory: one session per request or job run, never shared."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

LOCK_TIMEOUT_SECONDS = 30
# A held connection unused for this long goes back to the pool, and the next use checks one out
# afresh, so the pool's liveness ping catches a server that restarted meanwhile.
HELD_IDLE_SECONDS = 5.0
_HOLDS_TURN = "cxbot_holds_writer_turn"
_READS_ONLY = "cxbot_reads_only"


def normalise_url(database_url: str) -> URL:
    """Parse DATABASE_URL; plain `postgres://` and `postgresql://` use the psycopg 3 driver."""
    url = make_url(database_url)
    if url.drivername in {"postgres", "postgresql"}:
        url = url.set(drivername="postgresql+psycopg")
    return url


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    url = normalise_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": LOCK_TIMEOUT_SECONDS}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        _WriterTurns().listen(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_SECONDS * 1000}")
    cursor.close()


class _WriterTurns:
    """SQLite has one writer at a time. Every transaction takes the write lock up front (BEGIN
    IMMEDIATE): a deferred one that later writes can fail at once with "database is locked" when
    another thread is writing. Writers of this process also take turns on a lock of their own
    first: SQLite's busy handler polls with sleeps of up to 100 ms, while a thread waiting here
    starts the moment the writer before it commits. Other processes still meet the busy handler.

    A transaction opened by reading_session() only reads, and begins deferred, with no turn: in
    WAL mode a reader neither waits for the writer nor holds it up.
    """

    def __init__(self) -> None:
        self._turn = threading.Lock()

    def listen(self, engine: Engine) -> None:
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)
        event.listen(engine.pool, "checkin", self._checked_in)

    def _begin(self, connection: Connection) -> None:
        driver = connection.connection.driver_connection
        if connection.get_execution_options().get(_READS_ONLY):
            driver.execute("BEGIN")  # type: ignore[union-attr]  # a reader: no lock, no turn
            return
        if self._turn.acquire(timeout=LOCK_TIMEOUT_SECONDS):
            connection.info[_HOLDS_TURN] = True
        try:
            driver.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        except BaseException:
            self._end(connection)
            raise

    def _end(self, connection: Connection) -> None:
        if connection.info.pop(_HOLDS_TURN, False):
            self._turn.release()

    def _checked_in(self, _dbapi_connection: Any, record: Any) -> None:
        # A connection returned to the pool mid-transaction (an error path) gives up its turn.
        if record.info.pop(_HOLDS_TURN, False):
            self._turn.release()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def reading_session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads alone: on SQLite it takes neither the write lock nor a writer's turn,
    so it never waits for a writer (and must not write)."""
    engine = session_factory.kw["bind"]
    with engine.connect() as connection:
        connection.execution_options(**{_READS_ONLY: True})
        with Session(bind=connection) as session:
            yield session


@contextmanager
def transaction(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with session_factory() as session, session.begin():
        yield session


class HeldConnection:
    """One connection kept checked out for one thread that writes again and again (the filer),
    instead of a session and a pool checkout per transaction.

    On PostgreSQL it runs in autocommit: no BEGIN or COMMIT is sent, so each statement is its own
    transaction, and work that must be atomic has to be one statement (storage/filing.py is). On
    SQLite, transaction() is a real transaction, taken with BEGIN IMMEDIATE like any other.

    The pool pings a connection when it is checked out; a held one skips that during a burst, and
    is checked out afresh after HELD_IDLE_SECONDS idle. A connection that breaks mid-burst (the
    server restarted) raises to the caller once, and the next transaction gets a new one.
    """

    def __init__(self, engine: Engine, *, idle_seconds: float = HELD_IDLE_SECONDS) -> None:
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._engine = engine
        self._idle_seconds = idle_seconds
        self._connection: Connection | None = None
        self._used_at = 0.0

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        connection = self._current()
        try:
            with connection.begin():
                yield connection
        except DBAPIError as error:
            if error.connection_invalidated:
                self.close()
            raise
        finally:
            self._used_at = time.monotonic()

    def refresh_if_idle(self, *, within: float) -> None:
        """For an idle moment: if the connection would be checked out afresh within `within`
        seconds (or none is held), check one out now, so the next transaction doesn't wait for
        the pool's liveness ping. Raises what the pool raises if the database can't be reached;
        the next transaction then tries again."""
        if self._due_afresh(within=within):
            self.close()
            self._connection = self._engine.connect()
            self._used_at = time.monotonic()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _current(self) -> Connection:
        if self._due_afresh():
            self.close()
            self._connection = self._engine.connect()
        assert self._connection is not None
        return self._connection

    def _due_afresh(self, *, within: float = 0.0) -> bool:
        """Whether the next transaction (or one `within` seconds from now) needs a connection
        checked out afresh: none is held, it broke, or it has idled too long to trust."""
        connection = self._connection
        return (
            connection is None
            or connection.invalidated
            or time.monotonic() - self._used_at > self._idle_seconds - within
        )
