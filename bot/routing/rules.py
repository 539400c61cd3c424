"""Routing: which owner an item goes to.

1. The area the raiser picked in the modal, if it is a known route.
2. Otherwise the route whose keywords the text matches (case-insensitive, whole words or phrases).
   The route matching the most distinct keywords wins; a tie goes to the route listed first
   in the routes file.
3. Otherwise it is a grey area: posted to CX_TRIAGE_CHANNEL and owned by the CX admins.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

# The area a raiser picks when they can't place an item: reserved, never a route's.
NOT_SURE = "not sure"


@dataclass(frozen=True)
class Triage:
    """Where grey areas go and who owns them."""

    channel: str
    admins: tuple[str, ...]


class RoutedBy(enum.StrEnum):
    PICKED = "picked"
    KEYWORDS = "keywords"
    GREY_AREA = "grey_area"


class RouteLike(Protocol):
    @property
    def area(self) -> str: ...
    @property
    def keywords(self) -> Sequence[str]: ...
    @property
    def position(self) -> int: ...


R = TypeVar("R", bound=RouteLike)


@dataclass(frozen=True)
class Decision(Generic[R]):
    route: R | None
    routed_by: RoutedBy
    matched_keywords: tuple[str, ...] = ()


def choose_route(*, text: str, picked_area: str | None, routes: Sequence[R]) -> Decision[R]:
    if picked_area:
        for route in routes:
            if route.area.casefold() == picked_area.casefold():
                return Decision(route, RoutedBy.PICKED)
    best: Decision[R] = Decision(None, RoutedBy.GREY_AREA)
    for route in sorted(routes, key=lambda candidate: candidate.position):
        matched = matching_keywords(text, route.keywords)
        if len(matched) > len(best.matched_keywords):
            best = Decision(route, RoutedBy.KEYWORDS, matched)
    return best


def matching_keywords(text: str, keywords: Sequence[str]) -> tuple[str, ...]:
    return tuple(keyword for keyword in keywords if _keyword_pattern(keyword).search(text))


@functools.lru_cache(maxsize=4096)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in keyword.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)
