"""Ack latency: `cxbot run --http` against a bare Bolt app on the same server, at 1, 8 and 32 clients.

Both servers run as child processes, with the fake Slack Web API (tests.fake_slack.FakeSlack) in
this process and the load generator in a third (benchmarks.loadgen). Levels alternate between
the two servers, and after each cxbot level we wait until its work after the ack is done (every
item stored, every card and confirmation delivered to the fake Slack), so a level doesn't pay for
the previous one's backlog. That wait is reported too ("drained in").
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.common import (
    REPO_ROOT,
    StolenCpu,
    free_port,
    libpq_url,
    log,
    percentile,
    postgres_schema,
    postgres_server_pid,
    run_child,
    start_child,
    stop_child,
    tree_cpu_seconds,
    wait_until_serving,
)
from tests.fake_slack import FakeSlack
from tests.signing import SIGNING_SECRET
from tests.support import ADMINS, BOT_TOKEN, ROUTES_TOML, TRIAGE

LEVELS = (1, 8, 32)
# Each level is run this many times, the two servers taking turns: on a shared 2-core machine one
# round's figures swing with the neighbours, and a bad moment lands on both servers alike.
ROUNDS = 3
WARMUP_REQUESTS = 30
DRAIN_TIMEOUT = 300.0
P99_TARGET = 1.5  # cxbot's p99 at most 1.5x the bare app's
THROUGHPUT_TARGET = 0.6  # cxbot's throughput at least 60 % of the bare app's


@dataclass
class Level:
    concurrency: int
    requests: int
    ok: int
    errors: int
    elapsed: float
    p50: float
    p95: float
    p99: float
    max: float
    throughput: float
    drain_seconds: float | None = None
    # Every item acked, stored and its messages delivered, per second of the level's rounds and drains.
    delivered_per_second: float | None = None
    cpu_ms_per_request: float | None = None
    # The same, for the PostgreSQL server's own processes (None: SQLite, in cxbot's processes, or
    # a server whose processes this machine can't see).
    database_cpu_ms_per_request: float | None = None
    # The share of the machine's CPU time taken by other guests of the host during the rounds.
    stolen_percent: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    # One entry per round: each round's own throughput and p99, to show how much they vary.
    round_throughputs: list[float] = field(default_factory=list)
    round_p99s: list[float] = field(default_factory=list)


def _stolen(level: Level) -> str:
    if level.stolen_percent is None:
        return "CPU stolen: unknown"
    return f"{level.stolen_percent:.0f}% of the CPU stolen"


def _in_database(level: Level) -> str:
    if level.database_cpu_ms_per_request is None:
        return ""
    return f" (+{level.database_cpu_ms_per_request:.1f} ms in PostgreSQL)"


def _database_cpu_seconds(server_pid: int | None, progress: Progress) -> float:
    """CPU used so far by the PostgreSQL server's processes, less the suite's own checks."""
    if server_pid is None:
        return 0.0
    return tree_cpu_seconds(server_pid) - progress.backend_cpu_seconds()


def _level(rounds: list[dict[str, Any]]) -> Level:
    """One level's figures over all its rounds: percentiles over every round's requests pooled,
    throughput as all the acks over all the rounds' time."""
    latencies = [1000.0 * value for result in rounds for value in result["latencies"]]
    requests = sum(result["requests"] for result in rounds)
    ok = sum(result["ok"] for result in rounds)
    elapsed = sum(result["elapsed"] for result in rounds)
    statuses: dict[str, int] = {}
    for result in rounds:
        for status, count in result["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return Level(
        concurrency=rounds[0]["concurrency"],
        requests=requests,
        ok=ok,
        errors=requests - ok,
        elapsed=elapsed,
        p50=percentile(latencies, 0.50),
        p95=percentile(latencies, 0.95),
        p99=percentile(latencies, 0.99),
        max=max(latencies) if latencies else float("nan"),
        throughput=ok / elapsed if elapsed > 0 else 0.0,
        statuses=statuses,
        error_samples=[error for result in rounds for error in result["errors"]][:5],
        round_throughputs=[
            result["ok"] / result["elapsed"] if result["elapsed"] > 0 else 0.0 for result in rounds
        ],
        round_p99s=[percentile([1000.0 * v for v in result["latencies"]], 0.99) for result in rounds],
    )


class Server:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        argv = [*argv, "--port", str(self.port)]
        self.process = start_child(argv, env=env, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT)
        wait_until_serving(f"http://127.0.0.1:{self.port}/healthz", self.process)

    def stop(self) -> int | None:
        code = stop_child(self.process)
        self._log.close()
        return code

    def cpu_seconds(self) -> float:
        """User + system CPU the server has used so far (Linux /proc), with its child processes:
        `cxbot run` files and delivers in a worker process, and that is part of its cost."""
        return tree_cpu_seconds(self.process.pid)

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _load(server: Server, *, requests: int, concurrency: int, run_id: str, fake: FakeSlack) -> dict[str, Any]:
    """One round against one server: the load generator's raw result (every latency)."""
    spec = {
        "host": "127.0.0.1",
        "port": server.port,
        "path": "/slack/events",
        "requests": requests,
        "concurrency": concurrency,
        "secret": SIGNING_SECRET,
        "run_id": run_id,
        "response_url_base": fake.response_url(""),
        "timeout": 10.0,
        "deadline": 300.0,
    }
    done = run_child(
        [sys.executable, "-m", "benchmarks.loadgen"],
        timeout=420,
        cwd=REPO_ROOT,
        input=json.dumps(spec),
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _first(row: tuple[Any, ...] | None) -> Any:
    assert row is not None
    return row[0]


class Progress:
    """What cxbot has done after its acks, read straight from its database (read-only). On
    PostgreSQL it keeps one connection, so its checks cost the server no new backend each time,
    and `backend_cpu_seconds` tells apart the CPU that its own backend used."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._pg: psycopg.Connection[Any] | None = None
        self._backend_pid: int | None = None

    def counts(self) -> tuple[int, int, int]:
        """(items, unfinished outbox messages, failed outbox messages)."""
        queries = (
            "SELECT count(*) FROM items",
            "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')",
            "SELECT count(*) FROM outbox WHERE status = 'failed'",
        )
        if self.database_url.startswith("sqlite:///"):
            path = self.database_url.removeprefix("sqlite:///")
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                values = [int(connection.execute(query).fetchone()[0]) for query in queries]
            finally:
                connection.close()
        else:
            pg = self._connection()
            values = [int(_first(pg.execute(query).fetchone())) for query in queries]
        return values[0], values[1], values[2]

    def backend_cpu_seconds(self) -> float:
        """CPU used so far by the PostgreSQL backend serving these checks (0 on SQLite)."""
        if self.database_url.startswith("sqlite:///"):
            return 0.0
        self._connection()
        return 0.0 if self._backend_pid is None else tree_cpu_seconds(self._backend_pid)

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
            self._pg = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._pg is None:
            self._pg = psycopg.connect(libpq_url(self.database_url), autocommit=True)
            self._backend_pid = int(_first(self._pg.execute("SELECT pg_backend_pid()").fetchone()))
        return self._pg

    def wait_drained(self, expected_items: int, *, timeout: float = DRAIN_TIMEOUT) -> float:
        started = time.monotonic()
        deadline = started + timeout
        while True:
            items, unfinished, _failed = self.counts()
            if items >= expected_items and unfinished == 0:
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"cxbot had not finished after {timeout:.0f} s: {items}/{expected_items} items stored, "
                    f"{unfinished} outbox messages unfinished"
                )
            time.sleep(0.1)


@contextlib.contextmanager
def _database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'cxbot-ack.db'}"
    else:
        with postgres_schema("cxbot_bench_ack") as url:
            yield url


def run_ack(
    *, databases: list[str], requests: int, rounds: int = ROUNDS, levels: tuple[int, ...] = LEVELS
) -> dict[str, Any]:
    """`rounds` rounds of `requests` requests per level and server, bare and cxbot taking turns."""
    results: dict[str, Any] = {
        "requests_per_level": requests,
        "rounds": rounds,
        "levels": list(levels),
        "databases": {},
    }
    cxbot = Path(sys.executable).with_name("cxbot")
    cxbot_argv = [str(cxbot)] if cxbot.exists() else [sys.executable, "-m", "bot.cli"]
    cxbot_argv += ["run", "--http", "--host", "127.0.0.1", "--no-scheduler"]
    with FakeSlack() as fake, tempfile.TemporaryDirectory(prefix="cxbot-bench-ack-") as tmp:
        workdir = Path(tmp)
        routes = workdir / "routes.toml"
        routes.write_text(ROUTES_TOML, encoding="utf-8")
        base_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SLACK_", "CX_", "DATABASE_URL", "PORT"))
        }
        base_env.update(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.base_url,
            LOG_LEVEL="INFO",
        )
        for kind in databases:
            with _database(kind, workdir) as database_url:
                log(f"ack: {kind}: starting the bare app and cxbot")
                results["databases"][kind] = _run_one(
                    kind, database_url, cxbot_argv, base_env, routes, workdir, fake, requests, rounds, levels
                )
        results["fake_slack_calls"] = len(fake.calls)
        results["fake_slack_violations"] = fake.violations[:10]
    return results


def _run_one(
    kind: str,
    database_url: str,
    cxbot_argv: list[str],
    base_env: dict[str, str],
    routes: Path,
    workdir: Path,
    fake: FakeSlack,
    requests: int,
    rounds: int,
    levels: tuple[int, ...],
) -> dict[str, Any]:
    cxbot_env = {
        **base_env,
        "DATABASE_URL": database_url,
        "CX_TRIAGE_CHANNEL": TRIAGE,
        "CX_ADMINS": ",".join(ADMINS),
        "CX_ROUTES_FILE": str(routes),
    }
    bare = Server(
        f"bare-{kind}",
        [sys.executable, "-m", "benchmarks.bare_app"],
        {**base_env, "PYTHONPATH": str(REPO_ROOT)},
        workdir,
    )
    try:
        bot = Server(f"cxbot-{kind}", cxbot_argv, cxbot_env, workdir)
    except Exception:
        stop_child(bare.process)
        raise
    progress = Progress(database_url)
    database_pid = postgres_server_pid(database_url) if kind == "postgres" else None
    out: dict[str, Any] = {"bare": [], "cxbot": []}
    try:
        filed = 0
        for server in (bare, bot):
            _load(
                server,
                requests=WARMUP_REQUESTS,
                concurrency=4,
                run_id=f"{kind}-warm-{server.name}",
                fake=fake,
            )
        filed += WARMUP_REQUESTS
        progress.wait_drained(filed)
        for concurrency in levels:
            bare_rounds: list[dict[str, Any]] = []
            bot_rounds: list[dict[str, Any]] = []
            bare_cpu = bot_cpu = database_cpu = 0.0
            bare_stolen, bot_stolen = StolenCpu(), StolenCpu()
            load_args: dict[str, Any] = {"requests": requests, "concurrency": concurrency, "fake": fake}
            drains: list[float] = []
            for round_number in range(1, rounds + 1):
                run_id = f"{kind}-{concurrency}-{round_number}"
                cpu = bare.cpu_seconds()
                with bare_stolen.measuring():
                    bare_rounds.append(_load(bare, **load_args, run_id=f"bare-{run_id}"))
                bare_cpu += bare.cpu_seconds() - cpu
                cpu, database_cpu_before = bot.cpu_seconds(), _database_cpu_seconds(database_pid, progress)
                with bot_stolen.measuring():
                    bot_rounds.append(_load(bot, **load_args, run_id=f"cxbot-{run_id}"))
                filed += bot_rounds[-1]["ok"]
                drains.append(progress.wait_drained(filed))
                bot_cpu += bot.cpu_seconds() - cpu
                database_cpu += _database_cpu_seconds(database_pid, progress) - database_cpu_before
            bare_level, bot_level = _level(bare_rounds), _level(bot_rounds)
            bare_level.cpu_ms_per_request = 1000 * bare_cpu / max(bare_level.ok, 1)
            bot_level.cpu_ms_per_request = 1000 * bot_cpu / max(bot_level.ok, 1)
            if database_pid is not None:
                bot_level.database_cpu_ms_per_request = 1000 * database_cpu / max(bot_level.ok, 1)
            bare_level.stolen_percent, bot_level.stolen_percent = bare_stolen.percent, bot_stolen.percent
            bot_level.drain_seconds = max(drains)
            bot_level.delivered_per_second = bot_level.ok / (bot_level.elapsed + sum(drains))
            for name, level in (("bare ", bare_level), ("cxbot", bot_level)):
                log(
                    f"ack: {kind}: {name} x{concurrency:<2}: p50 {level.p50:6.1f} ms  "
                    f"p99 {level.p99:6.1f} ms  {level.throughput:6.0f} req/s  ({level.errors} errors); "
                    f"rounds: {', '.join(f'{t:.0f}' for t in level.round_throughputs)} req/s; "
                    f"{level.cpu_ms_per_request:.1f} ms CPU per request{_in_database(level)}; "
                    f"{_stolen(level)}"
                )
            out["bare"].append(bare_level.__dict__)
            out["cxbot"].append(bot_level.__dict__)
        items, _unfinished, failed = progress.counts()
        out["items_stored"] = items
        out["outbox_failed"] = failed
    except Exception:
        log(f"cxbot log tail:\n{bot.tail()}\nbare app log tail:\n{bare.tail()}")
        raise
    finally:
        progress.close()
        out["cxbot_exit"] = bot.stop()
        out["bare_exit"] = bare.stop()
    return out
