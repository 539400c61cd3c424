"""Items whose owner can't be reached: an owner whose Slack account is deactivated hands their open
items, at the nag sweep, to the route's escalate_to, else to the CX leads; and so does escalation."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from bot.items.lifecycle import HandOverReason, hand_over
from storage import jobs
from storage.models import Route

log = logging.getLogger(__name__)

IsDeactivated = Callable[[str], bool]


def fallback(route: Route | None, *, admins: tuple[str, ...]) -> list[str]:
    """Who stands behind an item's owner: its route's escalate_to, else the CX leads."""
    return [route.escalate_to] if route is not None and route.escalate_to else list(admins)


def reachable_fallback(
    route: Route | None, *, admins: tuple[str, ...], is_deactivated: IsDeactivated
) -> list[str]:
    """`fallback`, leaving out the deactivated: the CX leads when escalate_to is deactivated."""
    if route is not None and route.escalate_to and not is_deactivated(route.escalate_to):
        return [route.escalate_to]
    return [lead for lead in admins if not is_deactivated(lead)]


def hand_over_from_deactivated(
    session: Session,
    *,
    owners: Iterable[str],
    routes: dict[int, Route],
    admins: tuple[str, ...],
    is_deactivated: IsDeactivated,
    now: datetime,
) -> list[int]:
    """Hand the open items of `owners` (each deactivated) to their route's reachable fallback;
    the ids of those handed over. An item nobody reachable can take stays, with a WARNING."""
    handed: list[int] = []
    for item in jobs.open_items_owned_by(session=session, owners=list(owners)):
        route = routes.get(item.route_id) if item.route_id is not None else None
        to = ",".join(reachable_fallback(route, admins=admins, is_deactivated=is_deactivated))
        if not to or to == item.owner:
            log.warning(
                "#%d: its owner's Slack account is deactivated, and nobody reachable can take it over",
                item.id,
                extra={"item_id": item.id},
            )
            continue
        hand_over(session=session, item=item, to_owner=to, now=now, why=HandOverReason.OWNER_DEACTIVATED)
        handed.append(item.id)
    session.flush()
    return handed
