"""Answering Slack the moment a listener acks, instead of at Bolt's next 10 ms poll.

Bolt runs a listener on its executor and has the request thread check every 10 ms whether the
listener has called ack() yet. A capture listener acks once its item is stored, a few ms in, so
each ack waited up to 10 ms more for the poll, holding a request thread all the while.

Here the request's ack is one that rings a bell when called (`RingingAck`, put in place by the
app's middleware), and the executor that Bolt hands the listener to waits for that bell (or for
the listener to finish) before giving control back to Bolt. By then ack() has been called, so
Bolt's poll finds the response at once and never sleeps. The listener goes on running on its
own thread after the ack, as before.

A listener that has nothing to do after its ack (filing a command's text: store, then ack) can
skip the executor altogether: registered with the `InRequestThread` listener middleware, it runs
in the request thread itself. That saves two hand-overs between threads per request, each a wait
for the interpreter lock when many requests arrive at once. Such a listener must hand anything
slow that follows its ack to another thread itself, since Slack hears nothing until it returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

from slack_bolt import Ack, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

# Slack gives up on an answer after 3 s; Bolt stops polling then too.
LONGEST_WAIT_SECONDS = 3.0

_P = ParamSpec("_P")
_T = TypeVar("_T")
_request_thread = threading.local()


class RingingAck(Ack):
    def __init__(self, bell: threading.Event) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._bell = bell

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self._bell.set()


def ring_on_ack(req: BoltRequest) -> None:
    """Called by the middleware in the request thread, before any listener runs."""
    bell = threading.Event()
    req.context["ack"] = RingingAck(bell)
    _request_thread.bell = bell
    _request_thread.inline = False


class InRequestThread(Middleware):
    """A listener middleware: run this listener in the request thread, not on the executor, for
    the requests that `when` picks (all, by default). Its class is Bolt's plain Middleware, so
    Bolt doesn't inspect a function's arguments for it on every request."""

    def __init__(self, when: Callable[[BoltRequest], bool] | None = None) -> None:
        self._when = when

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        if self._when is None or self._when(req):
            _request_thread.inline = True
        return next()


class AckWaitingExecutor(Executor):
    """Runs work on `pool`; when Bolt submits a listener for a request whose ack rings, waits in
    the request thread until it has rung or the listener is done."""

    def __init__(self, pool: Executor) -> None:
        self._pool = pool

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        bell: threading.Event | None = getattr(_request_thread, "bell", None)
        if bell is None:
            return self._pool.submit(fn, *args, **kwargs)
        # Lazy listeners submitted after this one neither wait nor run here.
        inline, _request_thread.bell, _request_thread.inline = _request_thread.inline, None, False
        if inline:
            return _run_here(fn, *args, **kwargs)
        future = self._pool.submit(fn, *args, **kwargs)
        future.add_done_callback(lambda _done: bell.set())
        bell.wait(LONGEST_WAIT_SECONDS)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _run_here(fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
    done: Future[_T] = Future()
    try:
        done.set_result(fn(*args, **kwargs))
    except Exception as error:  # Bolt's runner catches a listener's errors; this is a backstop
        done.set_exception(error)
    return done
