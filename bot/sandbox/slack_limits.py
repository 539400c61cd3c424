"""Slack's rate limits, as the fake Slack enforces them when its limits are on.

Slack limits each Web API method per app and workspace by tier (docs.slack.dev, "Rate limits",
and each method's reference page), allowing short bursts over the per-minute figure:

- Tier 1: 1+ a minute; Tier 2: 20+; Tier 3: 50+; Tier 4: 100+.
- chat.postMessage is special: about one message a second per channel, with short bursts, and a
  workspace-wide limit that Slack doesn't publish.

Over a limit, Slack answers HTTP 429 with a Retry-After header (seconds). Each limit here is a
token bucket: it refills at the published rate and holds BURST_SECONDS of it, so a burst of that
many seconds' worth of calls goes through and then calls are let through at the rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}

# Each method cxbot calls, with its tier from Slack's method reference.
METHOD_TIERS = {
    "apps.connections.open": 1,
    "users.list": 2,
    "usergroups.users.list": 2,
    "chat.update": 3,
    "conversations.open": 3,
    "conversations.join": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "auth.test": 4,
    "users.info": 4,
    "views.open": 4,
    "views.update": 4,
    "views.push": 4,
    "views.publish": 4,
    "chat.getPermalink": 4,
    "chat.postEphemeral": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
# A bucket holds this many seconds of its rate: Slack's "short bursts".
BURST_SECONDS = 15.0
# chat.postMessage: one a second per channel, with a burst of a few.
CHANNEL_PER_SECOND = 1.0
CHANNEL_BURST = 3
# chat.postMessage across the workspace. Slack publishes no figure, only that a workspace-wide
# limit exists beside the one a channel has. 600 a minute (ten channels at their own limit at once)
# is our choice: high enough that one channel's limit binds first, as Slack's docs describe, and
# low enough that an outbox sending DMs to 2,000 owners as fast as it can would meet it.
# tests/test_fake_slack.py tries it and a tenth of it.
WORKSPACE_POSTS_PER_MINUTE = 600


@dataclass
class Bucket:
    """Refills `rate` tokens a second up to `capacity`; a call takes one or waits."""

    rate: float
    capacity: float
    clock: Callable[[], float]
    tokens: float = field(init=False)
    at: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens, self.at = self.capacity, self.clock()

    def take(self) -> float:
        """0.0 if a token was taken, else how many seconds until one is there."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class SlackLimits:
    """Decides whether a call is over Slack's limits. Thread-safe."""

    def __init__(
        self,
        *,
        workspace_posts_per_minute: float = WORKSPACE_POSTS_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workspace_posts_per_minute = workspace_posts_per_minute
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def retry_after(self, method: str, args: dict[str, object]) -> int | None:
        """None if Slack would take this call now, else the Retry-After it would answer (whole
        seconds, at least 1). A call over a limit takes no token from the others."""
        keys = self._keys(method, args)
        with self._lock:
            waits = [self._bucket(key).take() for key in keys]
            if all(wait == 0.0 for wait in waits):
                return None
            for key, wait in zip(keys, waits, strict=True):
                if wait == 0.0:  # give back what this refused call took
                    self._buckets[key].tokens += 1.0
            return max(1, math.ceil(max(waits)))

    def _keys(self, method: str, args: dict[str, object]) -> list[str]:
        if method == "chat.postMessage":
            return [f"channel:{args.get('channel')}", "workspace:chat.postMessage"]
        return [f"method:{method}"]

    def _bucket(self, key: str) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            kind, _, name = key.partition(":")
            if kind == "channel":
                rate, capacity = CHANNEL_PER_SECOND, float(CHANNEL_BURST)
            elif kind == "workspace":
                rate = self.workspace_posts_per_minute / 60.0
                capacity = max(1.0, rate * BURST_SECONDS)
            else:
                rate = TIER_PER_MINUTE[METHOD_TIERS.get(name, 4)] / 60.0
                capacity = max(1.0, rate * BURST_SECONDS)
            bucket = self._buckets[key] = Bucket(rate, capacity, self._clock)
        return bucket
