"""Filing submissions in batches: group commit.

Every /cx-alarm, /cx-idea and filing modal is stored before Slack hears back. When many arrive at
once, a transaction each would queue them behind one another for the database's write lock
(SQLite has a single writer) and pay a commit apiece. Instead one writer thread takes everything
that is waiting and stores it in one transaction: one INSERT per table, one commit. Each caller
waits on a future for its own submission: the item's number, or the error that stopped it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.errors import InvalidSubmission, first_line
from bot.intake import Submission, Triage, check_text, file_items
from storage import routes as route_queries
from storage.db import HeldConnection, reading_session
from storage.items import item_by_intake_key
from storage.models import Route

log = logging.getLogger(__name__)

MAX_BATCH = 200
# Routes change only when an admin runs `cxbot routes import`; a running bot sees the new ones
# within this many seconds, and doesn't read them again for every batch.
ROUTES_MAX_AGE_SECONDS = 5.0
# After keep_warm fails (the database is away), it lets this many seconds pass before trying again.
WARM_RETRY_SECONDS = 30.0


def checked_outcome(submission: Submission) -> Future[int]:
    """A future for the submission's number, already failed with InvalidSubmission if its text
    can't be filed (empty, too long): that needs no trip to the database."""
    outcome: Future[int] = Future()
    try:
        check_text(submission.text, kind=submission.kind)
    except InvalidSubmission as invalid:
        outcome.set_exception(invalid)
    return outcome


@dataclass(frozen=True)
class _Request:
    submission: Submission
    outcome: Future[int]


class Filer:
    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        triage: Triage,
        clock: Clock,
        on_filed: Callable[[], None],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._session_factory = session_factory
        self._triage = triage
        self._clock = clock
        self._on_filed = on_filed
        self._max_batch = max_batch
        self._waiting: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._activity = threading.Lock()  # guards _in_flight and _last_activity
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self._filed_log = FiledLog()
        self._routes: tuple[float, list[Route]] = (-ROUTES_MAX_AGE_SECONDS, [])
        self._warm_again_at = 0.0
        # Used by the writer thread only: one connection for every batch (see HeldConnection).
        self._writer = HeldConnection(session_factory.kw["bind"])

    def submit(self, submission: Submission) -> Future[int]:
        """Queue a submission for the next batch; the future resolves once it is committed."""
        outcome = checked_outcome(submission)
        if outcome.done():
            return outcome
        self._start()
        with self._activity:
            self._in_flight += 1
            self._last_activity = time.monotonic()
        self._waiting.put(_Request(submission, outcome))
        return outcome

    def file_together(self, submissions: list[Submission]) -> list[Future[int]]:
        """Store these in one batch in the calling thread (the filing worker's own loop, which
        gathers what is waiting on its pipe); the futures come back settled, in the same order."""
        outcomes = [checked_outcome(submission) for submission in submissions]
        live = [
            _Request(submission, outcome)
            for submission, outcome in zip(submissions, outcomes, strict=True)
            if not outcome.done()
        ]
        if live:
            with self._activity:
                self._in_flight += len(live)
                self._last_activity = time.monotonic()
            self._file_batch(live)
        return outcomes

    def keep_warm(self, *, within: float) -> None:
        """For an idle moment of the thread that files: read the routes again and check out a
        live connection if either would otherwise be due within `within` seconds, so the first
        filing after a quiet spell doesn't pay for them while its ack waits. Best effort: if the
        database can't be reached, it tries again only after WARM_RETRY_SECONDS, and meanwhile
        the next filing reads what it needs itself and reports what is wrong."""
        now = time.monotonic()
        if now < self._warm_again_at:
            return
        try:
            if now - self._routes[0] >= ROUTES_MAX_AGE_SECONDS - within:
                self._read_routes()
            self._writer.refresh_if_idle(within=within)
        except Exception as error:  # whatever it is, the next filing meets it too
            log.debug("couldn't get ready for the next filing: %s", first_line(error))
            self._warm_again_at = now + WARM_RETRY_SECONDS

    def wait_until_quiet(self, *, quiet: float, longest: float) -> None:
        """Block while submissions keep arriving: until none is in flight and the last one finished
        `quiet` seconds ago, but never longer than `longest`. The outbox calls this before each
        delivery so that a burst of filings is stored and acked first; Slack wants the acks
        within 3 s, and the deliveries can wait a moment."""
        deadline = time.monotonic() + longest
        while (now := time.monotonic()) < deadline:
            with self._activity:
                calm_for = now - self._last_activity
                busy = self._in_flight > 0
            if not busy and calm_for >= quiet:
                return
            # Filings don't ring when they finish: under a burst that would wake this thread
            # once a batch, for nothing. It looks again when the quiet could be over.
            time.sleep(min(quiet if busy else quiet - calm_for, deadline - now))

    def file(self, submission: Submission, *, timeout: float | None = None) -> int:
        """Store it and return its number (blocking), or raise what stopped it."""
        return self.submit(submission).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop the writer thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._waiting.put(None)
            thread.join(timeout)
        self._filed_log.flush()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="cxbot-filer", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        try:
            while True:
                batch, stopping = self._next_batch()
                if batch:
                    self._file_batch(batch)
                if stopping:
                    return
        finally:
            self._writer.close()

    def _next_batch(self) -> tuple[list[_Request], bool]:
        """Block for the first request, then take whatever else is already waiting."""
        try:
            first = self._waiting.get(timeout=self._filed_log.due_in())
        except queue.Empty:
            self._filed_log.flush()
            first = self._waiting.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                request = self._waiting.get_nowait()
            except queue.Empty:
                break
            if request is None:
                return batch, True
            batch.append(request)
        return batch, False

    def _file_batch(self, batch: list[_Request]) -> None:
        live = [request for request in batch if request.outcome.set_running_or_notify_cancel()]
        try:
            numbers = self._store([request.submission for request in live])
        except IntegrityError:
            # Another process filed one of these intake keys between our check and our insert;
            # file them one at a time so each gets its own answer.
            for request in live:
                self._file_alone(request)
        except Exception as error:
            for request in live:
                request.outcome.set_exception(error)
        else:
            self._filed_log.add(numbers)
            for request, number in zip(live, numbers, strict=True):
                request.outcome.set_result(number)
        with self._activity:
            self._in_flight -= len(batch)
            self._last_activity = time.monotonic()
        self._after_filing()

    def _store(self, submissions: list[Submission]) -> list[int]:
        routes = self._active_routes()
        with self._writer.transaction() as connection:
            return file_items(
                connection=connection,
                submissions=submissions,
                triage=self._triage,
                now=self._clock(),
                routes=routes,
            )

    def _active_routes(self) -> list[Route]:
        """The active routes, read again once they are ROUTES_MAX_AGE_SECONDS old."""
        read_at, routes = self._routes
        if time.monotonic() - read_at >= ROUTES_MAX_AGE_SECONDS:
            routes = self._read_routes()
        return routes

    def _read_routes(self) -> list[Route]:
        with reading_session(self._session_factory) as session:
            routes = route_queries.active_routes(session=session)
        self._routes = (time.monotonic(), routes)
        return routes

    def _file_alone(self, request: _Request) -> None:
        submission = request.submission
        try:
            try:
                number = self._store([submission])[0]
            except IntegrityError:
                if submission.intake_key is None:
                    raise
                with self._session_factory() as session:
                    existing = item_by_intake_key(session=session, intake_key=submission.intake_key)
                if existing is None:
                    raise
                number = existing.id
        except Exception as error:
            request.outcome.set_exception(error)
        else:
            self._filed_log.add([number])
            request.outcome.set_result(number)

    def _after_filing(self) -> None:
        try:
            self._on_filed()
        except Exception:
            log.exception("couldn't wake the outbox after filing")


class FiledLog:
    """Logs the numbers of the items filed: a line each when they come one at a time, and at
    most a line a second under a burst (a line per item would cost the acks time)."""

    def __init__(self, *, interval: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._last_line_at = monotonic() - interval
        self._held: list[int] = []

    def add(self, numbers: list[int]) -> None:
        self._held.extend(numbers)
        if self._monotonic() - self._last_line_at >= self._interval:
            self.flush()

    def due_in(self) -> float | None:
        """Seconds until the held-back numbers are due a line; None if nothing is held back."""
        if not self._held:
            return None
        return max(0.0, self._last_line_at + self._interval - self._monotonic())

    def flush(self) -> None:
        held, self._held = self._held, []
        if not held:
            return
        self._last_line_at = self._monotonic()
        if len(held) == 1:
            log.info("filed #%d", held[0])
            return
        listed = ", ".join(f"#{number}" for number in held[:5])
        more = f" and {len(held) - 5} more" if len(held) > 5 else ""
        log.info("filed %d items: %s%s", len(held), listed, more)
