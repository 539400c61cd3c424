"""A year of cxbot at scale, generated deterministically and loaded with fast bulk SQL.

N items raised evenly over the 365 days before `at` (1,000,000 is ~2,700 a day), with:

- 1 % **stale and open** (raised 8 to 60 days before `at`): new alarms and ideas, and items
  acknowledged more than 7 days ago; owned by `owners` distinct people (2,000 at 1M items),
  none a grey area, none snoozed. Half were nagged once or twice before, long enough ago to be due
  again; 1 % have had 3 nags and escalate now.
- 1 % **open but not yet stale** (raised in the last 6 days): new low/medium alarms under 20 h
  old, new ideas, and items acknowledged since they were raised; some are grey areas owned by
  the CX leads.
- the rest **closed**: 60 % actioned (70 % of those led to action and were credited), 22 %
  declined, 10 % duplicates, 8 % withdrawn; most were acknowledged first.

Events as cxbot writes them: `filed` for every item, `reassigned` for grey areas given an owner,
`acknowledged`, `actioned`, `declined`, `duplicate`, `withdrawn`, `nagged`; and upvotes (with
their `vote` events) on a third of the ideas. All routes use the default stale policy, so the
expected stale set is known exactly.

Loaded after `storage.schema.migrate(engine)` into the migrated tables: SQLite with executemany in
one transaction, PostgreSQL with COPY (psycopg), then ANALYZE on PostgreSQL (as autovacuum would
have done on a table that grew over a year).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from benchmarks.common import libpq_url, log
from storage.db import make_engine
from storage.schema import migrate

AT = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday, 10:00 UTC: everyone's working hours
SPAN = timedelta(days=365)
CHUNK = 20_000
ADMINS = ("U0ADMIN1", "U0ADMIN2")
ROUTES = 20
ESCALATE_TO = tuple(f"U0ESC{n:02d}" for n in range(1, ROUTES + 1))  # each route's, in order
STAGES = ("discover", "buy", "onboard", "use", "get_help", "renew", "leave")

ITEM_COLUMNS = (
    "id", "kind", "status", "text", "customers", "journey_stage", "severity", "raiser_id", "anonymous",
    "route_id", "area", "grey_area", "routed_by", "owner", "channel", "card_ts", "source_channel",
    "source_ts", "source_permalink", "intake_key", "created_at", "updated_at", "acknowledged_at",
    "closed_at", "acted_by", "resolution", "led_to_action", "duplicate_of_id", "credit", "credited_at",
    "nag_count", "last_nagged_at", "escalated_at", "snoozed_until", "snooze_count",
)  # fmt: skip
EVENT_COLUMNS = ("id", "item_id", "kind", "actor", "at", "data")
VOTE_COLUMNS = ("item_id", "voter_id", "at")
ROUTE_COLUMNS = (
    "id",
    "area",
    "owner",
    "channel",
    "keywords",
    "escalate_to",
    "position",
    "active",
    "updated_at",
)


@dataclass
class Plan:
    """Which items are stale and which are open-but-fresh; what the sweep should find."""

    items: int
    owners: int
    seed: int = 20261118
    stale: set[int] = field(default_factory=set)
    fresh: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        n = self.items
        n_stale, n_fresh = n // 100, n // 100

        def ids_created_between(older: timedelta, newer: timedelta) -> range:
            first = max(1, self.id_at(AT - older))
            last = min(n, self.id_at(AT - newer))
            return range(first, last + 1)

        stale_window = ids_created_between(timedelta(days=60), timedelta(days=8))
        fresh_window = ids_created_between(timedelta(days=6), timedelta(minutes=5))
        if len(stale_window) < n_stale or len(fresh_window) < n_fresh:
            raise ValueError(f"{n} items are too few to plan 1 % stale and 1 % fresh open items")
        self.stale = set(rng.sample(stale_window, n_stale))
        self.fresh = set(rng.sample(fresh_window, n_fresh))
        if self.owners > n_stale:
            raise ValueError(f"can't spread {n_stale} stale items over {self.owners} owners")

    def created_at(self, item_id: int) -> datetime:
        return AT - SPAN + SPAN * ((item_id - 0.5) / self.items)

    def id_at(self, moment: datetime) -> int:
        return int((moment - (AT - SPAN)) / SPAN * self.items + 0.5)

    def stale_owner(self, rank: int) -> str:
        return f"U0STL{rank % self.owners:05d}"


@dataclass
class Expectation:
    stale_items: int = 0
    stale_owners: set[str] = field(default_factory=set)
    escalating: int = 0
    events: int = 0
    votes: int = 0
    open_items: int = 0


def _route(rng: random.Random) -> int:
    return rng.randrange(1, ROUTES + 1)


def generate(
    plan: Plan, expect: Expectation
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Yield (items, events, votes) rows in chunks, ids ascending; fills in `expect`."""
    rng = random.Random(plan.seed + 1)
    event_id = 0
    stale_rank = 0
    items: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    votes: list[tuple[Any, ...]] = []

    def event(item_id: int, kind: str, actor: str, at: datetime | None, data: dict[str, Any]) -> None:
        nonlocal event_id
        assert at is not None
        event_id += 1
        events.append((event_id, item_id, kind, actor, at, json.dumps(data)))

    for item_id in range(1, plan.items + 1):
        created = plan.created_at(item_id)
        kind = "idea" if rng.random() < 0.2 else "alarm"
        severity = None
        if kind == "alarm":
            severity = rng.choices((None, "low", "medium", "high", "critical"), (30, 20, 30, 15, 5))[0]
        stage = rng.choice(STAGES) if rng.random() < 0.7 else None
        raiser = f"U0RSR{rng.randrange(20_000):05d}"
        anonymous = rng.random() < 0.05
        route_id: int | None = _route(rng)
        grey_origin = rng.random() < 0.08
        grey_now = False
        owner = f"U0OWN{rng.randrange(5_000):05d}"
        acknowledged_at = closed_at = credited_at = last_nagged_at = escalated_at = None
        acted_by = resolution = led_to_action = duplicate_of = None
        credit = "none"
        nag_count = 0
        status: str
        reassigned_at: datetime | None = None

        if item_id in plan.stale:
            # Stale for the default policy, by a wide margin, and due for a nag at AT.
            grey_origin = False
            owner = plan.stale_owner(stale_rank)
            stale_rank += 1
            expect.stale_items += 1
            expect.stale_owners.add(owner)
            if rng.random() < 0.2:
                status = "acknowledged"
                acknowledged_at = created + (AT - timedelta(days=7, hours=1) - created) * rng.random()
                period = timedelta(days=7)
                waiting_since = acknowledged_at
            else:
                status = "new"
                period = {
                    "idea": timedelta(days=7),
                    "high": timedelta(hours=8),
                    "critical": timedelta(hours=2),
                }.get(kind if kind == "idea" else str(severity), timedelta(hours=24))
                waiting_since = created
            roll = rng.random()
            if roll < 0.01:
                nag_count = 3
            elif roll < 0.5:
                nag_count = rng.choice((1, 2))
            if nag_count:
                # Nagged long enough ago to be due again, and after the item went stale.
                earliest = waiting_since + period
                latest = AT - period
                last_nagged_at = earliest + (latest - earliest) * rng.random() if latest > earliest else None
                if last_nagged_at is None:
                    nag_count = 0
            if nag_count >= 3:
                expect.escalating += 1
            expect.open_items += 1
        elif item_id in plan.fresh:
            age = AT - created
            if kind == "alarm" and age < timedelta(hours=20):
                status = "new"
                severity = rng.choice((None, "low", "medium"))
            elif kind == "idea" and rng.random() < 0.6:
                status = "new"
            else:
                status = "acknowledged"
                acknowledged_at = created + (AT - created) * rng.random() * 0.9
            if grey_origin and rng.random() < 0.5:
                grey_now = True
            expect.open_items += 1
        else:
            close_roll = rng.random()
            if close_roll < 0.60:
                status = "actioned"
            elif close_roll < 0.82:
                status = "declined"
            elif close_roll < 0.92:
                status = "duplicate"
            else:
                status = "withdrawn"
            remaining = AT - created
            if status in {"actioned", "declined"} and rng.random() < 0.85:
                acknowledged_at = created + min(timedelta(hours=rng.expovariate(1 / 4)), remaining * 0.3)
            start = acknowledged_at or created
            closed_at = start + min(timedelta(days=rng.expovariate(1 / 2)), (AT - start) * 0.9)
            if status == "actioned":
                acted_by = owner
                resolution = "Fixed the flow and told the customer"
                led_to_action = rng.random() < 0.7
                if led_to_action:
                    credit = "posted" if not anonymous or rng.random() < 0.5 else "declined"
                    credited_at = closed_at if credit == "posted" else None
            elif status == "declined":
                acted_by = owner
                resolution = "Works as designed; explained to the customer"
            elif status == "duplicate" and item_id > 1:
                duplicate_of = rng.randrange(max(1, item_id - 5_000), item_id)
            if grey_origin and rng.random() < 0.25:
                grey_now = True

        if grey_origin and not grey_now:
            # A grey area a CX lead handed to an owner before anything else happened to it.
            first_change = acknowledged_at or closed_at or AT
            reassigned_at = created + (first_change - created) * 0.5
        if grey_now:
            route_id, owner = None, ",".join(ADMINS)
        area = f"area-{route_id:02d}" if route_id is not None else None
        channel = f"C0AREA{route_id:02d}" if route_id is not None else "C0TRIAGE"
        routed_by = "grey_area" if grey_origin else rng.choices(("keywords", "picked"), (70, 30))[0]
        updated = max(t for t in (created, acknowledged_at, closed_at, last_nagged_at, reassigned_at) if t)
        items.append(
            (
                item_id, kind, status, f"Customer {item_id} hit a problem at the {stage or 'usual'} stage",
                None, stage, severity, raiser, anonymous, route_id, area, grey_now, routed_by, owner,
                channel, f"{created.timestamp():.6f}", None, None, None, f"command:seed.{item_id}",
                created, updated, acknowledged_at, closed_at, acted_by, resolution, led_to_action,
                duplicate_of, credit, credited_at, nag_count, last_nagged_at, escalated_at, None, 0,
            )
        )  # fmt: skip

        event(item_id, "filed", raiser, created, {
            "routed_by": routed_by,
            "area": None if grey_origin else area,
            "owner": ",".join(ADMINS) if grey_origin else owner,
            "matched_keywords": [],
        })  # fmt: skip
        if reassigned_at is not None:
            event(item_id, "reassigned", ADMINS[0], reassigned_at, {
                "from_owner": ",".join(ADMINS), "to_owner": owner, "from_area": None,
                "to_area": area, "from_grey_area": True,
            })  # fmt: skip
        if acknowledged_at is not None:
            event(
                item_id,
                "acknowledged",
                owner,
                acknowledged_at,
                {"via": rng.choice(("button", "thread_reply"))},
            )
        if status == "actioned":
            event(
                item_id,
                "actioned",
                owner,
                closed_at,
                {"what_was_done": resolution, "led_to_action": led_to_action},
            )
        elif status == "declined":
            event(item_id, "declined", owner, closed_at, {"why": resolution})
        elif status == "duplicate":
            event(item_id, "duplicate", owner, closed_at, {"original": duplicate_of})
        elif status == "withdrawn":
            event(item_id, "withdrawn", raiser, closed_at, {})
        if last_nagged_at is not None:
            for count in range(1, nag_count + 1):
                event(
                    item_id,
                    "nagged",
                    "cxbot",
                    last_nagged_at,
                    {"period": last_nagged_at.isoformat(), "count": count},
                )
        if kind == "idea" and rng.random() < 0.33:
            end = closed_at or AT
            for voter in rng.sample(range(20_000), rng.randint(1, 8)):
                at = created + (end - created) * rng.random()
                votes.append((item_id, f"U0VTR{voter:05d}", at))
                event(item_id, "vote", f"U0VTR{voter:05d}", at, {})

        if len(items) >= CHUNK:
            expect.events, expect.votes = event_id, expect.votes + len(votes)
            yield items, events, votes
            items, events, votes = [], [], []
    expect.events, expect.votes = event_id, expect.votes + len(votes)
    if items:
        yield items, events, votes


def _route_rows() -> list[tuple[Any, ...]]:
    return [
        (
            n, f"area-{n:02d}", f"U0AREA{n:02d}", f"C0AREA{n:02d}", json.dumps([f"word{n}"]),
            ESCALATE_TO[n - 1], n, True, AT - SPAN,
        )
        for n in range(1, ROUTES + 1)
    ]  # fmt: skip


# Loading --------------------------------------------------------------------------------------------


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # As SQLAlchemy's SQLite DATETIME stores it (UTCDateTime hands it UTC values).
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


_SQLITE_CONVERTED = {"anonymous", "grey_area", "led_to_action", "active", "at", "snoozed_until"}


def _sqlite_rows(rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    """Rows with datetimes and booleans as SQLAlchemy stores them on SQLite; only the columns that
    can hold them are converted (the others pass through untouched, which keeps this fast)."""
    convert = [i for i, name in enumerate(columns) if name.endswith("_at") or name in _SQLITE_CONVERTED]
    for row in rows:
        values = list(row)
        for index in convert:
            values[index] = _sqlite_value(values[index])
        yield tuple(values)


def _insert_sql(table: str, columns: tuple[str, ...], placeholder: str = "?") -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([placeholder] * len(columns))})"


def seed(database_url: str, plan: Plan) -> tuple[Expectation, float]:
    """Migrate an empty database and load the plan into it. Returns what the jobs should find and
    how long the load took."""
    import time

    engine = make_engine(database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    expect = Expectation()
    started = time.monotonic()
    if database_url.startswith("sqlite:///"):
        _seed_sqlite(database_url.removeprefix("sqlite:///"), plan, expect)
    else:
        _seed_postgres(database_url, plan, expect)
    return expect, time.monotonic() - started


def _seed_sqlite(path: str, plan: Plan, expect: Expectation) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        connection.executemany(
            _insert_sql("routes", ROUTE_COLUMNS), _sqlite_rows(_route_rows(), ROUTE_COLUMNS)
        )
        done = 0
        for items, events, votes in generate(plan, expect):
            connection.executemany(_insert_sql("items", ITEM_COLUMNS), _sqlite_rows(items, ITEM_COLUMNS))
            connection.executemany(_insert_sql("events", EVENT_COLUMNS), _sqlite_rows(events, EVENT_COLUMNS))
            connection.executemany(_insert_sql("votes", VOTE_COLUMNS), _sqlite_rows(votes, VOTE_COLUMNS))
            done += len(items)
            if done % 200_000 < CHUNK:
                log(f"jobs: sqlite: seeded {done:,} items")
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def _seed_postgres(database_url: str, plan: Plan, expect: Expectation) -> None:
    with psycopg.connect(libpq_url(database_url)) as connection:
        with connection.cursor() as cursor:
            cursor.executemany(_insert_sql("routes", ROUTE_COLUMNS, "%s"), _route_rows())
            done = 0
            for items, events, votes in generate(plan, expect):
                for table, columns, rows in (
                    ("items", ITEM_COLUMNS, items),
                    ("events", EVENT_COLUMNS, events),
                    ("votes", VOTE_COLUMNS, votes),
                ):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                done += len(items)
                if done % 200_000 < CHUNK:
                    log(f"jobs: postgres: seeded {done:,} items")
            for table in ("routes", "items", "events"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        connection.commit()
        connection.autocommit = True
        for table in ("routes", "items", "events", "votes", "outbox", "job_runs"):
            connection.execute(f"VACUUM ANALYZE {table}")
