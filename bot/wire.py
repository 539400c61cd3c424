"""Messages between cxbot's two processes, over connected sockets: each a pickle behind a 4-byte
length.

Every socket call in Python lets go of the interpreter lock for its system call and must win the
lock back afterwards. In the web process under a burst, every thread wants the lock, so each of
those calls costs a wait behind the others, and the acks waited on them. A socket with a Python
timeout makes two calls for each read or write (a poll, then the call itself), and reading a
length and then a body makes two reads. So a Channel keeps its socket in blocking mode, leaves
the timeouts to the kernel (SO_RCVTIMEO, SO_SNDTIMEO), and reads whatever has arrived in one call
into a buffer of its own: a message costs one call to send and, usually, one to receive. (Those
kernel timeouts take a struct timeval, as on Linux and macOS, where `cxbot run` runs.)

multiprocessing's Connection does the same framing, but it waits with a timeout by building a
selector each time, and its pickler is a Python class built for each message.

Both ends are this code, in processes started from the same installation: a pickle from the
other end is as trusted as the code that reads it.
"""

from __future__ import annotations

import math
import pickle
import socket
import struct
import time
from typing import Any

_HEADER = struct.Struct("!I")
_TIMEVAL = struct.Struct("@ll")  # struct timeval: seconds, microseconds
_READ_SIZE = 65536


class Channel:
    """One end of a connected stream socket, carrying whole messages."""

    __slots__ = ("_buffer", "_timeouts", "sock")

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(None)  # blocking: Python makes the system call straight away, with no poll
        self.sock = sock
        self._buffer = bytearray()
        self._timeouts: dict[int, float | None] = {socket.SO_RCVTIMEO: None, socket.SO_SNDTIMEO: None}

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def send(self, message: Any, *, timeout: float | None = None) -> None:
        """TimeoutError if it couldn't all go within `timeout` seconds: part of it may have gone,
        and the channel can't be used for messages any more."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        deadline = _deadline(timeout)
        unsent = memoryview(_HEADER.pack(len(data)) + data)
        while unsent:
            left = _left(deadline)
            if left != 0:
                self._set_timeout(socket.SO_SNDTIMEO, left)
            try:
                unsent = unsent[self.sock.send(unsent, socket.MSG_DONTWAIT if left == 0 else 0) :]
            except BlockingIOError:  # the kernel's send timeout ran out (maybe a tick early)
                if left == 0:
                    raise TimeoutError("the other end isn't reading") from None

    def receive(self, *, timeout: float | None = None) -> Any:
        """The next message. TimeoutError if it hasn't all arrived within `timeout` seconds (what
        has arrived is kept, and the rest can be read later); EOFError if the other end has closed."""
        deadline = _deadline(timeout)
        while (message := self._next_buffered()) is _INCOMPLETE:
            left = _left(deadline)
            if left == 0:
                if not self._read(socket.MSG_DONTWAIT):  # a last look, without waiting
                    raise TimeoutError("no message within the time allowed")
                continue
            self._set_timeout(socket.SO_RCVTIMEO, left)
            self._read()
        return message

    def receive_arrived(self) -> list[Any]:
        """For a loop that waits on a selector, once this socket is readable: read what has
        arrived without waiting, and return every message now complete (one cut off partway
        stays buffered until the rest arrives). EOFError if the other end has closed."""
        self._read(socket.MSG_DONTWAIT)
        messages = []
        while (message := self._next_buffered()) is not _INCOMPLETE:
            messages.append(message)
        return messages

    @property
    def partial(self) -> bool:
        """Whether part of a message has arrived and the rest hasn't yet."""
        return bool(self._buffer)

    def _read(self, flags: int = 0) -> bool:
        """One read into the buffer. False if nothing came (with MSG_DONTWAIT, nothing was
        there; without it, the kernel's receive timeout ran out); EOFError if the other end has
        closed."""
        try:
            data = self.sock.recv(_READ_SIZE, flags)
        except BlockingIOError:
            return False
        if not data:
            raise EOFError("the other end closed the socket")
        self._buffer += data
        return True

    def _next_buffered(self) -> Any:
        buffer = self._buffer
        if len(buffer) < _HEADER.size:
            return _INCOMPLETE
        (length,) = _HEADER.unpack_from(buffer)
        end = _HEADER.size + length
        if len(buffer) < end:
            return _INCOMPLETE
        with memoryview(buffer) as view:
            message = pickle.loads(view[_HEADER.size : end])
        del buffer[:end]
        return message

    def _set_timeout(self, option: int, timeout: float | None) -> None:
        """The kernel's timeout for this direction; 0 in a timeval means none. Set only when it
        changes (a system call that keeps the interpreter lock)."""
        if self._timeouts[option] == timeout:
            return
        seconds = 0.0 if timeout is None else timeout
        whole = math.floor(seconds)
        self.sock.setsockopt(socket.SOL_SOCKET, option, _TIMEVAL.pack(whole, int((seconds - whole) * 1e6)))
        self._timeouts[option] = timeout


_INCOMPLETE = object()
# The shortest timeout given to the kernel: a timeval of 0 would mean "wait forever".
_SHORTEST_SECONDS = 1e-6


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _left(deadline: float | None) -> float | None:
    """Seconds left until `deadline` (None: no deadline); 0 once it has passed."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    return left if left >= _SHORTEST_SECONDS else 0
