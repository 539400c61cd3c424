"""Claiming a scheduled job's period, and the queries the nag sweep runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction
from storage.models import Item, ItemStatus, JobRun, Route


def claim_period(session_factory: sessionmaker[Session], *, job: str, period: str, now: datetime) -> bool:
    """True for exactly one caller per (job, period), whichever replica or command asks first.
    Committed at once, so a second caller sees it even while the first is still working."""
    try:
        with transaction(session_factory) as session:
            if session.get(JobRun, (job, period)) is not None:
                return False
            session.add(JobRun(job=job, period=period, started_at=now))
    except IntegrityError:
        return False
    return True


def record_summary(*, session: Session, job: str, period: str, summary: dict[str, Any]) -> None:
    run = session.get(JobRun, (job, period))
    if run is not None:
        run.summary = summary


def last_period(*, session: Session, job: str) -> JobRun | None:
    return session.scalar(select(JobRun).where(JobRun.job == job).order_by(JobRun.started_at.desc()).limit(1))


def open_unsnoozed(*, session: Session, now: datetime) -> list[Item]:
    """Open items that aren't snoozed: the only ones that can be due for a nag."""
    query = (
        select(Item)
        .where(
            Item.status.in_((ItemStatus.NEW, ItemStatus.ACKNOWLEDGED)),
            or_(Item.snoozed_until.is_(None), Item.snoozed_until <= now),
        )
        .order_by(Item.created_at)
    )
    return list(session.scalars(query))


def routes_by_id(*, session: Session) -> dict[int, Route]:
    return {route.id: route for route in session.scalars(select(Route))}


def snoozed(*, session: Session, now: datetime) -> list[Item]:
    query = select(Item).where(
        Item.status.in_((ItemStatus.NEW, ItemStatus.ACKNOWLEDGED)), Item.snoozed_until > now
    )
    return list(session.scalars(query))
