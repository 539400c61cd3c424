"""The engine and the session factory: one session per request or job run, never shared."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

LOCK_TIMEOUT_SECONDS = 30
_HOLDS_TURN = "cxbot_holds_writer_turn"


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
def transaction(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with session_factory() as session, session.begin():
        yield session
