"""The digest's figures: plain values the digest's queries (storage/digest.py, storage/board.py)
return and its blocks (bot/blocks/digest.py, bot/blocks/home.py) show. No session code here, so
that rendering can't reach the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.models import Item, ItemKind


@dataclass(frozen=True)
class Flow:
    """How many items of a kind were raised, acknowledged, actioned and declined in a window."""

    raised: int = 0
    acknowledged: int = 0
    actioned: int = 0
    declined: int = 0


@dataclass(frozen=True)
class Speed:
    """Nearest-rank median and 90th percentile; None when nothing happened."""

    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class Recognition:
    user_id: str
    alarms: int


@dataclass(frozen=True)
class Window:
    flow: dict[ItemKind, Flow]
    to_acknowledge: Speed
    to_action: Speed
    # Distinct people who raised something or said "me too" to something in the window.
    people: int = 0


@dataclass(frozen=True)
class Verification:
    """What raisers said this week when asked "did this fix it?", in items: confirmed fixed,
    reopened because it is still happening, and unconfirmed (nobody answered within 7 days)."""

    fixed: int = 0
    reopened: int = 0
    unconfirmed: int = 0

    @property
    def settled(self) -> int:
        return self.fixed + self.reopened + self.unconfirmed

    @property
    def fixed_share(self) -> float | None:
        return self.fixed / self.settled if self.settled else None


@dataclass(frozen=True)
class Digest:
    start: datetime
    end: datetime
    this_week: Window
    last_week: Window
    past_sla: int
    oldest_past_sla: list[tuple[Item, datetime]]
    grey_came_in: int
    grey_resolved: int
    grey_unowned: int
    by_area: list[tuple[str | None, int, int]]
    by_stage: list[tuple[str | None, int, int]]
    credited: list[Recognition]
    top_ideas: list[tuple[Item, int]]
    verification: Verification = Verification()
