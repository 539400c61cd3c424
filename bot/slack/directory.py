"""Who is in a user group, and each person's time zone and whether their Slack account is
deactivated, asked of Slack and cached.

A group's members come from usergroups.users.list, cached for five minutes. People come from
users.list when many are asked at once (Tier 2, 200 a page: a day's first nag sweep over 2,000
owners asks 10 pages), else from users.info, one call each (Tier 4); everyone seen is cached for a
day, and nobody seen is asked about again meanwhile. Over a rate limit Slack answers 429 with
Retry-After: the directory waits that long and asks again. Any other failure logs one WARNING,
and the answer is what was cached, else CX_TIMEZONE and not deactivated.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.ops import metrics

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0  # a group's members
PEOPLE_CACHE_SECONDS = 86400.0  # a person's zone and whether they are deactivated
# More people not yet seen than this in one question, and users.list is paged through (everyone,
# 200 a page) instead of asking users.info about each.
LIST_EVERYONE_OVER = 10
PAGE_SIZE = 200
# users.list is Tier 2 (20+ a minute, with short bursts): after the first few pages the directory
# keeps to one page every 3 s, instead of meeting a 429 for each.
PAGES_AT_ONCE = 3
PAGE_EVERY_SECONDS = 3.0
# 429s in a row on one call before the directory gives up on it (and falls back).
MAX_RATE_LIMITED_WAITS = 10
DEFAULT_RETRY_AFTER = 30.0
_NETWORK_ERRORS = (OSError, http.client.HTTPException)  # URLError, timeouts, dropped connections


@dataclass(frozen=True)
class Person:
    """What cxbot needs to know of someone: their IANA time zone (CX_TIMEZONE when Slack doesn't
    say), whether their account is deactivated, and whether they are a bot."""

    zone: str
    deleted: bool = False
    is_bot: bool = False


# User IDs -> what Slack says of each (an answer for every ID asked about).
PeopleOf = Callable[[Collection[str]], dict[str, Person]]


class _Unanswered(Exception):
    """Slack didn't answer (an error, the network, or rate limited for too long). `error`: Slack's
    error code, if it gave one."""

    def __init__(self, reason: str, *, error: str = "") -> None:
        super().__init__(reason)
        self.error = error


class Directory:
    def __init__(
        self,
        client: WebClient,
        *,
        default_zone: str = "UTC",
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._default_zone = default_zone
        self._monotonic = monotonic
        self._sleep = sleep
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._people: dict[str, tuple[float, Person]] = {}
        self._groups: tuple[float, list[tuple[str, str]]] | None = None
        self._lock = threading.Lock()

    def members_of(self, group_id: str) -> frozenset[str]:
        now = self._monotonic()
        with self._lock:
            cached = self._members.get(group_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            users = self._call(self._client.usergroups_users_list, usergroup=group_id).get("users") or []
        except _Unanswered as failure:
            log.warning("can't list members of %s: %s", group_id, failure)
            return cached[1] if cached is not None else frozenset()
        members = frozenset(str(user) for user in users)
        with self._lock:
            self._members[group_id] = (now, members)
        return members

    def groups(self) -> list[tuple[str, str]]:
        """The workspace's user groups as (ID, name), by name, for a form: cached for five minutes;
        on any trouble, what was last known. A form opens at once or not at all, so this never
        waits out a rate limit."""
        now = self._monotonic()
        with self._lock:
            cached = self._groups
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            answer = self._client.usergroups_list(include_disabled=False).data
        except (SlackApiError, *_NETWORK_ERRORS) as error:
            metrics.SLACK_CALLS.labels("usergroups.list", "error").inc()
            log.info("can't list user groups: %r", error)
            return cached[1] if cached is not None else []
        metrics.SLACK_CALLS.labels("usergroups.list", "ok").inc()
        found = answer.get("usergroups") if isinstance(answer, dict) else None
        groups = sorted(
            (
                (str(group["id"]), str(group.get("name") or group.get("handle") or group["id"]))
                for group in found or []
                if isinstance(group, dict) and group.get("id") and not group.get("date_delete")
            ),
            key=lambda pair: pair[1].casefold(),
        )
        with self._lock:
            self._groups = (now, groups)
        return groups

    def people(self, user_ids: Collection[str]) -> dict[str, Person]:
        """Each person's zone and whether they are deactivated: as cached, else as Slack says now,
        else as last known, else CX_TIMEZONE and not deactivated."""
        now = self._monotonic()
        wanted = list(dict.fromkeys(user_ids))
        unseen = [user for user in wanted if self._cached(user, now) is None]
        if unseen:
            try:
                self._ask(unseen, now)
            except _Unanswered as failure:
                log.warning(
                    "can't look up %d people (%s); using what is known of them, else %s",
                    len(unseen),
                    failure,
                    self._default_zone,
                )
        return {user: self._known(user) for user in wanted}

    def _ask(self, unseen: list[str], now: float) -> None:
        if len(unseen) > LIST_EVERYONE_OVER:
            self._list_everyone(now)
            # Not in the list: nobody Slack knows in this workspace, and so remembered.
            self._remember_unknown([user for user in unseen if self._cached(user, now) is None], now)
            return
        for user in unseen:
            self._ask_one(user, now)

    def _list_everyone(self, now: float) -> None:
        """Page through users.list, remembering everyone on each page as it comes."""
        cursor = ""
        for page_number in itertools.count():
            if page_number >= PAGES_AT_ONCE:
                self._sleep(PAGE_EVERY_SECONDS)
            page = self._call(self._client.users_list, limit=PAGE_SIZE, cursor=cursor or None)
            self._remember_members(page.get("members") or [], now)
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return

    def _ask_one(self, user_id: str, now: float) -> None:
        try:
            found = self._call(self._client.users_info, user=user_id).get("user") or {}
        except _Unanswered as failure:
            if failure.error != "user_not_found":
                raise
            self._remember_unknown([user_id], now)
            return
        self._remember_members([{**found, "id": found.get("id") or user_id}], now)

    def _remember_members(self, members: Iterable[dict[str, Any]], now: float) -> None:
        people = {
            str(member["id"]): Person(
                zone=str(member.get("tz") or self._default_zone),
                deleted=bool(member.get("deleted")),
                is_bot=bool(member.get("is_bot")),
            )
            for member in members
            if member.get("id")
        }
        with self._lock:
            self._people.update({user: (now, person) for user, person in people.items()})

    def _remember_unknown(self, unknown: list[str], now: float) -> None:
        """People Slack doesn't know: the default zone, for a day."""
        with self._lock:
            for user in unknown:
                self._people[user] = (now, Person(zone=self._default_zone))

    def _cached(self, user_id: str, now: float) -> Person | None:
        with self._lock:
            cached = self._people.get(user_id)
        return cached[1] if cached is not None and now - cached[0] < PEOPLE_CACHE_SECONDS else None

    def _known(self, user_id: str) -> Person:
        with self._lock:
            cached = self._people.get(user_id)
        return cached[1] if cached is not None else Person(zone=self._default_zone)

    def _call(self, method: Callable[..., SlackResponse], **arguments: Any) -> dict[str, Any]:
        """The answer's data; over a rate limit, after waiting as long as Slack says."""
        name = method.__name__.replace("_", ".")  # users_list: users.list
        for _ in range(MAX_RATE_LIMITED_WAITS + 1):
            try:
                response = method(**arguments)
            except SlackApiError as error:
                status = error.response.status_code
                if status != 429:
                    metrics.SLACK_CALLS.labels(name, "error").inc()
                    code = str(error.response.get("error")) if status == 200 else f"http_{status}"
                    raise _Unanswered(code, error=code) from None
                metrics.SLACK_CALLS.labels(name, "ratelimited").inc()
                self._sleep(_retry_after(error.response.headers))
                continue
            except _NETWORK_ERRORS as error:
                metrics.SLACK_CALLS.labels(name, "error").inc()
                raise _Unanswered(f"network: {error!r}") from None
            metrics.SLACK_CALLS.labels(name, "ok").inc()
            return response.data if isinstance(response.data, dict) else {}
        raise _Unanswered(f"{name} still rate limited after {MAX_RATE_LIMITED_WAITS} waits")


def _retry_after(headers: Any) -> float:
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(float(value), 0.0) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
