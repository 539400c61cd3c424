"""Messages between cxbot's two processes, over connected sockets: each a pickle behind a 4-byte
length.

multiprocessing's Connection does the same, but it can wait for an answer with a timeout only by
building a selector for each wait, and its pickler is a Python class built for each message. On
the ack's path, once per slash command, those cost more than the message itself. Here a socket's
own timeout does the waiting, and the pickling is the C pickler's.

Both ends are this code, in processes started from the same installation: a pickle from the
other end is as trusted as the code that reads it.
"""

from __future__ import annotations

import pickle
import socket
import struct
from typing import Any

_HEADER = struct.Struct("!I")


class Torn(Exception):
    """A message stopped arriving partway through: what follows on this socket can't be read."""


def send(sock: socket.socket, message: Any, *, timeout: float | None = None) -> None:
    """TimeoutError if it couldn't all go within `timeout` seconds: part of it may have gone,
    and the socket can't be used for messages any more."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    if sock.gettimeout() != timeout:
        sock.settimeout(timeout)
    sock.sendall(_HEADER.pack(len(data)) + data)


def receive(sock: socket.socket, *, timeout: float | None = None) -> Any:
    """The next message. TimeoutError if none began to arrive within `timeout` seconds (the socket
    can still be read later); EOFError if the other end has closed; Torn if one began to arrive
    and the rest didn't within `timeout` again."""
    if sock.gettimeout() != timeout:
        sock.settimeout(timeout)
    header = bytearray(_HEADER.size)
    first = sock.recv_into(header)
    if first == 0:
        raise EOFError("the other end closed the socket")
    try:
        _fill(sock, memoryview(header)[first:])
        (length,) = _HEADER.unpack(header)
        body = bytearray(length)
        _fill(sock, memoryview(body))
    except (TimeoutError, EOFError) as error:
        raise Torn(f"a message broke off: {error}") from error
    return pickle.loads(body)


def _fill(sock: socket.socket, view: memoryview) -> None:
    while view:
        got = sock.recv_into(view)
        if got == 0:
            raise EOFError("the other end closed the socket")
        view = view[got:]
