"""Filing and delivering in a worker process, so that `cxbot run` uses two cores.

One interpreter lock serves every thread of a process. Under a burst of slash commands the
request threads, Bolt, the filer and the outbox all wait for it, and the acks wait longest. So
`cxbot run` starts one worker process that owns the filer (bot/filer.py, group commit) and the
outbox dispatcher, and the web process only answers Slack:

    web process                                       worker process
    file(submission)  --lane: ("file", id, submission)--> Filer (one transaction per batch)
                      <--lane: (id, "filed", number)----- then wakes the Dispatcher
    wake()            --control: ("wake",)--------------> Dispatcher.wake (e.g. after a button)

A lane is one of a few dozen socket pairs, each carrying one filing at a time: the thread that
files waits on its own lane, and wakes straight from the worker's answer. The worker takes what
is waiting on every lane, stores it as one batch and answers each lane.

An item is still stored before Slack hears back: the ack waits for "filed", which the worker
sends only after the commit. If the worker dies, what it was filing fails over to the same path
as a database outage (the ack says saving is slow; the retry carries the same intake key, so the
item lands once), and a new worker starts. The worker dies with the web process (Linux's
parent-death signal, and end of file on its control socket elsewhere), as if both were one.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import queue
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy.exc import OperationalError

from bot import wire
from bot.errors import FilingFailed, FilingUnavailable, first_line
from bot.filer import Filer
from bot.heap import freeze_startup_heap
from bot.intake import Submission, check_text
from bot.settings import Settings

log = logging.getLogger(__name__)

# Lanes from the web process to the worker, each carrying one filing at a time: more than the
# threads that file at once (the HTTP server's request threads, and the listener threads).
LANES = 48
# A lane's message goes out at once unless the worker is stuck; past this it counts as broken.
SEND_TIMEOUT_SECONDS = 5.0
# The worker's own stop: the filer's last batch, the last replies, the delivery under way.
STOP_TIMEOUT_SECONDS = 30.0
# A worker that keeps dying is restarted ever more slowly; once one has run this long, the next
# restart starts again from the shortest wait.
RESTART_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)
STEADY_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1
# While no filing arrives, the worker looks this often whether its routes or its database
# connection are due a refresh, and refreshes them then rather than in the next burst's first batch.
IDLE_TICK_SECONDS = 1.0
# On stop, how long the worker waits for the rest of an ask that has only partly arrived.
LAST_ASKS_SECONDS = 1.0


class _Lane:
    """The web process's end of one lane."""

    __slots__ = ("broken", "channel")

    def __init__(self, sock: socket.socket) -> None:
        self.channel = wire.Channel(sock)
        self.broken = False


class _Lanes:
    """The lanes to one worker process: whoever files takes one, and gives it back once answered.
    When that worker is gone, its lanes are closed, and whoever waits for one (or asks for one
    later) hears so at once."""

    def __init__(self, socks: list[socket.socket]) -> None:
        self._free: queue.SimpleQueue[_Lane | None] = queue.SimpleQueue()
        for sock in socks:
            self._free.put(_Lane(sock))
        self.count = len(socks)
        self.broken = 0
        self._closed = False
        self._lock = threading.Lock()

    def take(self, deadline: float | None) -> _Lane:
        wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        try:
            lane = self._free.get(timeout=wait)
        except queue.Empty:
            raise TimeoutError("every lane to the filing worker is busy") from None
        if lane is None:
            self._free.put(None)  # for the next one waiting
            raise FilingUnavailable("the filing worker stopped")
        return lane

    def give_back(self, lane: _Lane) -> None:
        with self._lock:
            if lane.broken or self._closed:
                self.broken += lane.broken
                lane.channel.close()
            else:
                self._free.put(lane)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            while True:
                try:
                    lane = self._free.get_nowait()
                except queue.Empty:
                    break
                if lane is not None:
                    lane.channel.close()
            self._free.put(None)


class FilingWorker:
    """The web process's side: file() and wake() go down pipes to the worker process."""

    def __init__(self, settings: Settings, *, lanes: int = LANES) -> None:
        self._settings = settings
        self._lane_count = lanes
        self._ids = itertools.count(1)
        # Guards the process, the control pipe, the lanes and the count of filings under way.
        self._lock = threading.Lock()
        self._all_settled = threading.Condition(self._lock)
        self._under_way = 0
        self._lanes: _Lanes | None = None  # None while no worker is running
        self._control: wire.Channel | None = None
        self._process: BaseProcess | None = None
        self._watcher: threading.Thread | None = None
        self._stopping = threading.Event()
        self._restarts = 0
        self._started_at = 0.0

    # The Filing protocol (bot/deps.py).
    def file(self, submission: Submission, *, timeout: float | None = None) -> int:
        """Store it in the worker and return its number; TimeoutError if no answer came within
        `timeout` (it may still land: a retry with the same intake key files it once)."""
        check_text(submission.text, kind=submission.kind)  # InvalidSubmission needs no trip
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._stopping.is_set():
                raise FilingFailed("cxbot is stopping")
            lanes = self._lanes
            self._under_way += 1
        try:
            if lanes is None:
                raise FilingUnavailable("the filing worker is restarting")
            lane = lanes.take(deadline)
            try:
                verdict, detail = self._ask(lane, submission, deadline)
            finally:
                lanes.give_back(lane)
                if lane.broken:
                    self._mind_broken_lanes(lanes)
        finally:
            with self._lock:
                self._under_way -= 1
                if not self._under_way:
                    self._all_settled.notify_all()
        if verdict == "filed":
            return int(detail)
        if verdict == "unavailable":
            raise FilingUnavailable(str(detail))
        raise FilingFailed(f"the filing worker couldn't file it: {detail}")

    def wake(self) -> None:
        """Tell the worker's outbox there is something to deliver."""
        with self._lock:
            self._send_control(("wake",))

    def _ask(self, lane: _Lane, submission: Submission, deadline: float | None) -> tuple[str, Any]:
        request_id = next(self._ids)
        try:
            lane.channel.send(("file", request_id, submission), timeout=SEND_TIMEOUT_SECONDS)
        except OSError:  # the worker is gone, or the send broke off partway (the lane is unusable)
            lane.broken = True
            raise FilingUnavailable("the filing worker stopped") from None
        try:
            while True:
                wait = None if deadline is None else max(deadline - time.monotonic(), 0.001)
                reply_id, verdict, detail = lane.channel.receive(timeout=wait)
                if reply_id == request_id:  # else: a late answer to an earlier ask that timed out
                    return verdict, detail
        except TimeoutError:
            raise TimeoutError("the filing worker hasn't answered yet") from None
        except (EOFError, OSError):
            lane.broken = True
            raise FilingUnavailable("the filing worker stopped") from None

    def _mind_broken_lanes(self, lanes: _Lanes) -> None:
        """A lane can break with its worker alive (a message cut off by a timeout); with too many
        gone, restart the worker, which comes back with a full set."""
        with self._lock:
            if lanes is not self._lanes or lanes.broken < lanes.count // 4 or self._stopping.is_set():
                return
            process = self._process
        log.warning("%d of the filing worker's %d lanes broke; restarting it", lanes.broken, lanes.count)
        if process is not None:
            process.kill()  # the watcher starts a new one

    # Lifetime.
    def start(self) -> None:
        with self._lock:
            if self._watcher is not None:
                return
            self._spawn()
            self._watcher = threading.Thread(target=self._watch, name="cxbot-worker-watch", daemon=True)
            self._watcher.start()
        # However this process ends, the worker doesn't outlive it. (multiprocessing's own exit
        # hook would wait forever for a worker that was never told to stop; ours runs first.)
        atexit.register(self._kill)

    def stop(self) -> None:
        """Refuse new filings, let those under way finish, then let the worker store what it
        has and stop; kill it if it takes too long."""
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        with self._lock:
            self._stopping.set()
            self._all_settled.wait_for(lambda: not self._under_way, STOP_TIMEOUT_SECONDS)
            self._send_control(("stop",))
            process = self._process
        if process is not None:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                log.warning("the filing worker didn't stop within %.0f s; killing it", STOP_TIMEOUT_SECONDS)
                self._kill()
        if self._watcher is not None:
            self._watcher.join(5)
        with self._lock:
            self._close_sockets()

    def _close_sockets(self) -> None:
        """Close the ends of the worker that is gone (the caller holds the lock)."""
        lanes, self._lanes = self._lanes, None
        if lanes is not None:
            lanes.close()
        if self._control is not None:
            self._control.close()
            self._control = None

    def _kill(self) -> None:
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.is_alive():
            process.kill()
            process.join(5)

    @property
    def filings_under_way(self) -> int:
        """How many file() calls are waiting for the worker's answer now."""
        with self._lock:
            return self._under_way

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _spawn(self) -> None:
        """Start a worker process with a control socket and its lanes (the caller holds the lock)."""
        context = multiprocessing.get_context("spawn")
        control, their_control = socket.socketpair()
        pairs = [socket.socketpair() for _ in range(self._lane_count)]
        theirs = [their_control, *(their for _, their in pairs)]
        try:
            process = context.Process(
                target=run_worker,
                args=(self._settings, their_control, theirs[1:], logging.getLogger().level),
                name="cxbot-worker",
                daemon=True,
            )
            process.start()
        except BaseException:
            for sock in (control, *(ours for ours, _ in pairs)):
                sock.close()
            raise
        finally:
            for sock in theirs:  # the worker has its own copies now
                sock.close()
        self._control, self._process = wire.Channel(control), process
        self._lanes = _Lanes([ours for ours, _ in pairs])
        self._started_at = time.monotonic()
        log.info("filing worker started (pid %s)", process.pid)

    def _send_control(self, message: tuple[Any, ...]) -> None:
        """Send to the current worker (the caller holds the lock); if it is gone, the watcher
        is already replacing it, and a new worker delivers whatever is due when it starts."""
        if self._control is None:
            return
        with contextlib.suppress(OSError):
            self._control.send(message)

    def _watch(self) -> None:
        """The watcher's one thread: waits for the worker to exit, and replaces it unless it was
        told to stop."""
        while True:
            process = self._process
            assert process is not None
            multiprocessing.connection.wait([process.sentinel])  # its exit; stop() reaps it
            if self._stopping.is_set():
                return
            process.join(5)
            try:
                self._replace_dead_worker(process)
            except Exception:
                log.exception("couldn't replace the filing worker; trying again")

    def _replace_dead_worker(self, old: BaseProcess) -> None:
        log.error("the filing worker stopped (exit code %s); starting a new one", old.exitcode)
        with self._lock:
            # Filings waiting on the old worker (for its answer, or for a lane to it) fail over to
            # the retry path, and so do new ones until the new worker is up.
            self._close_sockets()
        if time.monotonic() - self._started_at > STEADY_SECONDS:
            self._restarts = 0  # it had been running fine: this is no crash loop
        while not self._stopping.wait(self._next_backoff()):
            with self._lock:
                if self._stopping.is_set():
                    return
                try:
                    self._spawn()
                except Exception:
                    log.exception("couldn't start a new filing worker; trying again")
                else:
                    return

    def _next_backoff(self) -> float:
        delay = RESTART_BACKOFF_SECONDS[min(self._restarts, len(RESTART_BACKOFF_SECONDS) - 1)]
        self._restarts += 1
        return delay


def run_worker(
    settings: Settings, control: socket.socket, lanes: list[socket.socket], log_level: int
) -> None:
    """The worker process: the filer and the dispatcher, fed by the web process over `lanes`
    (filings) and `control` (wake and stop)."""
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
        _serve(control, lanes, filer=filer, wake=dispatcher.wake)
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


def _serve(
    control: socket.socket, lanes: list[socket.socket], *, filer: Filer, wake: Callable[[], None]
) -> None:
    """The worker's loop, all in one thread: take the submissions waiting on every lane that has
    some, store them as one batch, and answer each on its own lane. (A thread each for reading,
    filing and replying cost a hand-over per step, and the acks waited on it.) When nothing
    arrives for a while, keep the filer ready for the next burst."""
    control_channel = wire.Channel(control)
    with selectors.DefaultSelector() as selector:
        for channel in (control_channel, *map(wire.Channel, lanes)):
            selector.register(channel, selectors.EVENT_READ, channel)
        while True:
            ready = selector.select(timeout=IDLE_TICK_SECONDS)
            if not ready:
                filer.keep_warm(within=2 * IDLE_TICK_SECONDS)
                continue
            asks, orders = _arrived(selector, [key.data for key, _ in ready], control=control_channel)
            _file_and_answer(asks, filer)  # even if the web process has gone: they are items raised
            if "gone" in orders:
                return
            if "wake" in orders:
                wake()
            if "stop" in orders:
                _file_what_is_left(selector, filer, control=control_channel)
                return


_Ask = tuple[wire.Channel, int, Submission]


def _arrived(
    selector: selectors.BaseSelector, channels: list[wire.Channel], *, control: wire.Channel
) -> tuple[list[_Ask], list[str]]:
    """What has arrived on these readable channels: the asks to file, and the orders ("wake",
    "stop"). A channel whose other end has closed is dropped; when that is the control channel,
    the order is "gone": the web process has ended."""
    asks: list[_Ask] = []
    orders: list[str] = []
    for channel in channels:
        try:
            messages = channel.receive_arrived()
        except (EOFError, OSError):
            selector.unregister(channel)
            channel.close()
            messages = [("gone",)] if channel is control else []
        for message in messages:
            if message[0] == "file":
                asks.append((channel, message[1], message[2]))
            else:
                orders.append(message[0])
    return asks, orders


def _file_what_is_left(selector: selectors.BaseSelector, filer: Filer, *, control: wire.Channel) -> None:
    """Before stopping: file whatever is still waiting on the lanes (an ask whose sender stopped
    waiting for the answer is still an item someone raised), and wait a moment for the rest of
    any ask that has only partly arrived."""
    deadline = time.monotonic() + LAST_ASKS_SECONDS
    while True:
        partial = any(key.data.partial for key in selector.get_map().values())
        wait = max(deadline - time.monotonic(), 0.0) if partial else 0.0
        ready = selector.select(timeout=wait)
        asks, _orders = _arrived(selector, [key.data for key, _ in ready], control=control)
        _file_and_answer(asks, filer)
        if not ready:
            return


def _file_and_answer(asks: list[_Ask], filer: Filer) -> None:
    if not asks:
        return
    outcomes = filer.file_together([submission for _, _, submission in asks])
    for (lane, request_id, _), outcome in zip(asks, outcomes, strict=True):
        with contextlib.suppress(OSError):  # that lane's end is gone: nobody to tell
            lane.send(_reply(request_id, outcome))


def _reply(request_id: int, outcome: Future[int]) -> tuple[int, str, Any]:
    """What became of one submission; whatever its outcome, a reply goes back."""
    try:
        verdict, detail = _verdict(outcome)
    except Exception:
        log.exception("couldn't word the reply for a submission")
        verdict, detail = "failed", "unreadable outcome"
    return request_id, verdict, detail


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this process when the web process dies, however it dies.
    (Strictly, when the thread that started it ends: the main thread starts the first worker,
    and the watcher thread, which lives as long as the process, starts any replacement.)"""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
