"""The scheduled jobs: the nag sweep every CX_NAG_INTERVAL_MINUTES and the digest on CX_DIGEST_CRON
in CX_TIMEZONE, as plain functions of their dependencies (`sweep`, `post_digest`), which both
APScheduler inside `cxbot run` and `cxbot jobs run` call. Each run claims its period in the
database, so with several replicas each period runs once; after downtime a missed digest runs
once, at start."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.deps import Deps
from bot.jobs.digest import JOB as DIGEST_JOB
from bot.jobs.digest import run_digest
from bot.jobs.nag import SweepResult, run_nag_sweep
from bot.jobs.retention import Purge, run_retention
from bot.jobs.roundup import run_roundup
from bot.jobs.verify import run_verify_sweep
from bot.ops import metrics
from bot.settings import RETENTION_CRON
from storage.jobs import last_period

log = logging.getLogger(__name__)

_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday at midnight: sweeps land on round times


def sweep(deps: Deps, *, at: datetime | None = None) -> SweepResult:
    """The nag sweep, as if the time were `at` (default now), and with it the verify sweep ("did
    this fix it?")."""
    now = deps.clock()
    started = time.perf_counter()
    interval = timedelta(minutes=deps.settings.nag_interval_minutes)
    result = run_nag_sweep(
        deps.session_factory,
        at=at or now,
        now=now,
        interval=interval,
        admins=deps.settings.admins,
        members_of=deps.members_of,
        people_of=deps.people_of,
    )
    _ran("nag", ran=result.ran, started=started)
    started = time.perf_counter()
    verified = run_verify_sweep(
        deps.session_factory, at=at or now, now=now, interval=interval, people_of=deps.people_of
    )
    _ran("verify", ran=verified.ran, started=started)
    deps.wake_outbox()
    return result


def post_digest(deps: Deps, *, at: datetime | None = None) -> bool:
    """The digest for the week ending `at` (default now); whether it ran."""
    now = deps.clock()
    started = time.perf_counter()
    ran = run_digest(
        deps.session_factory,
        at=at or now,
        now=now,
        channel=deps.settings.digest_channel,
        zone=deps.settings.timezone,
        members_of=deps.members_of,
    )
    _ran("digest", ran=ran, started=started)
    deps.wake_outbox()
    return ran


def post_roundup(deps: Deps, *, at: datetime | None = None) -> bool:
    """The "you said, we did" roundup for the month ending `at` (default now); whether it ran."""
    now = deps.clock()
    started = time.perf_counter()
    ran = run_roundup(deps.session_factory, at=at or now, now=now, channel=deps.settings.roundup_channel)
    _ran("roundup", ran=ran, started=started)
    deps.wake_outbox()
    return ran


def scheduled_roundup(deps: Deps) -> bool:
    """The roundup for the fire time just passed, so every replica names the same period."""
    trigger = CronTrigger.from_crontab(deps.settings.roundup_cron, timezone=deps.settings.zone)
    moment = last_fire_time(trigger, deps.clock())
    return post_roundup(deps, at=moment) if moment is not None else False


def purge(deps: Deps, *, at: datetime | None = None) -> Purge:
    """Retention's purge for the day of `at` (default now). Only called when CX_RETENTION_DAYS is
    set."""
    days = deps.settings.retention_days
    assert days is not None, "retention runs only when CX_RETENTION_DAYS is set"
    now = deps.clock()
    started = time.perf_counter()
    result = run_retention(
        deps.session_factory, at=at or now, now=now, days=days, zone=deps.settings.timezone
    )
    _ran("retention", ran=result.ran, started=started)
    return result


def scheduled_purge(deps: Deps) -> bool:
    return purge(deps).ran


def _ran(job: str, *, ran: bool, started: float) -> None:
    metrics.JOB_RUNS.labels(job, "ran" if ran else "skipped").inc()
    if ran:
        metrics.JOB_SECONDS.labels(job).observe(time.perf_counter() - started)


def digest_trigger(deps: Deps) -> CronTrigger:
    return CronTrigger.from_crontab(deps.settings.digest_cron, timezone=deps.settings.zone)


def last_fire_time(
    trigger: CronTrigger, now: datetime, *, lookback: timedelta = timedelta(days=35)
) -> datetime | None:
    """The latest moment at or before `now` that the trigger fires."""
    previous: datetime | None = None
    moment = trigger.get_next_fire_time(None, now - lookback)
    while moment is not None and moment <= now:
        previous = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return previous


def scheduled_digest(deps: Deps) -> bool:
    """The digest for the fire time just passed, so every replica names the same period."""
    moment = last_fire_time(digest_trigger(deps), deps.clock())
    return post_digest(deps, at=moment) if moment is not None else False


def make_scheduler(deps: Deps) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=deps.settings.zone)
    options = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    scheduler.add_job(
        sweep,
        IntervalTrigger(minutes=deps.settings.nag_interval_minutes, start_date=_EPOCH),
        args=[deps],
        id="nag",
        name="nag sweep",
        **options,
    )
    scheduler.add_job(
        scheduled_digest, digest_trigger(deps), args=[deps], id="digest", name="digest", **options
    )
    scheduler.add_job(
        scheduled_roundup,
        CronTrigger.from_crontab(deps.settings.roundup_cron, timezone=deps.settings.zone),
        args=[deps],
        id="roundup",
        name="you said, we did",
        **options,
    )
    if deps.settings.retention_days is not None:
        scheduler.add_job(
            scheduled_purge,
            CronTrigger.from_crontab(RETENTION_CRON, timezone=deps.settings.zone),
            args=[deps],
            id="retention",
            name="retention",
            **options,
        )
    return scheduler


def catch_up(deps: Deps) -> bool:
    """Run the digest missed while no replica was running, once. A fresh install, which never
    posted a digest, waits for its first scheduled time instead."""
    with deps.session_factory() as session:
        previous = last_period(session=session, job=DIGEST_JOB)
    if previous is None:
        return False
    return scheduled_digest(deps)


def start_scheduler(deps: Deps) -> BackgroundScheduler:
    """Start the jobs, first catching up a digest missed while no replica was running."""
    try:
        catch_up(deps)
    except Exception:
        log.exception("catching up the digest failed; the schedule goes on")
    scheduler = make_scheduler(deps)
    scheduler.start()
    log.info(
        "scheduler started: nag sweep every %d min, digest on %r (%s)",
        deps.settings.nag_interval_minutes,
        deps.settings.digest_cron,
        deps.settings.timezone,
    )
    return scheduler
