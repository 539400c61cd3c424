"""Who hears of an item in the nag sweep, and what Slack says of them: each owner group's members,
and each person's time zone and whether their account is deactivated."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.items.permissions import MembersOf
from bot.slack.directory import PeopleOf, Person
from storage.items import OpenItem
from storage.models import Item


def recipients(item: Item | OpenItem, *, admins: tuple[str, ...], members_of: MembersOf) -> list[str]:
    """Who is nagged: the owner; each member of an owner group; the CX leads for grey areas."""
    if item.grey_area:
        return list(admins)
    people: list[str] = []
    for owner in item.owner.split(","):
        people += sorted(members_of(owner)) if owner.startswith("S") else [owner]
    return list(dict.fromkeys(people))


def people_in(owner: str) -> list[str]:
    """The users an owner names: a user, or users comma-separated; a user group is none."""
    return [part for part in owner.split(",") if part and not part.startswith("S")]


@dataclass(frozen=True)
class SweepPeople:
    """Slack's answers for one sweep, asked in bulk before its transaction opens (`learn`). Someone
    not learnt of beforehand (an item reassigned meanwhile) is asked when met for their zone; whether
    someone is deactivated is only ever what was learnt."""

    members_of: MembersOf
    people_of: PeopleOf
    members: dict[str, frozenset[str]] = field(default_factory=dict)
    known: dict[str, Person] = field(default_factory=dict)

    def learn(self, people: Iterable[str]) -> None:
        """Ask Slack, in one question, about those of `people` not known yet."""
        unknown = sorted({person for person in people if person not in self.known})
        if unknown:
            self.known.update(self.people_of(unknown))

    def members_of_group(self, group: str) -> frozenset[str]:
        if group not in self.members:
            self.members[group] = self.members_of(group)
        return self.members[group]

    def zone_of(self, person: str) -> str:
        self.learn([person])
        return self.known[person].zone

    def is_deactivated(self, person: str) -> bool:
        known = self.known.get(person)
        return known is not None and known.deleted

    def gone(self, owner: str) -> bool:
        """Whether nobody is left to own what `owner` owns: it names only users, each deactivated."""
        parts = [part for part in owner.split(",") if part]
        return bool(parts) and parts == people_in(owner) and all(map(self.is_deactivated, parts))
