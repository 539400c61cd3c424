"""Who is in a user group, asked of Slack and cached for a few minutes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0
ZONE_CACHE_SECONDS = 86400.0


class Directory:
    def __init__(self, client: WebClient, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._monotonic = monotonic
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._zones: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def members_of(self, group_id: str) -> frozenset[str]:
        now = self._monotonic()
        with self._lock:
            cached = self._members.get(group_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            users = self._client.usergroups_users_list(usergroup=group_id).get("users") or []
        except SlackApiError as error:
            log.warning("can't list members of %s: %s", group_id, error.response.get("error"))
            return cached[1] if cached is not None else frozenset()
        members = frozenset(str(user) for user in users)
        with self._lock:
            self._members[group_id] = (now, members)
        return members

    def timezone_of(self, user_id: str, *, default: str) -> str:
        """The person's Slack time zone (users.info, cached for a day), or `default`."""
        now = self._monotonic()
        with self._lock:
            cached = self._zones.get(user_id)
        if cached is not None and now - cached[0] < ZONE_CACHE_SECONDS:
            return cached[1]
        try:
            user = self._client.users_info(user=user_id).get("user") or {}
        except SlackApiError as error:
            log.warning("can't look up a time zone: %s", error.response.get("error"))
            return cached[1] if cached is not None else default
        zone = str(user.get("tz") or default)
        with self._lock:
            self._zones[user_id] = (now, zone)
        return zone
