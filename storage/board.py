"""Queries behind App Home: what someone raised, what waits on them, and who gets credit."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from storage.figures import Recognition
from storage.models import OPEN_STATUSES, TOMBSTONE_PREFIX, CreditState, Item, ItemStatus


def raised_by(*, session: Session, user_id: str, limit: int = 10) -> list[Item]:
    query = select(Item).where(Item.raiser_id == user_id).order_by(Item.updated_at.desc()).limit(limit)
    return list(session.scalars(query))


def open_group_owners(*, session: Session) -> list[str]:
    """User groups that own open items (to ask Slack whether someone belongs to them)."""
    query = select(Item.owner).where(Item.status.in_(OPEN_STATUSES), Item.owner.like("S%")).distinct()
    return list(session.scalars(query))


def waiting_on(
    *, session: Session, user_id: str, groups: Collection[str], is_admin: bool, limit: int = 20
) -> list[Item]:
    """Open items this person owns (directly, through a group, or as a CX lead for grey areas),
    oldest first."""
    mine: list[ColumnElement[bool]] = [Item.owner == user_id]
    if groups:
        mine.append(Item.owner.in_(list(groups)))
    if is_admin:
        mine.append(Item.grey_area.is_(True))
    query = (
        select(Item).where(Item.status.in_(OPEN_STATUSES), or_(*mine)).order_by(Item.created_at).limit(limit)
    )
    return list(session.scalars(query))


def recognition_board(
    *, session: Session, since: datetime, until: datetime | None = None, limit: int = 10
) -> list[Recognition]:
    """People whose items led to action since `since`: raisers of the item (anonymous ones only if
    they agreed to be credited) and the named raisers of its duplicates; nobody that retention or
    `cxbot forget` replaced with a tombstone."""
    credited = (Item.status == ItemStatus.ACTIONED) & Item.led_to_action.is_(True) & (Item.closed_at >= since)
    named = or_(Item.anonymous.is_(False), Item.credit == CreditState.POSTED)
    raisers = select(Item.raiser_id.label("user_id"), Item.id.label("item_id")).where(
        credited, named, Item.raiser_id.not_like(f"{TOMBSTONE_PREFIX}%")
    )
    duplicate = aliased(Item)
    duplicates = (
        select(duplicate.raiser_id.label("user_id"), Item.id.label("item_id"))
        .join(Item, duplicate.duplicate_of_id == Item.id)
        .where(credited, duplicate.anonymous.is_(False), duplicate.raiser_id.not_like(f"{TOMBSTONE_PREFIX}%"))
    )
    both = union_all(raisers, duplicates).subquery()
    query = (
        select(both.c.user_id, func.count(func.distinct(both.c.item_id)).label("alarms"))
        .group_by(both.c.user_id)
        .order_by(func.count(func.distinct(both.c.item_id)).desc(), both.c.user_id)
        .limit(limit)
    )
    return [Recognition(user_id=row.user_id, alarms=int(row.alarms)) for row in session.execute(query)]
