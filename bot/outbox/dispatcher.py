"""The outbox dispatcher: the only code that delivers stored changes to Slack.

It claims due messages, most urgent first and paced to Slack's rate limits (bot/outbox/pacing.py),
delivers each, and records the outcome. Slack errors, 5xx and timeouts are retried with
exponential backoff; a 429 holds only the limit it is about (a channel, a method) for Retry-After.
If Slack refuses the token (revoked, app uninstalled), deliveries stop and wait, untouched, for
a new token and a restart. Pending messages survive restarts because they live in the database.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.ops import metrics
from bot.outbox.deliveries import Delivered, Delivery, DeliveryContext
from bot.outbox.pacing import Pacer, key_for_refusal
from bot.outbox.slack_calls import TOKEN_ERRORS, PermanentFailure, TransientFailure
from storage import outbox as queue
from storage.db import transaction
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
LEASE = timedelta(minutes=2)
IDLE_POLL_SECONDS = 5.0
MIN_IDLE_SECONDS = 0.05
# While Slack refuses the token: how often to say so in the log.
TOKEN_REFUSED_LOG_SECONDS = 60.0


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
        pacer: Pacer | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self.context = context
        self._deliveries = deliveries
        self._clock = clock
        self._batch_size = batch_size
        self._jitter = jitter
        self._max_backoff = max_backoff
        self.lease = lease
        self.pacer = pacer
        self._monotonic = monotonic
        self._pace_wait: float | None = None
        # Why Slack refuses the token (token_revoked...), once it has; None while it doesn't.
        self.token_refused: str | None = None
        self._token_logged_at: float | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # One pass, used by the background loop and directly by tests and `cxbot` commands.
    def run_once(self) -> int:
        """Deliver what is due now. Returns how many messages were attempted."""
        if self.token_refused is not None:
            self._say_token_refused()
            return 0
        claimed = self._claim()
        held: set[str] = set()
        for index, message in enumerate(claimed):
            if self.token_refused is not None:
                self._release(claimed[index:])
                break
            if self._held_back(message, held):
                self._release([message])
                continue
            refused = self._deliver(message)
            if refused is not None:
                held.add(refused)
        return len(claimed)

    def _claim(self) -> list[OutboxMessage]:
        now = self._clock()
        with transaction(self._session_factory) as session:
            if self.pacer is None:
                return queue.claim_due(session=session, now=now, lease=self.lease, limit=self._batch_size)
            claimed = self.pacer.claim(session, now=now, lease=self.lease, limit=self._batch_size)
        self._pace_wait = claimed.wait
        return claimed.messages

    def _held_back(self, message: OutboxMessage, held: set[str]) -> bool:
        """Whether a 429 earlier in this batch held a limit this message counts against."""
        return self.pacer is not None and any(key in held for key in self.pacer.limits_of(message.pace_key))

    def drain(self, *, max_passes: int = 100_000) -> int:
        """Run passes until nothing more is due now, waiting out rate limits on the way (a nag
        sweep's DMs go at the workspace's pace). Returns the total attempted."""
        total = 0
        for _ in range(max_passes):
            attempted = self.run_once()
            total += attempted
            if attempted == 0:
                if self._pace_wait is None or self.token_refused is not None:
                    break
                time.sleep(self._pace_wait)
        return total

    def _deliver(self, message: OutboxMessage) -> str | None:
        """Deliver one message and record the outcome. Returns the rate limit a 429 held, if any."""
        delivery = self._deliveries.get(message.kind)
        try:
            if delivery is None:
                raise PermanentFailure(f"no delivery for kind {message.kind!r}")
            delivered = delivery(self.context, message)
        except TransientFailure as failure:
            return self._retry_later(message, failure)
        except PermanentFailure as failure:
            if failure.error in TOKEN_ERRORS:
                self.refuse_token(failure.error)
                self._release([message])
            else:
                self._give_up(message, failure.error)
        except Exception:
            log.exception(
                "outbox #%s (%s): delivery crashed; will retry", message.id, message.kind, extra=_ids(message)
            )
            self._retry_later(message, TransientFailure("unexpected error", uncertain=True))
        else:
            self._record_sent(message, delivered)
        return None

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

    def _retry_later(self, message: OutboxMessage, failure: TransientFailure) -> str | None:
        """Try again later: after Retry-After for a 429 (holding only the limit it names), else
        after a backoff. Returns the limit held, if any."""
        now = self._clock()
        held: str | None = None
        if failure.retry_after is not None:
            delay = failure.retry_after
            if self.pacer is not None and failure.method is not None:
                held = key_for_refusal(failure.method, failure.channel)
        else:
            delay = backoff_seconds(message.attempts, jitter=self._jitter, cap=self._max_backoff)
        # A message held by its own limit waits on the limit, not on a time of its own.
        own_limit = self.pacer is not None and held in self.pacer.limits_of(message.pace_key)
        retry_at = now if own_limit else now + timedelta(seconds=delay)
        with transaction(self._session_factory) as session:
            if held is not None and self.pacer is not None:
                self.pacer.hold(session, key=held, seconds=delay)
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
        return held

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
        """Hand back claimed messages untouched: no attempt counted, nothing uncertain."""
        now = self._clock()
        with transaction(self._session_factory) as session:
            for message in messages:
                queue.release(session=session, message_id=message.id, retry_at=now)

    # Slack refuses the token.
    def refuse_token(self, error: str) -> None:
        """Stop delivering until a restart with a new token. Nothing is marked failed."""
        if self.token_refused is None:
            self.token_refused = error
            self._say_token_refused()

    def _say_token_refused(self) -> None:
        """One ERROR a minute while the token is refused, not one per message."""
        moment = self._monotonic()
        if self._token_logged_at is not None and moment - self._token_logged_at < TOKEN_REFUSED_LOG_SECONDS:
            return
        self._token_logged_at = moment
        with self._session_factory() as session:
            waiting = queue.counts_by_status(session=session).get("pending", 0)
        log.error(
            "Slack refuses cxbot's token (%s): nothing is being delivered; %d messages are waiting, "
            "and none is lost. Set a new SLACK_BOT_TOKEN (reinstall the app if it was removed) and "
            "restart cxbot.",
            self.token_refused,
            waiting,
        )

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
        if self.token_refused is not None:
            return IDLE_POLL_SECONDS
        if self._pace_wait is not None:
            return self._pace_wait  # something due waits on a rate limit
        now = self._clock()
        try:
            with self._session_factory() as session:
                due = queue.next_due_at(session=session)
        except Exception:
            return IDLE_POLL_SECONDS
        if due is None:
            return IDLE_POLL_SECONDS
        return max(MIN_IDLE_SECONDS, min((due - now).total_seconds(), IDLE_POLL_SECONDS))
