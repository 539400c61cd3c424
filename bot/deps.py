"""What handlers and jobs are given: settings, sessions, the clock, the outbox bell, and look-ups of
groups and people in Slack."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.items.permissions import MembersOf
from bot.routing.rules import Triage
from bot.settings import Settings
from bot.slack.directory import PeopleOf


@dataclass(frozen=True)
class Deps:
    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Clock
    wake_outbox: Callable[[], None]
    filing: Executor  # the threads that store submissions, so a listener can answer Slack in time
    members_of: MembersOf
    # User IDs -> each one's Slack time zone (CX_TIMEZONE when unknown) and whether deactivated.
    people_of: PeopleOf
    # The workspace's user groups, (ID, name), for forms that offer a group as owner.
    groups: Callable[[], list[tuple[str, str]]]
    # Slack says the token is revoked or the app uninstalled: the outbox stops and waits.
    token_refused: Callable[[str], None]

    @property
    def triage(self) -> Triage:
        return Triage(channel=self.settings.triage_channel, admins=self.settings.admins)
