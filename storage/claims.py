"""Queries over claims of grey areas ("I can own this") and the routes they make."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import ClaimStatus, Item, Route, RouteClaim


def add_claim(
    *,
    session: Session,
    item_id: int,
    claimer: str,
    area: str,
    owner: str,
    channel: str,
    keywords: Sequence[str],
    now: datetime,
) -> RouteClaim:
    claim = RouteClaim(
        item_id=item_id,
        claimer=claimer,
        area=area,
        owner=owner,
        channel=channel,
        keywords=list(keywords),
        status=ClaimStatus.PENDING,
        created_at=now,
    )
    session.add(claim)
    session.flush()
    return claim


def claim_for_update(*, session: Session, claim_id: int) -> RouteClaim | None:
    """The claim, locked for this transaction on PostgreSQL, so that two leads' clicks decide once."""
    query = select(RouteClaim).where(RouteClaim.id == claim_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def get_claim(*, session: Session, claim_id: int) -> RouteClaim | None:
    return session.get(RouteClaim, claim_id)


def pending_claim_by(*, session: Session, item_id: int, claimer: str) -> RouteClaim | None:
    """The claimer's claim on the item that still waits for a CX lead, if any."""
    query = select(RouteClaim).where(
        RouteClaim.item_id == item_id,
        RouteClaim.claimer == claimer,
        RouteClaim.status == ClaimStatus.PENDING,
    )
    return session.scalars(query.order_by(RouteClaim.id.desc())).first()


def route_named(*, session: Session, area: str) -> Route | None:
    """The route called `area`, ignoring case as Python does (SQLite's lower() knows only ASCII),
    active or retired. There are at most a few hundred routes."""
    wanted = area.casefold()
    return next((route for route in session.scalars(select(Route)) if route.area.casefold() == wanted), None)


def active_route_count(*, session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Route).where(Route.active)) or 0)


def add_claimed_route(*, session: Session, claim: RouteClaim, now: datetime) -> Route:
    """The claim's route, listed last (keyword ties go to routes listed earlier). A retired route of
    the same name comes back with the claim's owner, channel and keywords."""
    last = session.scalar(select(func.max(Route.position))) or 0
    route = route_named(session=session, area=claim.area)
    if route is None:
        route = Route(area=claim.area, stale_after=None, escalate_to=None)
        session.add(route)
    route.area = claim.area
    route.owner = claim.owner
    route.channel = claim.channel
    route.keywords = list(claim.keywords)
    route.position = last + 1
    route.active = True
    route.claimed_by = claim.claimer
    route.claimed_at = now
    route.updated_at = now
    session.flush()
    return route


def recent_texts(*, session: Session, since: datetime, limit: int = 500) -> list[str]:
    """The texts of items raised since `since`, newest first: what makes a word distinctive."""
    query = select(Item.text).where(Item.created_at >= since).order_by(Item.id.desc()).limit(limit)
    return list(session.scalars(query))


def set_request_message(*, session: Session, claim_id: int, channel: str, ts: str) -> None:
    """Where the claim's request to the CX leads was posted, so that their answer can update it."""
    claim = session.get(RouteClaim, claim_id)
    if claim is not None:
        claim.request_channel, claim.request_ts = channel, ts
