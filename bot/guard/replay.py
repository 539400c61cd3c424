"""Refusing replayed requests: a signed body Slack sent once is accepted once.

Slack's signature covers the body and a timestamp, and Bolt refuses timestamps more than five
minutes old; within those five minutes a captured request could be sent again. Each signature
is remembered for five minutes and a repeat is refused with 401. Slack's own retries of an event
carry X-Slack-Retry-Num and are let through: they are deduplicated by event_id instead. Slack retries
nothing else, and the header isn't signed, so on a command or a click it earns no exemption.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

WINDOW_SECONDS = 5 * 60 + 30
MAX_REMEMBERED = 200_000


class ReplayGuard:
    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def first_time(self, signature: str) -> bool:
        now = self._monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) > MAX_REMEMBERED or now - next(iter(self._seen.values())) > WINDOW_SECONDS
            ):
                self._seen.popitem(last=False)
            if signature in self._seen:
                return False
            self._seen[signature] = now
            return True

    def is_replay(self, signature: str, *, event_retry: bool) -> bool:
        """Whether this signed request was seen before. `event_retry`: it carries X-Slack-Retry-Num
        and is an Events API callback, which Slack may send again on purpose."""
        return not event_retry and not self.first_time(signature)
