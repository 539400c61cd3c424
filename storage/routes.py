"""Queries over routes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Route


class RouteFields(Protocol):
    @property
    def area(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def keywords(self) -> Sequence[str]: ...
    @property
    def escalate_to(self) -> str | None: ...
    @property
    def position(self) -> int: ...
    @property
    def stale_after(self) -> Sequence[tuple[str, float]]: ...
    @property
    def verify_after(self) -> float | None: ...


@dataclass(frozen=True)
class ImportSummary:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    retired: tuple[str, ...]
    # Routes claimed in Slack that the file lacks, kept because `replace` was not asked for.
    kept: tuple[str, ...] = ()
    # Of all the areas above, those claimed in Slack (from a grey-area card), with who claimed each.
    claimed: tuple[tuple[str, str], ...] = ()


def active_routes(*, session: Session) -> list[Route]:
    return list(session.scalars(select(Route).where(Route.active).order_by(Route.position)))


def route_by_area(*, session: Session, area: str) -> Route | None:
    return session.scalar(select(Route).where(Route.active, Route.area == area))


def import_routes(
    *, session: Session, specs: Sequence[RouteFields], now: datetime, replace: bool = False
) -> ImportSummary:
    """Make the active routes `specs`. Routes missing from `specs` are retired, not deleted,
    because items keep pointing at them; but a route claimed in Slack (from a grey-area card) is
    kept, listed after the file's, unless `replace`: the database, not the file, is where routes
    live."""
    existing = {route.area.casefold(): route for route in session.scalars(select(Route))}
    added, changed, unchanged = [], [], []
    wanted = set()
    for spec in specs:
        key = spec.area.casefold()
        wanted.add(key)
        route = existing.get(key)
        if route is None:
            route = Route(area=spec.area)
            session.add(route)
            added.append(spec.area)
        elif _same(route, spec):
            unchanged.append(spec.area)
            continue
        else:
            changed.append(spec.area)
        _copy(route, spec, now)
    missing = [route for key, route in existing.items() if key not in wanted and route.active]
    kept = [route for route in missing if route.claimed_by and not replace]
    retired = [route for route in missing if route not in kept]
    for route in retired:
        route.active = False
        route.updated_at = now
    for position, route in enumerate(sorted(kept, key=lambda kept_route: kept_route.position), len(specs)):
        route.position = position
    session.flush()
    claimed = [(route.area, route.claimed_by) for route in existing.values() if route.claimed_by]
    return ImportSummary(
        tuple(added),
        tuple(changed),
        tuple(unchanged),
        tuple(route.area for route in retired),
        kept=tuple(route.area for route in kept),
        claimed=tuple((area, who) for area, who in claimed if who),
    )


def _same(route: Route, spec: RouteFields) -> bool:
    return (
        route.active
        and route.area == spec.area
        and route.owner == spec.owner
        and route.channel == spec.channel
        and list(route.keywords) == list(spec.keywords)
        and route.escalate_to == spec.escalate_to
        and route.position == spec.position
        and (route.stale_after or {}) == dict(spec.stale_after)
        and route.verify_after == spec.verify_after
    )


def _copy(route: Route, spec: RouteFields, now: datetime) -> None:
    route.area = spec.area
    route.owner = spec.owner
    route.channel = spec.channel
    route.keywords = list(spec.keywords)
    route.escalate_to = spec.escalate_to
    route.position = spec.position
    route.stale_after = dict(spec.stale_after) or None
    route.verify_after = spec.verify_after
    route.active = True
    route.updated_at = now
