"""Shared helpers: ports, child processes, PostgreSQL schemas, percentiles, machine facts."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("CXBOT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

# Every child process we start, so that the watchdog (and Ctrl-C) can stop them by their id.
_children: list[subprocess.Popen[Any]] = []
_schemas: list[str] = []
_lock = threading.Lock()


def log(message: str) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_child(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    process = subprocess.Popen(list(argv), **kwargs)
    with _lock:
        _children.append(process)
    return process


def stop_child(process: subprocess.Popen[Any], *, timeout: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    with _lock:
        if process in _children:
            _children.remove(process)
    return process.returncode


def run_child(
    argv: Sequence[str], *, timeout: float, input: str | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run a child to completion, killing it if it takes longer than `timeout` seconds."""
    process = start_child(
        argv,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )
    try:
        out, err = process.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        raise RuntimeError(
            f"{' '.join(argv)} took longer than {timeout} s; killed it\n{err[-2000:]}"
        ) from None
    finally:
        with _lock:
            if process in _children:
                _children.remove(process)
    return subprocess.CompletedProcess(list(argv), process.returncode, out, err)


def wait_until_serving(url: str, process: subprocess.Popen[Any], *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing served {url} within {timeout} s")


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def postgres_reachable() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        with psycopg.connect(libpq_url(POSTGRES_URL), connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"no PostgreSQL at {POSTGRES_URL} ({str(error).strip().splitlines()[0]})"


@contextlib.contextmanager
def postgres_schema(prefix: str = "cxbot_bench") -> Iterator[str]:
    """A fresh schema on the server, dropped afterwards; yields a DATABASE_URL that uses it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(POSTGRES_URL), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    with _lock:
        _schemas.append(schema)
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        drop_schema(schema)


def drop_schema(schema: str) -> None:
    with psycopg.connect(libpq_url(POSTGRES_URL), autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    with _lock:
        if schema in _schemas:
            _schemas.remove(schema)


def cleanup_everything() -> None:
    """Stop every child we started and drop every schema we made (best effort)."""
    with _lock:
        children, schemas = list(_children), list(_schemas)
    for process in children:
        with contextlib.suppress(Exception):
            stop_child(process, timeout=5)
    for schema in schemas:
        with contextlib.suppress(Exception):
            drop_schema(schema)


def start_watchdog(seconds: float) -> None:
    """The whole run stops by itself: after `seconds`, clean up and exit with status 3."""

    def fire() -> None:
        log(f"the benchmark ran longer than its limit of {seconds:.0f} s: stopping it")
        cleanup_everything()
        os._exit(3)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (the value at rank ceil(fraction * n)); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(round(fraction * len(ordered), 9)))
    return ordered[min(rank, len(ordered)) - 1]


def machine() -> dict[str, str]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    postgres = ""
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(libpq_url(POSTGRES_URL), connect_timeout=3) as connection,
    ):
        row = connection.execute("SHOW server_version").fetchone()
        postgres = str(row[0]) if row else ""
    import sqlite3

    return {
        "nproc": str(os.cpu_count() or "?"),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "postgres": postgres,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
    }


def _commit() -> str:
    """The commit the code under test came from, marked if the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f"{head} with uncommitted changes" if dirty else head
