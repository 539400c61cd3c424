"""The load generator: N signed `/cx-alarm <text>` slash commands from C concurrent clients.

Each client is a thread with one keep-alive connection (http.client). Every request is built and
signed (as Slack signs them, see tests/support.py `signature`) before the clock starts, so the
timings are the server's: from sending the request to having read the whole response (the ack).

It runs as its own process (`python -m benchmarks.loadgen`, a JSON spec on stdin, a JSON result on
stdout) so that the fake Slack server in the benchmark process doesn't compete with it for the GIL.
Bounded: exactly `requests` requests, each with a timeout, and a deadline for the whole level.
"""

from __future__ import annotations

import http.client
import itertools
import json
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from tests.support import signature


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


def prepared_requests(spec: Spec) -> list[tuple[bytes, dict[str, str]]]:
    stamp = int(time.time())
    prepared = []
    for index in range(spec.requests):
        body = command_body(spec, index)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": signature(body, stamp, spec.secret),
        }
        prepared.append((body, headers))
    return prepared


def run(spec: Spec) -> dict[str, Any]:
    prepared = prepared_requests(spec)
    latencies: list[float | None] = [None] * spec.requests
    statuses: list[int | None] = [None] * spec.requests
    errors: list[str] = []
    counter = itertools.count()
    counter_lock = threading.Lock()
    start_gate = threading.Barrier(spec.concurrency + 1)
    finished_at: list[float] = []
    hard_deadline = time.monotonic() + spec.deadline

    def next_index() -> int:
        with counter_lock:
            return next(counter)

    def client() -> None:
        connection: http.client.HTTPConnection | None = None

        def connect() -> http.client.HTTPConnection:
            made = http.client.HTTPConnection(spec.host, spec.port, timeout=spec.timeout)
            made.connect()
            return made

        try:
            connection = connect()
        except OSError as error:
            errors.append(f"connect: {error!r}")
        start_gate.wait(timeout=60)
        while True:
            index = next_index()
            if index >= spec.requests or time.monotonic() > hard_deadline:
                break
            body, headers = prepared[index]
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = connect()
                connection.request("POST", spec.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                elapsed = time.perf_counter() - started
                statuses[index] = response.status
                latencies[index] = elapsed
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as error:
                errors.append(f"request {index}: {error!r}")
                if connection is not None:
                    connection.close()
                connection = None
        if connection is not None:
            connection.close()
        finished_at.append(time.perf_counter())

    threads = [
        threading.Thread(target=client, name=f"client-{n}", daemon=True) for n in range(spec.concurrency)
    ]
    for thread in threads:
        thread.start()
    start_gate.wait(timeout=60)
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=max(hard_deadline - time.monotonic(), 0) + spec.timeout + 5)
    ended = max(finished_at) if finished_at else time.perf_counter()
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
