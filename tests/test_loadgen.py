"""The ack benchmark's load generator reads responses right: its latencies end when the whole
response has arrived, however the server frames it and however it is split across reads. And the
share of CPU stolen by the hypervisor is counted over the measured stretches only."""

from __future__ import annotations

import pytest

from benchmarks.common import StolenCpu, proc_stat_steal
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


def test_stolen_cpu_is_the_share_of_the_measured_stretches_only() -> None:
    readings = iter([(10, 1_000), (30, 1_200), (500, 9_000), (530, 9_100)])
    stolen = StolenCpu(read=lambda: next(readings))
    assert stolen.percent is None  # nothing measured yet
    with stolen.measuring():
        pass  # 20 of 200 ticks stolen
    with stolen.measuring():
        pass  # 30 of 100; what passed between the two stretches doesn't count
    assert stolen.percent == pytest.approx(100 * 50 / 300)


def test_stolen_cpu_reads_this_machine() -> None:
    stolen, total = proc_stat_steal()
    assert 0 <= stolen <= total
