"""The load generator: N signed `/cx-alarm <text>` slash commands from C concurrent clients.

Each client is one keep-alive connection with one request in flight; one thread drives them all
with a selector. Every request is built, signed (as Slack signs them, see tests/signing.py) and
serialised before the clock starts, so the timings are the server's: from sending the request to
having read the whole response (the ack). The generator imports nothing of the bot, and its
garbage collector is off while the clock runs: a full collection of a process that had loaded
the bot took 80 to 90 ms, and every request in flight would have been charged with it.

It runs as its own process (`python -m benchmarks.loadgen`, a JSON spec on stdin, a JSON result on
stdout) so that the fake Slack server in the benchmark process doesn't compete with it for the GIL.
Bounded: exactly `requests` requests, each with a timeout, and a deadline for the whole level.
"""

from __future__ import annotations

import gc
import json
import selectors
import socket
import sys
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from tests.signing import signature


@dataclass(frozen=True)
class Spec:
    host: str
    port: int
    path: str
    requests: int
    concurrency: int
    secret: str
    run_id: str
    response_url_base: str
    timeout: float = 10.0
    deadline: float = 300.0

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Spec:
        return cls(**raw)


TEXTS = (
    "Customer {n} asked for a refund twice and heard nothing back",  # routes to billing
    "The checkout page confused customer {n}; they gave up halfway",  # no keyword: a grey area
)


def command_body(spec: Spec, index: int) -> bytes:
    form = {
        "token": "legacy",
        "team_id": "T0TEST",
        "team_domain": "cxbot-bench",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": f"U0RAIS{index % 50:03d}",
        "user_name": "raiser",
        "command": "/cx-alarm",
        "text": TEXTS[index % len(TEXTS)].format(n=index),
        "api_app_id": "A0CXBOT",
        "response_url": f"{spec.response_url_base}{spec.run_id}-{index}",
        "trigger_id": f"bench.{spec.run_id}.{index}",
    }
    return urllib.parse.urlencode(form).encode()


def prepared_requests(spec: Spec) -> list[bytes]:
    """Every request, signed and serialised (HTTP/1.1, keep-alive), before the clock starts."""
    stamp = int(time.time())
    prepared = []
    for index in range(spec.requests):
        body = command_body(spec, index)
        head = (
            f"POST {spec.path} HTTP/1.1\r\n"
            f"Host: {spec.host}:{spec.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Slack-Request-Timestamp: {stamp}\r\n"
            f"X-Slack-Signature: {signature(body, stamp, spec.secret)}\r\n"
            "\r\n"
        )
        prepared.append(head.encode() + body)
    return prepared


class ResponseReader:
    """Reads one HTTP/1.1 response at a time off a connection's bytes: fed what recv() returns,
    says when the response is complete, its status, and whether the server will close."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._buffer = b""
        self._head: tuple[int, int | None, bool, bool] | None = None  # status, length, chunked, closes

    def feed(self, data: bytes) -> bool:
        self._buffer += data
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            self._head = _parse_head(self._buffer[:end].decode("latin-1"))
            self._buffer = self._buffer[end + 4 :]
        _status, length, chunked, _closes = self._head
        if chunked:
            return self._buffer.endswith(b"0\r\n\r\n") and _chunks_complete(self._buffer)
        return len(self._buffer) >= (length or 0)

    @property
    def status(self) -> int:
        assert self._head is not None
        return self._head[0]

    @property
    def closes(self) -> bool:
        assert self._head is not None
        return self._head[3]


def _parse_head(head: str) -> tuple[int, int | None, bool, bool]:
    lines = head.split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    length = int(headers["content-length"]) if "content-length" in headers else None
    chunked = "chunked" in headers.get("transfer-encoding", "")
    closes = headers.get("connection") == "close" or (
        version == "HTTP/1.0" and headers.get("connection") != "keep-alive"
    )
    return int(status), length, chunked, closes


def _chunks_complete(buffer: bytes) -> bool:
    """Whether a chunked body ends with its last (empty) chunk."""
    position = 0
    while True:
        end = buffer.find(b"\r\n", position)
        if end < 0:
            return False
        size = int(buffer[position:end].split(b";")[0], 16)
        if size == 0:
            return True
        position = end + 2 + size + 2
        if position > len(buffer):
            return False


class _Client:
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.sock: socket.socket | None = None
        self.reader = ResponseReader()
        self.index = -1
        self.started = 0.0


def run(spec: Spec) -> dict[str, Any]:
    """`spec.concurrency` connections, each sending its next request as soon as the last one is
    answered, all from one thread (selectors): the generator's own CPU per request is small and
    doesn't grow with the concurrency, so it takes as little as it can from the servers' cores."""
    prepared = prepared_requests(spec)
    latencies: list[float | None] = [None] * spec.requests
    statuses: list[int | None] = [None] * spec.requests
    errors: list[str] = []
    selector = selectors.DefaultSelector()
    clients = [_Client(number) for number in range(spec.concurrency)]
    next_index = 0
    hard_deadline = time.monotonic() + spec.deadline

    def connect(client: _Client) -> bool:
        try:
            made = socket.create_connection((spec.host, spec.port), timeout=spec.timeout)
        except OSError as error:
            errors.append(f"connect: {error!r}")
            return False
        made.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.sock = made
        selector.register(made, selectors.EVENT_READ, client)
        return True

    def drop(client: _Client) -> None:
        if client.sock is not None:
            selector.unregister(client.sock)
            client.sock.close()
            client.sock = None

    def send_next(client: _Client) -> None:
        nonlocal next_index
        while next_index < spec.requests and time.monotonic() <= hard_deadline:
            index, next_index = next_index, next_index + 1
            if client.sock is None and not connect(client):
                continue
            assert client.sock is not None
            client.index, client.started = index, time.perf_counter()
            client.reader.reset()
            try:
                client.sock.sendall(prepared[index])
            except OSError as error:
                errors.append(f"request {index}: {error!r}")
                drop(client)
                continue
            return
        client.index = -1
        drop(client)

    def on_readable(client: _Client) -> None:
        assert client.sock is not None
        try:
            data = client.sock.recv(65536)
        except OSError as error:
            data, failure = b"", repr(error)
        else:
            failure = "the server closed the connection"
        if not data:
            errors.append(f"request {client.index}: {failure}")
            drop(client)
            send_next(client)
            return
        try:
            complete = client.reader.feed(data)
        except (ValueError, IndexError) as error:
            errors.append(f"request {client.index}: unreadable response: {error!r}")
            drop(client)
            send_next(client)
            return
        if complete:
            latencies[client.index] = time.perf_counter() - client.started
            statuses[client.index] = client.reader.status
            if client.reader.closes:
                drop(client)
            send_next(client)

    for client in clients:
        connect(client)
    gc.collect()
    gc.disable()  # a bounded run: what it allocates meanwhile is freed when the process exits
    started = time.perf_counter()
    for client in clients:
        send_next(client)
    while any(client.index >= 0 for client in clients):
        for ready, _events in selector.select(timeout=0.5):
            on_readable(ready.data)
        now = time.perf_counter()
        for client in clients:
            if client.index >= 0 and now - client.started > spec.timeout:
                errors.append(f"request {client.index}: no answer within {spec.timeout:.0f} s")
                drop(client)
                send_next(client)
    ended = time.perf_counter()
    gc.enable()
    selector.close()
    ok = [lat for lat, status in zip(latencies, statuses, strict=True) if lat is not None and status == 200]
    by_status: dict[str, int] = {}
    for status in statuses:
        key = str(status) if status is not None else "none"
        by_status[key] = by_status.get(key, 0) + 1
    return {
        "requests": spec.requests,
        "concurrency": spec.concurrency,
        "ok": len(ok),
        "statuses": by_status,
        "errors": errors[:20],
        "error_count": len(errors),
        "elapsed": ended - started,
        "latencies": ok,
    }


def main() -> int:
    spec = Spec.from_json(json.load(sys.stdin))
    json.dump(run(spec), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
