"""Jobs at scale: seed N items, then time the nag sweep and the digest assembly, each in a child
process of its own (benchmarks.jobs_child) so its peak RSS is its own."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, log, postgres_schema, run_child
from benchmarks.jobs_child import ADMINS
from benchmarks.seed import AT, ESCALATE_TO, Plan, seed
from bot.sandbox.fake_slack import FakeSlack

NAG_TARGET_S = 2.0
DIGEST_TARGET_S = 3.0
RSS_TARGET_MB = 200.0
JOB_TIMEOUT_S = 900.0


@contextlib.contextmanager
def _database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'cxbot-jobs.db'}"
    else:
        with postgres_schema("cxbot_bench_jobs") as url:
            yield url


def _job(database_url: str, job: str, profile_dir: Path | None, *, slack_url: str = "") -> dict[str, Any]:
    argv = [
        sys.executable,
        "-m",
        "benchmarks.jobs_child",
        "--database-url",
        database_url,
        "--job",
        job,
        "--at",
        AT.isoformat(),
        "--slack-url",
        slack_url,
    ]
    if profile_dir is not None:
        argv += [
            "--profile",
            str(profile_dir / f"{job}-{'sqlite' if database_url.startswith('sqlite') else 'postgres'}.txt"),
        ]
    done = run_child(argv, timeout=JOB_TIMEOUT_S, cwd=REPO_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"the {job} job failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout))


def run_jobs(
    *, databases: list[str], items: int, owners: int, profile_dir: Path | None = None
) -> dict[str, Any]:
    results: dict[str, Any] = {"items": items, "owners": owners, "at": AT.isoformat(), "databases": {}}
    plan = Plan(items=items, owners=owners)
    with FakeSlack() as fake, tempfile.TemporaryDirectory(prefix="cxbot-bench-jobs-") as tmp:
        for kind in databases:
            with _database(kind, Path(tmp)) as database_url:
                log(f"jobs: {kind}: seeding {items:,} items")
                expect, seconds = seed(database_url, plan)
                # Write the seeding's pages out now, so that the first job's first commit doesn't
                # pay for flushing a freshly written database (about a second on SQLite).
                os.sync()
                log(
                    f"jobs: {kind}: seeded {items:,} items, {expect.events:,} events "
                    f"and {expect.votes:,} votes in {seconds:.0f} s"
                )
                for person in (*expect.stale_owners, *ADMINS, *ESCALATE_TO):
                    fake.set_user(person, tz="Europe/London")
                asked_before = len(fake.calls)
                nag = _job(database_url, "nag", profile_dir, slack_url=fake.base_url)
                asked = Counter(call.method for call in fake.calls[asked_before:])
                nag["slack_calls"] = dict(asked)
                log(
                    f"jobs: {kind}: nag sweep {nag['seconds']:.2f} s "
                    f"(+{nag['slack_seconds']:.2f} s asking Slack {asked.total():,} questions), "
                    f"{nag['outbox'].get('dm_nag', 0):,} DMs queued, "
                    f"peak RSS {nag['peak_rss_mb']:.0f} MB"
                )
                digest = _job(database_url, "digest", profile_dir)
                log(
                    f"jobs: {kind}: digest {digest['seconds']:.2f} s, peak RSS {digest['peak_rss_mb']:.0f} MB"
                )
                results["databases"][kind] = {
                    "seed_seconds": seconds,
                    "events": expect.events,
                    "votes": expect.votes,
                    "open_items": expect.open_items,
                    "stale_items": expect.stale_items,
                    "stale_owners": len(expect.stale_owners),
                    "escalating": expect.escalating,
                    "nag": nag,
                    "digest": digest,
                    "dm_nag": nag["outbox"].get("dm_nag", 0),
                }
                if kind == "sqlite":
                    with contextlib.suppress(OSError):
                        for suffix in ("", "-wal", "-shm"):
                            Path(database_url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    return results
