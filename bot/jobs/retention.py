"""Retention: once a day, when CX_RETENTION_DAYS is set, closed items older than that lose their
free text and their people (storage/privacy.py), a thousand items per short transaction. The day
is claimed first, so across replicas each day's purge runs once; one cut short carries on the next
day, where it left off."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from storage import jobs, privacy
from storage.db import transaction

log = logging.getLogger(__name__)

JOB = "retention"
BATCH = 1_000


@dataclass
class Purge:
    ran: bool
    period: str
    items: int = 0
    rows: Counter[str] = field(default_factory=Counter)  # rows changed, by table


def period_of(at: datetime, zone: str) -> str:
    """The day `at` falls on in CX_TIMEZONE: one purge a day."""
    return at.astimezone(ZoneInfo(zone)).date().isoformat()


def run_retention(
    session_factory: sessionmaker[Session], *, at: datetime, now: datetime, days: int, zone: str
) -> Purge:
    """Purge the items closed more than `days` days before `at`, once per day."""
    period = period_of(at, zone)
    with transaction(session_factory) as session:
        if not jobs.claim_period(session=session, job=JOB, period=period, now=now):
            log.info("retention for %s already ran; skipping", period)
            return Purge(ran=False, period=period)
    purge = Purge(ran=True, period=period)
    cutoff = at - timedelta(days=days)
    tombstones: dict[str, str] = {}
    while True:
        with transaction(session_factory) as session:
            ids = privacy.purgeable_items(session=session, closed_before=cutoff, limit=BATCH)
            if ids:
                purge.rows.update(
                    privacy.purge_items(session=session, ids=ids, now=now, tombstones=tombstones)
                )
        purge.items += len(ids)
        if len(ids) < BATCH:
            break
    with transaction(session_factory) as session:
        summary = {"items": purge.items, **purge.rows}
        jobs.record_summary(session=session, job=JOB, period=period, summary=summary)
    log.info(
        "retention for %s: purged %d items closed before %s (%s)",
        period,
        purge.items,
        cutoff.isoformat(),
        ", ".join(f"{count} {table}" for table, count in sorted(purge.rows.items())) or "nothing else",
    )
    return purge
