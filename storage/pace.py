"""The slack_pace table: for each rate limit, when the next call against it may go.

Every replica reads and writes the same rows, so together they keep to one limit. On PostgreSQL
the rows are locked for the claim's transaction: two replicas taking a turn on one channel take
turns at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import SlackPace


def held_keys(*, session: Session, now: datetime) -> dict[str, datetime]:
    """The limits that have no room now, with when each has room again."""
    rows = session.execute(select(SlackPace.key, SlackPace.ready_at).where(SlackPace.ready_at > now))
    return {str(key): ready_at for key, ready_at in rows}


def lock(*, session: Session, keys: Iterable[str], fresh: datetime) -> dict[str, datetime]:
    """When each key is next ready, its row created (ready at `fresh`) if new, and locked
    (PostgreSQL) until the transaction ends, so that no other replica takes the same turn."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    dialect = session.get_bind().dialect.name
    rows = [{"key": key, "ready_at": fresh} for key in wanted]
    if dialect == "postgresql":
        session.execute(pg_insert(SlackPace).values(rows).on_conflict_do_nothing(index_elements=["key"]))
    elif dialect == "sqlite":
        session.execute(sqlite_insert(SlackPace).values(rows).on_conflict_do_nothing(index_elements=["key"]))
    else:  # pragma: no cover - cxbot runs on PostgreSQL and SQLite
        known = set(session.scalars(select(SlackPace.key).where(SlackPace.key.in_(wanted))))
        if missing := [row for row in rows if row["key"] not in known]:
            session.execute(insert(SlackPace), missing)
    query = select(SlackPace.key, SlackPace.ready_at).where(SlackPace.key.in_(wanted)).order_by(SlackPace.key)
    if dialect == "postgresql":
        query = query.with_for_update()
    return {str(key): ready_at for key, ready_at in session.execute(query)}


def save(*, session: Session, ready: Mapping[str, datetime]) -> None:
    for key, ready_at in ready.items():
        session.execute(update(SlackPace).where(SlackPace.key == key).values(ready_at=ready_at))


def hold_until(*, session: Session, key: str, until: datetime) -> None:
    """Nothing goes against `key` before `until` (Slack said 429 with a Retry-After)."""
    current = lock(session=session, keys=[key], fresh=until)
    if current[key] < until:
        save(session=session, ready={key: until})


def forget_idle(*, session: Session, before: datetime) -> int:
    """Drop the rows of limits unused since `before`: they hold nothing back."""
    result = session.execute(delete(SlackPace).where(SlackPace.ready_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
