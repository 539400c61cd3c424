"""The routes file: TOML that maps areas of the customer experience to their owners.

    [[routes]]
    area = "billing"
    owner = "U0123ABCD"        # a user ID, or a user group ID (S...)
    channel = "C0123ABCD"      # where this area's items are posted
    keywords = ["refund", "invoice"]
    escalate_to = "U0999ZZZZ"  # optional
    verify_after = 3           # optional: working days before "did this fix it?"; 0: never

A bad file is refused with its path, the line and the problem.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.items.sla import POLICY_KEYS, parse_duration
from bot.routing.rules import NOT_SURE
from bot.slack import ids as slack_ids
from storage import routes as route_queries
from storage.db import make_session_factory, transaction
from storage.models import Route

MAX_AREA_LENGTH = 75  # Slack's limit for an option's text in the modal's area menu
MAX_ROUTES = 99  # the area menu holds 100 options, one of them "not sure"
_KEYS = {"area", "owner", "channel", "keywords", "escalate_to", "stale_after", "verify_after"}
_HEADER = re.compile(r"^\s*\[\[\s*routes\s*\]\]")


@dataclass(frozen=True)
class RouteSpec:
    area: str
    owner: str
    channel: str
    keywords: tuple[str, ...]
    escalate_to: str | None
    position: int
    stale_after: tuple[tuple[str, float], ...] = ()
    verify_after: float | None = None  # working days; None: the default


class RoutesFileError(Exception):
    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


def load_routes_file(path: Path) -> list[RouteSpec]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RoutesFileError(str(path), 1, f"cannot read the file ({error})") from None
    return parse_routes(text, path=str(path))


def parse_routes(text: str, *, path: str) -> list[RouteSpec]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RoutesFileError(path, _decode_error_line(error), f"not valid TOML: {error}") from None
    locator = _Locator(text, path)
    for key in document:
        if key != "routes":
            raise locator.error(
                locator.top_level_line(key), f"unknown key {key!r}; expected [[routes]] tables"
            )
    tables = document.get("routes", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise locator.error(locator.top_level_line("routes"), "'routes' must be written as [[routes]] tables")
    if len(tables) > MAX_ROUTES:
        raise locator.error(1, f"at most {MAX_ROUTES} routes fit Slack's area menu; found {len(tables)}")
    specs = [_route(table, index, locator) for index, table in enumerate(tables)]
    _check_unique_areas(specs, locator)
    return specs


def _decode_error_line(error: tomllib.TOMLDecodeError) -> int:
    found = re.search(r"line (\d+)", str(error))
    return int(found.group(1)) if found else 1


class _Locator:
    """Finds the line a route or key was written on, for error messages."""

    def __init__(self, text: str, path: str) -> None:
        self.lines = text.splitlines()
        self.path = path
        self.headers = [number for number, line in enumerate(self.lines, 1) if _HEADER.match(line)]

    def error(self, line: int, problem: str) -> RoutesFileError:
        return RoutesFileError(self.path, line, problem)

    def route_line(self, index: int) -> int:
        return self.headers[index] if index < len(self.headers) else 1

    def key_line(self, index: int, key: str) -> int:
        start = self.route_line(index)
        end = self.headers[index + 1] if index + 1 < len(self.headers) else len(self.lines) + 1
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start, end):
            if pattern.match(self.lines[number - 1]):
                return number
        return start

    def top_level_line(self, key: str) -> int:
        pattern = re.compile(rf"^\s*(\[+\s*)?[\"']?{re.escape(key)}\b")
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                return number
        return 1


def _route(table: dict[str, Any], index: int, locator: _Locator) -> RouteSpec:
    for key in table:
        if key not in _KEYS:
            known = ", ".join(sorted(_KEYS))
            raise locator.error(locator.key_line(index, key), f"unknown key {key!r} (known keys: {known})")
    fields = _RouteFields(table, index, locator)
    return RouteSpec(
        area=fields.area(),
        owner=fields.id_field("owner", slack_ids.is_owner, "a user ID (U...) or user group ID (S...)"),
        channel=fields.id_field("channel", slack_ids.is_channel, "a channel ID (C... or G...)"),
        keywords=fields.keywords(),
        escalate_to=fields.escalate_to(),
        position=index,
        stale_after=fields.stale_after(),
        verify_after=fields.verify_after(),
    )


class _RouteFields:
    def __init__(self, table: dict[str, Any], index: int, locator: _Locator) -> None:
        self.table = table
        self.index = index
        self.locator = locator

    def fail(self, key: str, problem: str) -> RoutesFileError:
        line = (
            self.locator.key_line(self.index, key)
            if key in self.table
            else self.locator.route_line(self.index)
        )
        return self.locator.error(line, problem)

    def string(self, key: str) -> str:
        if key not in self.table:
            raise self.fail(key, f"route {self.index + 1} has no {key!r}")
        value = self.table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"{key!r} must be a non-empty string")
        return value.strip()

    def area(self) -> str:
        area = self.string("area")
        if len(area) > MAX_AREA_LENGTH:
            raise self.fail("area", f"area {area!r} is longer than {MAX_AREA_LENGTH} characters")
        if area.casefold() == NOT_SURE:
            raise self.fail("area", f"{NOT_SURE!r} is reserved for items the raiser could not place")
        return area

    def id_field(self, key: str, valid: Any, expected: str) -> str:
        value = self.string(key)
        if not valid(value):
            raise self.fail(key, f"{key!r} must be {expected}, got {value!r}")
        return value

    def keywords(self) -> tuple[str, ...]:
        value = self.table.get("keywords", [])
        if not isinstance(value, list) or not all(isinstance(word, str) and word.strip() for word in value):
            raise self.fail("keywords", "'keywords' must be a list of non-empty strings")
        return tuple(dict.fromkeys(word.strip().casefold() for word in value))

    def escalate_to(self) -> str | None:
        if "escalate_to" not in self.table:
            return None
        return self.id_field("escalate_to", slack_ids.is_owner, "a user ID (U...) or user group ID (S...)")

    def stale_after(self) -> tuple[tuple[str, float], ...]:
        value = self.table.get("stale_after", {})
        if not isinstance(value, dict):
            raise self.fail(
                "stale_after", '\'stale_after\' must be a table, like { alarm = "12h", idea = "3d" }'
            )
        overrides = []
        for key, duration in value.items():
            if key not in POLICY_KEYS:
                raise self.fail(
                    "stale_after", f"unknown stale_after key {key!r} (known: {', '.join(POLICY_KEYS)})"
                )
            seconds = parse_duration(duration) if isinstance(duration, str) else None
            if seconds is None:
                raise self.fail(
                    "stale_after", f'stale_after.{key} must be a duration like "90m", "8h" or "7d"'
                )
            overrides.append((key, seconds))
        return tuple(overrides)

    def verify_after(self) -> float | None:
        if "verify_after" not in self.table:
            return None
        value = self.table["verify_after"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 365:
            raise self.fail(
                "verify_after",
                f"'verify_after' must be a number of working days from 0 (never ask) to 365, got {value!r}",
            )
        return float(value)


def _check_unique_areas(specs: list[RouteSpec], locator: _Locator) -> None:
    seen: dict[str, int] = {}
    for spec in specs:
        folded = spec.area.casefold()
        if folded in seen:
            raise locator.error(
                locator.key_line(spec.position, "area"),
                f"area {spec.area!r} is already used by route {seen[folded] + 1}",
            )
        seen[folded] = spec.position


def import_routes_file(
    engine: Engine, path: Path, *, clock: Clock, replace: bool = False
) -> route_queries.ImportSummary:
    """Make the active routes what the file at `path` says, keeping routes claimed in Slack that
    it lacks unless `replace` (storage/routes.py)."""
    specs = load_routes_file(path)
    with transaction(make_session_factory(engine)) as session:
        if not replace:
            _check_room_for_claimed(session, specs, path)
        return route_queries.import_routes(session=session, specs=specs, now=clock(), replace=replace)


def _check_room_for_claimed(session: Session, specs: Sequence[RouteSpec], path: Path) -> None:
    """Routes claimed in Slack that the file lacks are kept: they too must fit the area menu."""
    in_file = {spec.area.casefold() for spec in specs}
    kept = [
        route.area
        for route in route_queries.active_routes(session=session)
        if route.claimed_by and route.area.casefold() not in in_file
    ]
    if kept and len(specs) + len(kept) > MAX_ROUTES:
        raise RoutesFileError(
            str(path),
            1,
            f"{len(specs)} routes and {len(kept)} claimed in Slack ({', '.join(kept)}) would be more than "
            f"the {MAX_ROUTES} Slack's area menu holds: add them to the file in place of others, or "
            "import with --replace to retire them",
        )


def routes_toml(routes: Sequence[Route]) -> str:
    """The routes as a routes file: importing it changes nothing."""
    lines = [
        "# cxbot routes, written by `cxbot routes export`. Edit and `cxbot routes import` it, or keep",
        '# it in version control. Format: README, "Routes".',
    ]
    for route in routes:
        lines += ["", "[[routes]]", *_claimed_line(route), *_route_lines(route)]
    return "\n".join(lines) + "\n"


def _route_lines(route: Route) -> list[str]:
    lines = [
        f"area = {_toml_string(route.area)}",
        f"owner = {_toml_string(route.owner)}",
        f"channel = {_toml_string(route.channel)}",
        f"keywords = [{', '.join(_toml_string(word) for word in route.keywords)}]",
    ]
    if route.escalate_to:
        lines.append(f"escalate_to = {_toml_string(route.escalate_to)}")
    if route.stale_after:
        periods = [
            f"{key} = {_toml_string(_duration(seconds))}" for key, seconds in route.stale_after.items()
        ]
        lines.append(f"stale_after = {{ {', '.join(periods)} }}")
    if route.verify_after is not None:
        days = route.verify_after
        lines.append(f"verify_after = {int(days) if days == int(days) else days}")
    return lines


def _claimed_line(route: Route) -> list[str]:
    if not route.claimed_by:
        return []
    when = f" on {route.claimed_at:%Y-%m-%d}" if route.claimed_at else ""
    return [f"# claimed in Slack by {route.claimed_by}{when}, from a grey-area card"]


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's."""
    return json.dumps(text, ensure_ascii=False)


def _duration(seconds: float) -> str:
    """ "7d", "24h" or "90m": the largest unit that divides it (the file takes minutes at least)."""
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{max(1, round(seconds / 60))}m"
