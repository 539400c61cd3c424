"""What handlers and jobs are given: settings, the session factory, the clock and the outbox bell."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.intake import Triage
from bot.settings import Settings


@dataclass(frozen=True)
class Deps:
    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Clock
    wake_outbox: Callable[[], None]

    @property
    def triage(self) -> Triage:
        return Triage(channel=self.settings.triage_channel, admins=self.settings.admins)
