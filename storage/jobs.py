"""Claiming a scheduled job's period, and the queries the nag sweep runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.items import OpenItem
from storage.models import (
    OPEN_STATUSES,
    Item,
    ItemKind,
    ItemStatus,
    JobRun,
    Route,
    Severity,
)

_ITEMS = cast(Table, Item.__table__)
_IN_CHUNK = 900  # ids per `IN (...)`: under SQLite's oldest limit of 999 bound parameters


def claim_period(*, session: Session, job: str, period: str, now: datetime) -> bool:
    """Claim (job, period) in the caller's transaction, which does the job's work: True for exactly
    one transaction per pair, whichever replica or command commits first. The claim commits with
    the work, or neither does (a crash in between loses no week's digest). A second claimer waits
    for the first to finish (PostgreSQL's unique index, SQLite's write lock), then gets False; if
    the first rolled back, it gets True."""
    dialect = session.get_bind().dialect.name
    insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert_into(JobRun)
        .values(job=job, period=period, started_at=now)
        .on_conflict_do_nothing(index_elements=["job", "period"])
        .returning(JobRun.job)
    )
    return session.scalar(statement) is not None


def already_ran(*, session: Session, job: str, period: str) -> bool:
    """Whether (job, period) was claimed by a committed run: to skip work early; only
    claim_period decides."""
    return session.get(JobRun, (job, period)) is not None


def record_summary(*, session: Session, job: str, period: str, summary: dict[str, Any]) -> None:
    session.execute(update(JobRun).where(JobRun.job == job, JobRun.period == period).values(summary=summary))


def summary_of(*, session: Session, job: str, period: str) -> dict[str, Any] | None:
    """What the run of `job` for `period` recorded, if it ran and recorded anything."""
    return session.scalar(select(JobRun.summary).where(JobRun.job == job, JobRun.period == period))


def last_period(*, session: Session, job: str) -> JobRun | None:
    return session.scalar(select(JobRun).where(JobRun.job == job).order_by(JobRun.started_at.desc()).limit(1))


def routes_by_id(*, session: Session) -> dict[int, Route]:
    return {route.id: route for route in session.scalars(select(Route))}


def open_owners(*, session: Session) -> list[tuple[str, int | None]]:
    """Each distinct (owner, route_id) among open items that aren't grey areas (the CX leads own
    those)."""
    query = (
        select(Item.owner, Item.route_id)
        .where(Item.status.in_(OPEN_STATUSES), Item.grey_area.is_(False))
        .distinct()
    )
    return [(owner, route_id) for owner, route_id in session.execute(query)]


def open_items_owned_by(*, session: Session, owners: Sequence[str]) -> list[Item]:
    """Open items that aren't grey areas, owned by one of `owners` (each as stored), oldest first;
    locked for this transaction on PostgreSQL (SQLite's BEGIN IMMEDIATE already is)."""
    query = select(Item).where(Item.status.in_(OPEN_STATUSES), Item.grey_area.is_(False))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    distinct = sorted(set(owners))
    found = [
        item
        for start in range(0, len(distinct), _IN_CHUNK)
        for item in session.scalars(query.where(Item.owner.in_(distinct[start : start + _IN_CHUNK])))
    ]
    return sorted(found, key=lambda item: (item.created_at, item.id))


def nag_candidates(
    *,
    session: Session,
    now: datetime,
    alarm: timedelta,
    high: timedelta,
    critical: timedelta,
    idea: timedelta,
    acknowledged: timedelta,
    among: Sequence[int] | None = None,
) -> list[OpenItem]:
    """Open, unsnoozed items that may be due for a nag at `now`, oldest first, given the shortest
    staleness period of each kind across every policy in force (bot.items.sla.shortest). Only a filter
    in front of bot.items.sla.due_for_nag, which decides: it mirrors bot.items.sla.stale_period and
    waiting_since, and leaves out only items that are not yet stale, or were nagged within the
    period, under even the shortest periods. `among`: look only at these items (to check again
    that what an earlier read found is still due)."""

    def waited(period: timedelta, since: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
        cutoff = now - period
        return and_(since <= cutoff, or_(Item.last_nagged_at.is_(None), Item.last_nagged_at <= cutoff))

    new, alarm_kind = Item.status == ItemStatus.NEW, Item.kind != ItemKind.IDEA
    created = Item.created_at
    query = (
        select(*(getattr(Item, name) for name in OpenItem._fields))
        .where(
            or_(
                and_(
                    Item.status == ItemStatus.ACKNOWLEDGED,
                    or_(
                        waited(acknowledged, Item.acknowledged_at),
                        and_(Item.acknowledged_at.is_(None), waited(acknowledged, created)),
                    ),
                ),
                and_(new, Item.kind == ItemKind.IDEA, waited(idea, created)),
                and_(new, alarm_kind, Item.severity == Severity.CRITICAL, waited(critical, created)),
                and_(new, alarm_kind, Item.severity == Severity.HIGH, waited(high, created)),
                and_(
                    new,
                    alarm_kind,
                    or_(Item.severity.is_(None), Item.severity.not_in((Severity.CRITICAL, Severity.HIGH))),
                    waited(alarm, created),
                ),
            ),
            or_(Item.snoozed_until.is_(None), Item.snoozed_until <= now),
        )
        .order_by(Item.created_at, Item.id)
    )
    if among is None:
        return [OpenItem._make(row) for row in session.execute(query)]
    ids = sorted(set(among))
    found = [
        OpenItem._make(row)
        for start in range(0, len(ids), _IN_CHUNK)
        for row in session.execute(query.where(Item.id.in_(ids[start : start + _IN_CHUNK])))
    ]
    return sorted(found, key=lambda candidate: (candidate.created_at, candidate.id))


def mark_nagged(*, session: Session, counts: dict[int, int], at: datetime) -> None:
    """Set each item's nag_count to the given count and last_nagged_at to `at`: one UPDATE per
    distinct count (and per chunk of ids)."""
    by_count: dict[int, list[int]] = defaultdict(list)
    for item_id, count in counts.items():
        by_count[count].append(item_id)
    for count, ids in sorted(by_count.items()):
        _update_each(session, ids, nag_count=count, last_nagged_at=at)


def mark_escalated(*, session: Session, ids: Sequence[int], at: datetime) -> None:
    _update_each(session, ids, escalated_at=at)


def _update_each(session: Session, ids: Sequence[int], **values: Any) -> None:
    connection = session.connection()
    ordered = sorted(ids)
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start : start + _IN_CHUNK]
        connection.execute(update(_ITEMS).where(_ITEMS.c.id.in_(chunk)).values(**values))
