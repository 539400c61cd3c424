"""Pacing: calling Slack no faster than its rate limits allow, counted across every replica.

Each queued message names the limit its call counts against (its pace_key):

- `post:<channel or person>`: chat.postMessage, about one a second per channel, plus the
  workspace-wide chat.postMessage limit (`method:chat.postMessage`), which Slack doesn't publish:
  CX_SLACK_POSTS_PER_MINUTE, 600 by default;
- `card:<item>`: one update a second to one card, plus chat.update's tier (`method:chat.update`);
- `home:<person>`: one App Home publish a second per person, plus views.publish's tier;
- `method:<name>`: a method's own tier (Slack's method reference: Tier 2 20+ a minute, Tier 3 50+,
  Tier 4 100+).

A limit is a GCRA ("generic cell rate algorithm") cell: one timestamp per limit, the earliest
moment its next call conforms, kept in the database (storage/pace.py) so that two replicas keep
to one limit between them. Why not a library: the well-kept ones (`limits`, `pyrate-limiter`)
keep their state in memory, Redis, Memcached or MongoDB, or in a table of their own reached over
a connection of their own; the turn a message takes has to commit or roll back with the claim of
that message, in the claim's own transaction, on PostgreSQL and SQLite alike.

We pace a little under Slack's figures, so that Slack rarely has to answer 429; when it does, the
limit it names is held for Retry-After, and only that limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.clock import Clock, system_clock
from storage import outbox as queue
from storage import pace
from storage.models import OutboxMessage

WORKSPACE_POSTS = "method:chat.postMessage"
DEFAULT_POSTS_PER_MINUTE = 600
# Changes to one card (or one App Home) within this long after the first go out as one call.
GATHER = timedelta(seconds=1)
# How many messages a claim looks at for each it may take: enough to see past a held channel.
LOOK_AHEAD = 4
_LONG_AGO = timedelta(days=1)
# A limit unused this long holds nothing back: its row is dropped, every so often.
_IDLE = timedelta(hours=1)
_TIDY_EVERY = timedelta(minutes=10)
_SHORTEST_WAIT = 0.05
_LONGEST_WAIT = 1.0


@dataclass(frozen=True)
class Rate:
    """`burst` calls at once, then one every `interval`."""

    interval: timedelta
    burst: int = 1

    @classmethod
    def per_minute(cls, calls: float, *, burst: int = 1) -> Rate:
        return cls(timedelta(seconds=60.0 / calls), burst)

    def after_call(self, ready_at: datetime, now: datetime) -> datetime:
        """When the next call conforms, after one at `now` (which conformed: ready_at <= now)."""
        return max(ready_at, now - (self.burst - 1) * self.interval) + self.interval


# Slack's tiers, a little under their figures. Methods not listed are taken as Tier 3.
_TIER_RATES = {
    2: Rate.per_minute(18, burst=3),
    3: Rate.per_minute(45, burst=5),
    4: Rate.per_minute(90, burst=8),
}
METHOD_TIERS = {
    "users.list": 2,
    "usergroups.users.list": 2,
    "chat.update": 3,
    "conversations.open": 3,
    "conversations.join": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "users.info": 4,
    "views.publish": 4,
    "chat.getPermalink": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
# The method limit a per-channel, per-card or per-person limit sits under.
_IMPLIED = {"post": WORKSPACE_POSTS, "card": "method:chat.update", "home": "method:views.publish"}
_ONE_A_SECOND = Rate(timedelta(seconds=1))
_CHANNEL = Rate(timedelta(seconds=1), burst=2)


def post_key(channel_or_person: str) -> str:
    return f"post:{channel_or_person}"


def card_key(item_id: int) -> str:
    return f"card:{item_id}"


def home_key(person: str) -> str:
    return f"home:{person}"


def method_key(method: str) -> str:
    return f"method:{method}"


def key_for_refusal(method: str, channel: str | None) -> str:
    """The limit a 429 from `method` (posting to `channel`) is about."""
    if method == "chat.postMessage" and channel:
        return post_key(channel)
    return method_key(method)


@dataclass(frozen=True)
class Claimed:
    messages: list[OutboxMessage]
    # When something held back by a limit may go, in seconds from now; None if nothing is.
    wait: float | None = None


@dataclass
class Pacer:
    posts_per_minute: int = DEFAULT_POSTS_PER_MINUTE
    wall: Clock = system_clock  # Slack counts in real time, whatever the app's clock says
    gather: timedelta = GATHER
    _rates: dict[str, Rate] = field(init=False)
    _tidied_at: datetime | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._rates = {WORKSPACE_POSTS: Rate.per_minute(self.posts_per_minute, burst=10)}

    def limits_of(self, pace_key: str | None) -> list[str]:
        """Every limit a message with this pace_key counts against."""
        if pace_key is None:
            return []
        kind, _, _ = pace_key.partition(":")
        implied = _IMPLIED.get(kind)
        return [pace_key, implied] if implied else [pace_key]

    def rate_of(self, key: str) -> Rate:
        if key in self._rates:
            return self._rates[key]
        kind, _, name = key.partition(":")
        if kind == "post":
            return _CHANNEL
        if kind in {"card", "home"}:
            return _ONE_A_SECOND
        return _TIER_RATES[METHOD_TIERS.get(name, 3)]

    def claim(self, session: Session, *, now: datetime, lease: timedelta, limit: int) -> Claimed:
        """Claim up to `limit` due messages, most urgent first, each taking its turn at every limit
        it counts against. A message whose limit has no room waits; one behind it that has room
        (a DM behind a busy channel's cards) goes."""
        wall = self.wall()
        self._tidy(session, wall)
        held = pace.held_keys(session=session, now=wall)
        candidates = queue.due_candidates(
            session=session,
            now=now,
            held=queue.Held(frozenset(held), all_posts=WORKSPACE_POSTS in held, gather=self.gather),
            limit=limit * LOOK_AHEAD,
        )
        # A limit not held now has room: a message none of whose limits is held may go. Only if
        # one may are the limits locked and written (a pass that sends nothing writes nothing).
        free = [m for m in candidates if not any(key in held for key in self.limits_of(m.pace_key))]
        if not free:
            waiting = self._held_waiting(session, held, now=now)
            return Claimed([], wait=self._wait(waiting, wall) if waiting else None)
        ready = pace.lock(
            session=session,
            keys={key for message in free for key in self.limits_of(message.pace_key)},
            fresh=wall - _LONG_AGO,
        )
        taken = self._take_turns(free, ready, wall=wall, limit=limit)
        pace.save(session=session, ready={key: ready[key] for key in taken.keys_used})
        queue.claim(session=session, messages=taken.messages, now=now, lease=lease)
        if taken.messages:
            return Claimed(taken.messages)  # the dispatcher comes straight back for more
        waiting = [ready[key] for key in taken.keys_full] + self._held_waiting(session, held, now=now)
        return Claimed(taken.messages, wait=self._wait(waiting, wall) if waiting else None)

    def _tidy(self, session: Session, wall: datetime) -> None:
        """Drop the rows of limits long unused (one per person DMed, say), now and then."""
        if self._tidied_at is None or wall - self._tidied_at >= _TIDY_EVERY:
            pace.forget_idle(session=session, before=wall - _IDLE)
            self._tidied_at = wall

    def _held_waiting(self, session: Session, held: dict[str, datetime], *, now: datetime) -> list[datetime]:
        """When the limits that held due messages back this pass have room again, and when the
        first card update (or App Home) gathering changes will have gathered."""
        moments: list[datetime] = []
        if held:
            # A held method limit holds every message whose limits imply it (each card's updates
            # count against chat.update's): those wait for it too.
            implied = {f"{kind}:": key for kind, key in _IMPLIED.items() if key in held}
            waiting = queue.pace_keys_waiting(
                session=session, now=now, keys=list(held), prefixes=list(implied)
            )
            moments += [held[key] for key in waiting if key in held]
            moments += [
                held[key] for prefix, key in implied.items() if any(w.startswith(prefix) for w in waiting)
            ]
        gathered = queue.gathered_at(session=session, now=now, gather=self.gather)
        if gathered is not None:
            moments.append(self.wall() + (gathered - now))
        return moments

    def _take_turns(
        self, candidates: Sequence[OutboxMessage], ready: dict[str, datetime], *, wall: datetime, limit: int
    ) -> _Turns:
        turns = _Turns()
        for message in candidates:
            keys = self.limits_of(message.pace_key)
            full = [key for key in keys if ready[key] > wall]
            if full:
                turns.keys_full.update(full)
                continue
            for key in keys:
                ready[key] = self.rate_of(key).after_call(ready[key], wall)
            turns.keys_used.update(keys)
            turns.messages.append(message)
            if len(turns.messages) == limit:
                break
        return turns

    def hold(self, session: Session, *, key: str, seconds: float) -> None:
        """Slack answered 429: nothing goes against `key` for Retry-After seconds."""
        pace.hold_until(session=session, key=key, until=self.wall() + timedelta(seconds=seconds))

    @staticmethod
    def _wait(moments: Sequence[datetime], wall: datetime) -> float:
        soonest = (min(moments) - wall).total_seconds()
        return min(max(soonest, _SHORTEST_WAIT), _LONGEST_WAIT)


@dataclass
class _Turns:
    messages: list[OutboxMessage] = field(default_factory=list)
    keys_used: set[str] = field(default_factory=set)
    keys_full: set[str] = field(default_factory=set)
