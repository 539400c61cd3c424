"""Filing and delivering in a worker process, so that `cxbot run` uses two cores.

One interpreter lock serves every thread of a process. Under a burst of slash commands the
request threads, Bolt, the filer and the outbox all wait for it, and the acks wait longest. So
`cxbot run` starts one worker process that owns the filer (bot/filer.py, group commit) and the
outbox dispatcher, and the web process only answers Slack:

    web process                                   worker process
    submit(submission) --("file", id, submission)--> Filer (one transaction per batch)
    future resolves   <--("filed", id, number)-----  then wakes the Dispatcher
    wake()            --("wake",)------------------> Dispatcher.wake (e.g. after a button)

An item is still stored before Slack hears back: the ack waits for "filed", which the worker
sends only after the commit. If the worker dies, what it was filing fails over to the same path
as a database outage (the ack says saving is slow; the retry carries the same intake key, so the
item lands once), and a new worker starts. The worker dies with the web process (Linux's
parent-death signal, and end of file on its pipe elsewhere), as if both were one.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy.exc import OperationalError

from bot.errors import FilingFailed, FilingUnavailable, first_line
from bot.filer import Filer, checked_outcome
from bot.heap import freeze_startup_heap
from bot.intake import Submission
from bot.settings import Settings

log = logging.getLogger(__name__)

# The worker's own stop: the filer's last batch, the last replies, the delivery under way.
STOP_TIMEOUT_SECONDS = 30.0
# A worker that keeps dying is restarted ever more slowly; once one has run this long, the next
# restart starts again from the shortest wait.
RESTART_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)
STEADY_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1


class FilingWorker:
    """The web process's side: submit() and wake() go down a pipe to the worker process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # guards the pipe, the process and the pending futures
        self._pending: dict[int, Future[int]] = {}
        self._conn: Connection | None = None
        self._process: BaseProcess | None = None
        self._reader: threading.Thread | None = None
        self._stopping = threading.Event()
        self._restarts = 0
        self._started_at = 0.0

    # The Filing protocol (bot/deps.py).
    def submit(self, submission: Submission) -> Future[int]:
        outcome = checked_outcome(submission)
        if outcome.done():
            return outcome
        request_id = next(self._ids)
        with self._lock:
            stopping = self._stopping.is_set()
            sent = not stopping and self._send(("file", request_id, submission))
            if sent:
                self._pending[request_id] = outcome
        if stopping:
            outcome.set_exception(FilingFailed("cxbot is stopping"))
        elif not sent:
            outcome.set_exception(FilingUnavailable("the filing worker is restarting"))
        return outcome

    def file(self, submission: Submission, *, timeout: float | None = None) -> int:
        return self.submit(submission).result(timeout)

    def wake(self) -> None:
        """Tell the worker's outbox there is something to deliver."""
        with self._lock:
            self._send(("wake",))

    # Lifetime.
    def start(self) -> None:
        with self._lock:
            if self._reader is not None:
                return
            self._spawn()
            self._reader = threading.Thread(target=self._read_replies, name="cxbot-worker-link", daemon=True)
            self._reader.start()
        # However this process ends, the worker doesn't outlive it. (multiprocessing's own exit
        # hook would wait forever for a worker that was never told to stop; ours runs first.)
        atexit.register(self._kill)

    def stop(self) -> None:
        """Let the worker finish what it has queued and stop; kill it if it takes too long."""
        with self._lock:
            self._stopping.set()
            self._send(("stop",))
            process = self._process
        if process is not None:
            process.join(STOP_TIMEOUT_SECONDS)
            if process.is_alive():
                log.warning("the filing worker didn't stop within %.0f s; killing it", STOP_TIMEOUT_SECONDS)
                self._kill()
        if self._reader is not None:
            self._reader.join(5)
        self._fail_pending(FilingFailed("cxbot is stopping"))

    def _kill(self) -> None:
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.is_alive():
            process.kill()
            process.join(5)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _spawn(self) -> None:
        """Start a worker process (the caller holds the lock)."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=run_worker,
            args=(self._settings, theirs, logging.getLogger().level),
            name="cxbot-worker",
            daemon=True,
        )
        process.start()
        theirs.close()
        self._conn, self._process = ours, process
        self._started_at = time.monotonic()
        log.info("filing worker started (pid %s)", process.pid)

    def _send(self, message: tuple[Any, ...]) -> bool:
        """Send on the current pipe (the caller holds the lock); False if the worker is gone."""
        if self._conn is None:
            return False
        try:
            self._conn.send(message)
        except (OSError, ValueError):
            return False
        return True

    def _read_replies(self) -> None:
        """The link's one thread: settles replies, and replaces a worker that dies. Whatever goes
        wrong, it carries on: without it, no ack would ever hear back."""
        while True:
            conn = self._conn
            assert conn is not None
            try:
                reply = conn.recv()
            except (EOFError, OSError):
                if self._stopping.is_set():
                    return
                self._replace_dead_worker()
                continue
            except Exception:
                log.exception("couldn't read the filing worker's reply")
                continue
            try:
                self._settle(reply)
            except Exception:
                log.exception("couldn't settle the filing worker's replies")

    def _settle(self, message: tuple[Any, ...]) -> None:
        _, replies = message
        with self._lock:
            settled = [
                (self._pending.pop(request_id, None), verdict, detail)
                for verdict, request_id, detail in replies
            ]
        for outcome, verdict, detail in settled:
            if outcome is None:
                continue
            if verdict == "filed":
                outcome.set_result(int(detail))
            elif verdict == "unavailable":
                outcome.set_exception(FilingUnavailable(str(detail)))
            else:
                outcome.set_exception(FilingFailed(f"the filing worker couldn't file it: {detail}"))

    def _replace_dead_worker(self) -> None:
        with self._lock:
            old = self._process
        if old is not None:
            old.join(1)
            if old.is_alive():  # the pipe broke but the process lives on: don't run two outboxes
                old.kill()
                old.join(5)
        log.error(
            "the filing worker stopped (exit code %s); starting a new one",
            old.exitcode if old is not None else None,
        )
        self._fail_pending(FilingUnavailable("the filing worker stopped"))
        if time.monotonic() - self._started_at > STEADY_SECONDS:
            self._restarts = 0  # it had been running fine: this is no crash loop
        while not self._stopping.wait(self._next_backoff()):
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    if self._conn is not None:
                        self._conn.close()
                    self._spawn()
                except Exception:
                    log.exception("couldn't start a new filing worker; trying again")
                else:
                    return

    def _next_backoff(self) -> float:
        delay = RESTART_BACKOFF_SECONDS[min(self._restarts, len(RESTART_BACKOFF_SECONDS) - 1)]
        self._restarts += 1
        return delay

    def _fail_pending(self, error: Exception) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for outcome in pending.values():
            outcome.set_exception(error)


def run_worker(settings: Settings, conn: Connection, log_level: int) -> None:
    """The worker process: the filer and the dispatcher, fed by the web process over `conn`."""
    _die_with_parent()
    from bot.cli import GIL_SWITCH_INTERVAL_SECONDS, LOG_FORMAT

    logging.basicConfig(level=log_level, format=LOG_FORMAT)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)  # as in `cxbot run`
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the web process, which stops us
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from bot.clock import system_clock
    from bot.runtime import make_dispatcher, make_filer
    from storage.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    dispatcher = make_dispatcher(settings, session_factory, clock=system_clock)
    filer = make_filer(settings, session_factory, clock=system_clock, dispatcher=dispatcher)
    dispatcher.start()
    freeze_startup_heap()
    try:
        _serve(conn, filer=filer, wake=dispatcher.wake)
    finally:
        filer.stop()
        dispatcher.stop()
        engine.dispose()


def _verdict(outcome: Future[int]) -> tuple[str, Any]:
    """("filed", number), ("unavailable", why) for what is worth retrying (the database is down,
    as when it restarts), or ("failed", why) for what isn't."""
    error = outcome.exception()
    if error is None:
        return "filed", outcome.result()
    why = first_line(error)
    if isinstance(error, OperationalError):
        return "unavailable", why
    log.error("couldn't file a submission", exc_info=error)
    return "failed", f"{type(error).__name__}: {why}"


def _serve(conn: Connection, *, filer: Filer, wake: Callable[[], None]) -> None:
    """The worker's loop, all in one thread: take every message waiting on the pipe, store the
    submissions among them as one batch, and send back every outcome in one message. (A thread
    each for reading, filing and replying cost a hand-over per step, and the acks waited on it.)"""
    while True:
        try:
            messages = [conn.recv()]
            while conn.poll(0):
                messages.append(conn.recv())
        except (EOFError, OSError):
            return  # the web process is gone
        files = [message for message in messages if message[0] == "file"]
        if files:
            outcomes = filer.file_together([submission for _, _, submission in files])
            replies = [
                _reply(request_id, outcome)
                for (_, request_id, _), outcome in zip(files, outcomes, strict=True)
            ]
            try:
                conn.send(("settled", replies))
            except (OSError, ValueError):
                return  # the web process is gone
        if any(message[0] == "wake" for message in messages):
            wake()
        if any(message[0] == "stop" for message in messages):
            return


def _reply(request_id: int, outcome: Future[int]) -> tuple[str, int, Any]:
    """What became of one submission; whatever its outcome, a reply goes back."""
    try:
        verdict, detail = _verdict(outcome)
    except Exception:
        log.exception("couldn't word the reply for a submission")
        verdict, detail = "failed", "unreadable outcome"
    return verdict, request_id, detail


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this process when the web process dies, however it dies.
    (Strictly, when the thread that started it ends: the main thread starts the first worker,
    and the link's reader thread, which lives as long as the process, starts any replacement.)"""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
