"""The ack benchmark's load generator reads responses right: its latencies end when the whole
response has arrived, however the server frames it and however it is split across reads. And the
share of CPU stolen by the hypervisor is counted over the measured stretches only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from benchmarks.ack import Level
from benchmarks.common import (
    StolenCpu,
    command_name,
    libpq_url,
    postgres_server_pid,
    proc_stat_steal,
    tree_cpu_seconds,
)
from benchmarks.loadgen import ResponseReader
from benchmarks.report import ack_section

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


def test_a_database_server_elsewhere_is_not_looked_for_here() -> None:
    assert postgres_server_pid("postgresql+psycopg://cxbot@db.example.com:5432/cxbot") is None


@pytest.mark.postgres
def test_the_local_postgres_server_and_its_backends_cpu_are_counted(postgres_url: str) -> None:
    if not any(command_name(int(entry.name)) == "postgres" for entry in Path("/proc").glob("[0-9]*")):
        pytest.skip("PostgreSQL's processes are not visible on this machine (another host or a container)")
    server = postgres_server_pid(postgres_url)
    assert server is not None
    assert command_name(server) == "postgres"
    before = tree_cpu_seconds(server)
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as connection:
        connection.execute("SELECT count(*) FROM generate_series(1, 5000000)")
    # That backend has exited: its CPU is counted in the server's count of reaped children.
    assert tree_cpu_seconds(server) - before >= 0.05


def _ack_results(database_cpu: float | None) -> dict[str, Any]:
    def level(server_cpu: float) -> dict[str, Any]:
        return Level(
            concurrency=32,
            requests=10,
            ok=10,
            errors=0,
            elapsed=1.0,
            p50=10.0,
            p95=20.0,
            p99=30.0,
            max=40.0,
            throughput=10.0,
            cpu_ms_per_request=server_cpu,
        ).__dict__

    bot = level(6.0) | {"database_cpu_ms_per_request": database_cpu}
    return {
        "requests_per_level": 10,
        "rounds": 1,
        "databases": {
            "postgres": {"bare": [level(0.5)], "cxbot": [bot], "items_stored": 10, "outbox_failed": 0}
        },
    }


@pytest.mark.parametrize("database_cpu", [2.5, None])
def test_the_report_shows_postgres_cpu_only_where_it_was_measured(
    database_cpu: float | None, tmp_path: Path
) -> None:
    page = ack_section(_ack_results(database_cpu), tmp_path / "no-plot.png", tmp_path / "benchmarks.md")
    header = next(line for line in page if line.startswith("| Clients | Server |"))
    cxbot_row = next(line for line in page if line.startswith("| 32 | cxbot |"))
    assert len(header.split("|")) == len(cxbot_row.split("|"))
    assert ("PostgreSQL CPU ms/request" in header) is (database_cpu is not None)
    assert ("| 6.0 | 2.5 |" in cxbot_row) is (database_cpu is not None)
