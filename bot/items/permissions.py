"""Who may do what to an item. Enforced here, in the core, for every change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import CxError
from storage.models import Item

MembersOf = Callable[[str], frozenset[str]]


class NotAllowed(CxError):
    """The actor may not make this change; the message says who can."""


@dataclass(frozen=True)
class Actor:
    user_id: str
    admins: tuple[str, ...]
    members_of: MembersOf  # user group ID -> its members' user IDs (cached lookups)

    @property
    def is_admin(self) -> bool:
        return self.user_id in self.admins


def owners_of(item: Item) -> list[str]:
    return [owner for owner in item.owner.split(",") if owner]


def manages(item: Item, actor: Actor) -> bool:
    """The owner, a member of the owner user group, or a CX admin."""
    if actor.is_admin:
        return True
    for owner in owners_of(item):
        if owner == actor.user_id:
            return True
        if owner.startswith("S") and actor.user_id in actor.members_of(owner):
            return True
    return False


def require_manager(item: Item, actor: Actor, doing: str) -> None:
    if not manages(item, actor):
        raise NotAllowed(
            f"Only #{item.id}'s owner or a CX lead can {doing}. "
            "If it belongs to you, ask a CX lead to reassign it to you."
        )


def require_raiser(item: Item, actor: Actor, doing: str) -> None:
    if actor.user_id != item.raiser_id:
        raise NotAllowed(f"Only the person who raised #{item.id} can {doing}.")
