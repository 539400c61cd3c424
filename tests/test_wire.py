"""bot/wire.py: whole messages over a socket pair, however the bytes arrive, with the kernel's
timeouts and no system call that Python would precede with a poll."""

from __future__ import annotations

import pickle
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from bot.wire import Channel


@pytest.fixture
def pair() -> Iterator[tuple[Channel, Channel]]:
    ours, theirs = socket.socketpair()
    yield Channel(ours), Channel(theirs)
    ours.close()
    theirs.close()


def _framed(message: object) -> bytes:
    data = pickle.dumps(message)
    return struct.pack("!I", len(data)) + data


def test_a_message_sent_is_the_message_received(pair: tuple[Channel, Channel]) -> None:
    ours, theirs = pair
    ours.send(("file", 7, {"text": "café ☕ <!channel>"}))
    assert theirs.receive(timeout=1) == ("file", 7, {"text": "café ☕ <!channel>"})


def test_messages_that_arrive_together_are_read_one_at_a_time(pair: tuple[Channel, Channel]) -> None:
    ours, theirs = pair
    ours.sock.sendall(_framed("first") + _framed("second"))
    assert theirs.receive(timeout=1) == "first"
    assert theirs.receive(timeout=0) == "second"  # already buffered: no wait, no read


def test_a_message_cut_off_waits_for_its_rest(pair: tuple[Channel, Channel]) -> None:
    ours, theirs = pair
    framed = _framed("x" * 100_000)  # more than one read's worth, too
    ours.sock.sendall(framed[:10])
    with pytest.raises(TimeoutError):
        theirs.receive(timeout=0.05)
    sender = threading.Thread(target=ours.sock.sendall, args=(framed[10:],))
    sender.start()
    assert theirs.receive(timeout=5) == "x" * 100_000
    sender.join()


def test_receive_waits_no_longer_than_its_timeout(pair: tuple[Channel, Channel]) -> None:
    _ours, theirs = pair
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        theirs.receive(timeout=0.05)
    assert 0.05 <= time.monotonic() - started < 5
    assert theirs.sock.gettimeout() is None  # the kernel times it, not a poll before each call


def test_a_closed_end_is_end_of_file(pair: tuple[Channel, Channel]) -> None:
    ours, theirs = pair
    ours.sock.sendall(_framed("last words"))
    ours.close()
    assert theirs.receive(timeout=1) == "last words"
    with pytest.raises(EOFError):
        theirs.receive(timeout=1)


def test_receive_arrived_takes_every_complete_message_and_keeps_the_rest(
    pair: tuple[Channel, Channel],
) -> None:
    ours, theirs = pair
    third = _framed(3)
    ours.sock.sendall(_framed(1) + _framed(2) + third[:3])
    time.sleep(0.01)
    assert theirs.receive_arrived() == [1, 2]
    assert theirs.receive_arrived() == []  # nothing new: it doesn't wait
    ours.sock.sendall(third[3:])
    time.sleep(0.01)
    assert theirs.receive_arrived() == [3]
    ours.close()
    with pytest.raises(EOFError):
        theirs.receive_arrived()


def test_a_send_nobody_reads_times_out(pair: tuple[Channel, Channel]) -> None:
    ours, _theirs = pair
    ours.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    with pytest.raises(TimeoutError):
        ours.send(b"x" * 10_000_000, timeout=0.1)
