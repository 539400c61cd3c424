"""The digest's figures: plain values the digest's queries (storage/digest.py, storage/board.py)
return and its blocks (bot/blocks/digest.py, bot/blocks/home.py) show. No session code here, so
that rendering can't reach the database."""

from __future__ import annotations

from dataclasses import dataclass, field
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
class Loop:
    """Whether the loop closes for the raisers of the week's items. `heard`: time from raising to
    the raiser's first outcome (acknowledged, actioned or declined). `within_sla` of `decided`:
    those who heard before their item would have gone stale, of those who heard or whose SLA ran
    out. `outside` of `countable`: alarms raised by someone outside the owning team (not the
    owner, nor in the owner user group), of the alarms whose owner is one person or one group."""

    heard: Speed = Speed(median=None, p90=None)
    within_sla: int = 0
    decided: int = 0
    outside: int = 0
    countable: int = 0

    @property
    def within_sla_share(self) -> float | None:
        return self.within_sla / self.decided if self.decided else None

    @property
    def outside_share(self) -> float | None:
        return self.outside / self.countable if self.countable else None


@dataclass(frozen=True)
class Week:
    """One week of the chart: its start, items raised and actioned in it, and the median hours to
    acknowledge and to action of the items first acknowledged (actioned) in it."""

    start: datetime
    raised: int = 0
    actioned: int = 0
    ack_hours: float | None = None
    action_hours: float | None = None
    # Of the raisers of the week's items whose SLA ran out or who heard, the share who heard an
    # outcome within it (None: nobody to count).
    heard_within_sla: float | None = None


@dataclass(frozen=True)
class Series:
    """What the digest's chart shows: the last 12 weeks, oldest first, and the items open at the
    end by journey stage (None: not given), as (stage, with an owner, grey areas)."""

    weeks: list[Week]
    open_by_stage: list[tuple[str | None, int, int]]


@dataclass(frozen=True)
class PastSla:
    """Open items past their SLA in one area (None: grey areas), and how overdue the oldest is."""

    area: str | None
    count: int
    oldest: timedelta


@dataclass(frozen=True)
class CreditedFix:
    """An item raised by someone who may be named, that led to a fix this week."""

    item_id: int
    raiser_id: str
    text: str


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
    loop: Loop = Loop()
    past_sla_by_area: list[PastSla] = field(default_factory=list)
    credited_fix: CreditedFix | None = None
    series: Series | None = None
    # What opens the digest: at most three of "past_sla", "reopened", "grey", "fix", in order
    # (bot/jobs/headline.py chooses them).
    headline: tuple[str, ...] = ()
