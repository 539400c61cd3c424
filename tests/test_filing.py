"""storage/filing.py and HeldConnection, on SQLite and PostgreSQL: a batch written in one statement
(PostgreSQL) or straight to the driver (SQLite) stores exactly the rows the ORM would, and a held
connection survives a server that drops it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event, inspect, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import HeldConnection, transaction
from storage.filing import NewItemRows, insert_filed
from storage.models import Base, Event, Item, ItemKind, ItemStatus, JourneyStage, OutboxMessage, Severity
from storage.outbox import pending_message

NOW = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
AWKWARD = "NUL \x00, escape \ue000\ue001\ue002, emoji 🚨, quote \" \\ ', <!channel> & \r\n" * 3


def _item(key: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": ItemKind.ALARM,
        "status": ItemStatus.NEW,
        "text": AWKWARD,
        "customers": "Acme \x00 Ltd",
        "journey_stage": JourneyStage.GET_HELP,
        "severity": Severity.HIGH,
        "raiser_id": "U0RAISER",
        "anonymous": True,
        "route_id": None,
        "area": None,
        "grey_area": True,
        "routed_by": "none",
        "owner": "U0ADMIN1,U0ADMIN2",
        "channel": "C0TRIAGE",
        "source_channel": "C0SOURCE",
        "source_ts": "1700000000.000100",
        "intake_key": key,
        "created_at": NOW,
        "updated_at": NOW,
    }
    row.update(overrides)
    return row


def _rows(key: str, **overrides: Any) -> NewItemRows:
    event = {"kind": "filed", "actor": "U0RAISER", "at": NOW, "data": {"text": AWKWARD, "n": [1, None]}}
    messages = [
        pending_message("post_card", {}, now=NOW),
        pending_message("confirm_raiser", {"response_url": "https://hooks.example/r?a=1&b=ü"}, now=NOW),
    ]
    return NewItemRows(item=_item(key, **overrides), events=[event], messages=messages)


def _orm_write(session: Session, new: NewItemRows) -> int:
    item = Item(**new.item)
    session.add(item)
    session.flush()
    session.add_all(Event(item_id=item.id, **event) for event in new.events)
    session.flush()
    for message in new.messages:
        session.add(OutboxMessage(item_id=item.id, **message))
        session.flush()
    return item.id


def _stored(session: Session, model: type[Base], item_id: int) -> list[dict[str, Any]]:
    """Every column but the ids, of the rows about this item, as read back through the ORM."""
    query = select(model).where((model.id if model is Item else model.item_id) == item_id)  # type: ignore[attr-defined]
    rows = session.scalars(query.order_by(model.id)).all()  # type: ignore[attr-defined]
    skip = {"id", "item_id"}
    return [
        {c.key: getattr(row, c.key) for c in inspect(model).column_attrs if c.key not in skip} for row in rows
    ]


def test_a_batch_stores_what_the_orm_would_store(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        by_orm = _orm_write(session, _rows("orm"))
    with transaction(session_factory) as session:
        by_batch = insert_filed(connection=session.connection(), batch=[_rows("batch")])["batch"]
    with session_factory() as session:
        for model in (Item, Event, OutboxMessage):
            orm_rows, batch_rows = _stored(session, model, by_orm), _stored(session, model, by_batch)
            for row in orm_rows + batch_rows:
                row.pop("intake_key", None)
            assert batch_rows == orm_rows, model.__name__
        item = session.get(Item, by_batch)
        assert item is not None and item.text == AWKWARD and item.created_at == NOW


def test_stored_intake_keys_are_skipped_with_their_rows(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        first = insert_filed(connection=session.connection(), batch=[_rows("k1")])
    with transaction(session_factory) as session:
        second = insert_filed(connection=session.connection(), batch=[_rows("k1"), _rows("k2"), _rows("k3")])
    assert set(first) == {"k1"} and set(second) == {"k2", "k3"}
    with session_factory() as session:
        assert len(session.scalars(select(Item)).all()) == 3
        messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        events = session.scalars(select(Event).order_by(Event.id)).all()
    numbers = [first["k1"], second["k2"], second["k3"]]
    assert [e.item_id for e in events] == numbers
    # Each item's messages in the order given, the items in batch order.
    assert [(m.item_id, m.kind) for m in messages] == [
        (n, kind) for n in numbers for kind in ("post_card", "confirm_raiser")
    ]


def test_a_large_batch_is_stored_whole(session_factory: sessionmaker[Session]) -> None:
    """More items than SQLite takes in one INSERT's parameters."""
    batch = [_rows(f"k{n}", text=f"item {n}", created_at=NOW + timedelta(seconds=n)) for n in range(205)]
    with transaction(session_factory) as session:
        inserted = insert_filed(connection=session.connection(), batch=batch)
    assert len(inserted) == 205
    with session_factory() as session:
        items = session.scalars(select(Item).order_by(Item.id)).all()
        assert [item.text for item in items] == [f"item {n}" for n in range(205)]
        assert items[-1].created_at == NOW + timedelta(seconds=204)
        assert len(session.scalars(select(OutboxMessage)).all()) == 410


def test_a_failed_batch_stores_nothing(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    broken_rows = [_rows("k2", route_id=999)]  # no such route (foreign keys are on in both)
    if engine.dialect.name == "postgresql":
        broken_rows.append(_rows("k2", raiser_id="U" * 500))  # longer than the column
    for broken in broken_rows:
        with pytest.raises(Exception), transaction(session_factory) as session:  # noqa: B017, PT011
            insert_filed(connection=session.connection(), batch=[_rows("k1"), broken])
        with session_factory() as session:
            assert session.scalars(select(Item)).all() == []
            assert session.scalars(select(OutboxMessage)).all() == []


@pytest.fixture
def held_connections() -> Iterator[Callable[..., HeldConnection]]:
    """Makes held connections, and closes them all at the end of the test."""
    made: list[HeldConnection] = []

    def make(engine: Engine, *, idle_seconds: float = 3600) -> HeldConnection:
        made.append(HeldConnection(engine, idle_seconds=idle_seconds))
        return made[-1]

    yield make
    for held in made:
        held.close()


def test_a_held_connection_is_reused_until_it_idles(
    engine: Engine, held_connections: Callable[..., HeldConnection]
) -> None:
    """Kept across transactions, so no pool checkout (nor its liveness ping) each time; after
    idling, checked out afresh."""
    checkouts: list[object] = []
    event.listen(engine.pool, "checkout", lambda *_: checkouts.append(1))
    held, idling = held_connections(engine), held_connections(engine, idle_seconds=0)
    for _ in range(3):
        with held.transaction() as connection:
            connection.exec_driver_sql("SELECT 1")
    assert len(checkouts) == 1
    for _ in range(3):
        with idling.transaction() as connection:
            connection.exec_driver_sql("SELECT 1")
    assert len(checkouts) == 4


@pytest.mark.postgres
def test_a_held_connection_the_server_dropped_is_replaced(
    postgres_engine: Engine, held_connections: Callable[..., HeldConnection]
) -> None:
    held = held_connections(postgres_engine)
    with held.transaction() as connection:
        backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    url = postgres_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend])
    with pytest.raises(OperationalError), held.transaction() as connection:
        connection.exec_driver_sql("SELECT 1")
    with held.transaction() as connection:
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != backend


@pytest.mark.postgres
def test_a_held_postgresql_connection_commits_each_statement(
    postgres_engine: Engine, held_connections: Callable[..., HeldConnection]
) -> None:
    """Autocommit: what one statement wrote is visible to others at once, without a COMMIT."""
    with held_connections(postgres_engine).transaction() as connection:
        inserted = insert_filed(connection=connection, batch=[_rows("seen")])
        with postgres_engine.connect() as other:
            assert other.scalar(select(Item.id).where(Item.intake_key == "seen")) == inserted["seen"]


def test_a_held_connection_due_a_fresh_checkout_gets_it_in_an_idle_moment(
    engine: Engine, held_connections: Callable[..., HeldConnection]
) -> None:
    checkouts: list[object] = []
    event.listen(engine.pool, "checkout", lambda *_: checkouts.append(1))
    held = held_connections(engine, idle_seconds=10)
    held.refresh_if_idle(within=1)  # none held yet: check one out now
    assert len(checkouts) == 1
    held.refresh_if_idle(within=1)  # just checked out: nothing to do
    assert len(checkouts) == 1
    with held.transaction() as connection:
        connection.exec_driver_sql("SELECT 1")
    assert len(checkouts) == 1  # the transaction used the one checked out ahead
    held.refresh_if_idle(within=10)  # as good as idle for 10 s: swap it for a fresh one
    assert len(checkouts) == 2
    with held.transaction() as connection:
        connection.exec_driver_sql("SELECT 1")
    assert len(checkouts) == 2
