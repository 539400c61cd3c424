"""What handlers and jobs are given: settings, sessions, the clock, the outbox bell, group lookups."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.intake import Submission, Triage
from bot.permissions import MembersOf
from bot.settings import Settings


class Filing(Protocol):
    """Stores submissions: bot.filer.Filer on a thread, or bot.worker.FilingWorker in a process."""

    def file(self, submission: Submission, *, timeout: float | None = None) -> int: ...


@dataclass(frozen=True)
class Deps:
    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Clock
    wake_outbox: Callable[[], None]
    filer: Filing  # stores submissions, batching those that arrive together
    later: Executor  # work that goes on after a listener has answered Slack (a slow save's retries)
    members_of: MembersOf
    zone_of: Callable[[str], str]  # a user's Slack time zone, CX_TIMEZONE when unknown

    @property
    def triage(self) -> Triage:
        return Triage(channel=self.settings.triage_channel, admins=self.settings.admins)
