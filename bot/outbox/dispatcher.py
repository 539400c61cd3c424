"""The outbox dispatcher: the only code that delivers stored changes to Slack.

It claims due messages, delivers each, and records the outcome. Slack errors, 5xx and
timeouts are retried with exponential backoff; a 429 pauses all deliveries for Retry-After.
Pending messages survive restarts because they live in the database, not in memory.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.ops import metrics
from bot.outbox.deliveries import Delivered, Delivery, DeliveryContext
from bot.outbox.slack_calls import PermanentFailure, TransientFailure
from storage import outbox as queue
from storage.db import transaction
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
LEASE = timedelta(minutes=2)
IDLE_POLL_SECONDS = 5.0
MIN_IDLE_SECONDS = 0.05


def backoff_seconds(
    attempts: int, *, jitter: Callable[[], float] = random.random, cap: float = MAX_BACKOFF_SECONDS
) -> float:
    """1 s, 2 s, 4 s ... up to `cap` (5 minutes), each stretched by up to 20 % so retries don't bunch."""
    base: float = min(2.0 ** max(attempts - 1, 0), cap)
    return base * (1.0 + 0.2 * jitter())


def _ids(message: OutboxMessage) -> dict[str, int | None]:
    """What a log line about this message carries as fields of its own (LOG_FORMAT=json)."""
    return {"outbox_id": message.id, "item_id": message.item_id}


class Dispatcher:
    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        context: DeliveryContext,
        deliveries: Mapping[str, Delivery],
        clock: Clock,
        batch_size: int = 20,
        jitter: Callable[[], float] = random.random,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        lease: timedelta = LEASE,
    ) -> None:
        self._session_factory = session_factory
        self.context = context
        self._deliveries = deliveries
        self._clock = clock
        self._batch_size = batch_size
        self._jitter = jitter
        self._max_backoff = max_backoff
        self.lease = lease
        self.paused_until: datetime | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # One pass, used by the background loop and directly by tests and `cxbot` commands.
    def run_once(self) -> int:
        """Deliver what is due now. Returns how many messages were attempted."""
        now = self._clock()
        if self.paused_until is not None and now < self.paused_until:
            return 0
        with transaction(self._session_factory) as session:
            claimed = queue.claim_due(session=session, now=now, lease=self.lease, limit=self._batch_size)
        for index, message in enumerate(claimed):
            if self.paused_until is not None and self._clock() < self.paused_until:
                self._release(claimed[index:])
                break
            self._deliver(message)
        return len(claimed)

    def drain(self, *, max_passes: int = 100) -> int:
        """Run passes until nothing more is due now. Returns the total attempted."""
        total = 0
        for _ in range(max_passes):
            attempted = self.run_once()
            total += attempted
            if attempted == 0:
                break
        return total

    def _deliver(self, message: OutboxMessage) -> None:
        delivery = self._deliveries.get(message.kind)
        try:
            if delivery is None:
                raise PermanentFailure(f"no delivery for kind {message.kind!r}")
            delivered = delivery(self.context, message)
        except TransientFailure as failure:
            self._retry_later(message, failure)
        except PermanentFailure as failure:
            self._give_up(message, failure.error)
        except Exception:
            log.exception(
                "outbox #%s (%s): delivery crashed; will retry", message.id, message.kind, extra=_ids(message)
            )
            self._retry_later(message, TransientFailure("unexpected error", uncertain=True))
        else:
            self._record_sent(message, delivered)

    def _record_sent(self, message: OutboxMessage, delivered: Delivered) -> None:
        with transaction(self._session_factory) as session:
            if delivered.store is not None:
                delivered.store(session)
            queue.mark_sent(
                session=session, message_id=message.id, result=delivered.result, now=self._clock()
            )
        metrics.DELIVERIES.labels(message.kind, "sent").inc()
        log.info(
            "outbox #%s (%s, item #%s) delivered",
            message.id,
            message.kind,
            message.item_id,
            extra=_ids(message),
        )

    def _retry_later(self, message: OutboxMessage, failure: TransientFailure) -> None:
        now = self._clock()
        if failure.retry_after is not None:
            delay = failure.retry_after
            self.paused_until = max(self.paused_until or now, now + timedelta(seconds=delay))
        else:
            delay = backoff_seconds(message.attempts, jitter=self._jitter, cap=self._max_backoff)
        retry_at = now + timedelta(seconds=delay)
        with transaction(self._session_factory) as session:
            queue.mark_retry(
                session=session,
                message_id=message.id,
                error=failure.reason,
                retry_at=retry_at,
                uncertain=failure.uncertain,
            )
        metrics.DELIVERIES.labels(message.kind, "retried").inc()
        log.warning(
            "outbox #%s (%s): %s; attempt %s, retrying in %.1f s",
            message.id,
            message.kind,
            failure.reason,
            message.attempts,
            delay,
            extra=_ids(message),
        )

    def _give_up(self, message: OutboxMessage, error: str) -> None:
        with transaction(self._session_factory) as session:
            queue.mark_failed(session=session, message_id=message.id, error=error)
        metrics.DELIVERIES.labels(message.kind, "failed").inc()
        log.error(
            "outbox #%s (%s, item #%s): Slack refused it (%s); not retrying",
            message.id,
            message.kind,
            message.item_id,
            error,
            extra=_ids(message),
        )

    def _release(self, messages: list[OutboxMessage]) -> None:
        """Hand back claimed messages untouched, to be sent once the rate-limit pause ends."""
        assert self.paused_until is not None
        with transaction(self._session_factory) as session:
            for message in messages:
                queue.release(session=session, message_id=message.id, retry_at=self.paused_until)

    # The background loop inside `cxbot run`.
    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="cxbot-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                attempted = self.run_once()
            except Exception:
                log.exception("outbox dispatcher pass failed; trying again shortly")
                attempted = 0
            if attempted == 0:
                self._wake.wait(self._idle_seconds())
                self._wake.clear()

    def _idle_seconds(self) -> float:
        now = self._clock()
        if self.paused_until is not None and now < self.paused_until:
            return min((self.paused_until - now).total_seconds(), IDLE_POLL_SECONDS)
        try:
            with self._session_factory() as session:
                due = queue.next_due_at(session=session)
        except Exception:
            return IDLE_POLL_SECONDS
        if due is None:
            return IDLE_POLL_SECONDS
        return max(MIN_IDLE_SECONDS, min((due - now).total_seconds(), IDLE_POLL_SECONDS))
