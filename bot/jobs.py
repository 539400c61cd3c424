"""The scheduled jobs as plain functions of their dependencies: the scheduler inside `cxbot run` and
`cxbot jobs run` both call these."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.deps import Deps
from bot.digest import run_digest
from bot.nag import SweepResult, run_nag_sweep


def nag(deps: Deps, *, at: datetime | None = None) -> SweepResult:
    now = deps.clock()
    result = run_nag_sweep(
        deps.session_factory,
        at=at or now,
        now=now,
        interval=timedelta(minutes=deps.settings.nag_interval_minutes),
        admins=deps.settings.admins,
        members_of=deps.members_of,
        zone_of=deps.zone_of,
    )
    deps.wake_outbox()
    return result


def digest(deps: Deps, *, at: datetime | None = None) -> bool:
    now = deps.clock()
    ran = run_digest(
        deps.session_factory,
        at=at or now,
        now=now,
        channel=deps.settings.digest_channel,
        zone=deps.settings.timezone,
    )
    deps.wake_outbox()
    return ran
