"""The ack benchmark's load generator reads responses right: its latencies end when the whole
response has arrived, however the server frames it and however it is split across reads."""

from __future__ import annotations

import pytest

from benchmarks.loadgen import ResponseReader

LENGTH = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n"
CLOSING = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize("response", [LENGTH, CHUNKED, CLOSING])
@pytest.mark.parametrize("piece", [1, 7, 10_000])
def test_a_response_is_complete_only_at_its_end(response: bytes, piece: int) -> None:
    reader = ResponseReader()
    pieces = [response[start : start + piece] for start in range(0, len(response), piece)]
    done = [reader.feed(part) for part in pieces]
    assert done[-1] and not any(done[:-1])
    assert reader.status == (400 if response is CLOSING else 200)
    assert reader.closes == (response is CLOSING)


def test_a_chunk_that_merely_looks_like_the_end_is_not() -> None:
    reader = ResponseReader()
    assert not reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nx0\r\n\r\n")
    assert not reader.feed(b"y\r\n")
    assert reader.feed(b"0\r\n\r\n")
