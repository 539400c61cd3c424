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
from collections.abc import Callable, Iterator, Sequence
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


def proc_stat_steal() -> tuple[int, int]:
    """(stolen, all) CPU time so far, in clock ticks over every CPU, from /proc/stat; (0, 0)
    where there is no such file."""
    try:
        first_line = Path("/proc/stat").read_text().split("\n", 1)[0]
        fields = [int(value) for value in first_line.split()[1:9]]
    except (OSError, ValueError):
        return 0, 0
    # user nice system idle iowait irq softirq steal (guest time is already in user and nice)
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


class StolenCpu:
    """How much of the machine's CPU time the hypervisor gave to other guests while measured
    stretches ran (the `steal` column of /proc/stat, over all CPUs). On a shared virtual machine
    this comes and goes; while it is high, a stretch ran on less than the machine's cores."""

    def __init__(self, read: Callable[[], tuple[int, int]] = proc_stat_steal) -> None:
        self._read = read
        self.stolen = 0
        self.total = 0

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        stolen, total = self._read()
        try:
            yield
        finally:
            stolen_after, total_after = self._read()
            self.stolen += stolen_after - stolen
            self.total += total_after - total

    @property
    def percent(self) -> float | None:
        """Stolen, as a share of all the CPU time that passed; None where /proc/stat is missing."""
        return 100.0 * self.stolen / self.total if self.total > 0 else None


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU (Linux /proc) used so far by a process and its descendants, counting
    the children that have already exited and been reaped."""
    return sum(_own_cpu_seconds(each) for each in _process_tree(pid))


def _process_tree(pid: int) -> list[int]:
    """The process and its descendants, now (each thread of a process lists the children it started)."""
    tree, index = [pid], 0
    while index < len(tree):
        for children in Path(f"/proc/{tree[index]}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                tree.extend(int(child) for child in children.read_text().split())
        index += 1
    return tree


def _own_cpu_seconds(pid: int) -> float:
    """One process's user + system CPU, and that of its children that have exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # it has just exited; its parent's count of reaped children has it
    return sum(int(field) for field in fields[11:15]) / os.sysconf("SC_CLK_TCK")


_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


def postgres_server_pid(database_url: str) -> int | None:
    """The main process of the PostgreSQL server behind `database_url` (the parent of every
    backend), when it runs on this machine and its /proc entries can be read; None otherwise,
    as for a server on another host or in a container with its own process numbers."""
    url = libpq_url(database_url)
    host = str(psycopg.conninfo.conninfo_to_dict(url).get("host") or "")
    if host not in _LOCAL_HOSTS and not host.startswith("/"):  # "/...": a Unix socket's directory
        return None
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as connection:
            row = connection.execute("SELECT pg_backend_pid()").fetchone()
            backend = int(row[0]) if row else 0
            parent = _parent_pid(backend)  # read while the backend is alive
    except (psycopg.Error, OSError, ValueError):
        return None
    if parent is None or command_name(backend) != "postgres" or command_name(parent) != "postgres":
        return None
    return parent


def _parent_pid(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


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
