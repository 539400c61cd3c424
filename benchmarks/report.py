"""docs/benchmarks.md (and its plot) from a run's results."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from benchmarks.ack import P99_TARGET, THROUGHPUT_TARGET
from benchmarks.bare_app import BARE_THREADS
from benchmarks.jobs import DIGEST_TARGET_S, NAG_TARGET_S, RSS_TARGET_MB
from bot.server import DEFAULT_THREADS, SQLITE_THREADS

DB_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**pass**" if ok else "**FAIL**")


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}%"


def _cpu_ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def ack_verdicts(ack: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """Per database: does every level meet the p99 and the throughput target?"""
    verdicts = {}
    for db, data in ack["databases"].items():
        p99_ok = all(
            c["ok"] == c["requests"] and c["p99"] <= P99_TARGET * b["p99"]
            for b, c in zip(data["bare"], data["cxbot"], strict=True)
        )
        throughput_ok = all(
            c["ok"] == c["requests"] and c["throughput"] >= THROUGHPUT_TARGET * b["throughput"]
            for b, c in zip(data["bare"], data["cxbot"], strict=True)
        )
        verdicts[db] = {"p99": p99_ok, "throughput": throughput_ok}
    return verdicts


def jobs_verdicts(jobs: dict[str, Any]) -> dict[str, dict[str, bool]]:
    verdicts = {}
    for db, data in jobs["databases"].items():
        verdicts[db] = {
            "nag": data["nag"]["seconds"] < NAG_TARGET_S,
            "digest": data["digest"]["seconds"] < DIGEST_TARGET_S,
            "rss": max(data["nag"]["peak_rss_mb"], data["digest"]["peak_rss_mb"]) < RSS_TARGET_MB,
            "dms": data["dm_nag"] == data["stale_owners"],
        }
    return verdicts


def plot(ack: dict[str, Any], path: Path) -> bool:
    """Latency and throughput against concurrency, cxbot vs the bare app. False if no matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    dbs = list(ack["databases"])
    figure, axes = plt.subplots(2, len(dbs), figsize=(6 * len(dbs), 8), squeeze=False)
    for column, db in enumerate(dbs):
        data = ack["databases"][db]
        levels = [row["concurrency"] for row in data["bare"]]
        top, bottom = axes[0][column], axes[1][column]
        for side, colour in (("bare", "tab:grey"), ("cxbot", "tab:blue")):
            rows = data[side]
            top.plot(levels, [r["p99"] for r in rows], marker="o", color=colour, label=f"{side} p99")
            top.plot(
                levels,
                [r["p50"] for r in rows],
                marker=".",
                linestyle="--",
                color=colour,
                label=f"{side} p50",
            )
            bottom.plot(levels, [r["throughput"] for r in rows], marker="o", color=colour, label=side)
        top.plot(
            levels,
            [P99_TARGET * r["p99"] for r in data["bare"]],
            linestyle=":",
            color="tab:red",
            label=f"target: {P99_TARGET}x bare p99",
        )
        bottom.plot(
            levels,
            [THROUGHPUT_TARGET * r["throughput"] for r in data["bare"]],
            linestyle=":",
            color="tab:red",
            label=f"target: {THROUGHPUT_TARGET:.0%} of bare",
        )
        for axis in (top, bottom):
            axis.set_xscale("log", base=2)
            axis.set_xticks(levels, [str(level) for level in levels])
            axis.set_xlabel("concurrent clients")
            axis.grid(True, alpha=0.3)
            axis.legend(fontsize=8)
        top.set_title(f"Ack latency, {DB_NAMES.get(db, db)}")
        top.set_ylabel("ms (lower is better)")
        bottom.set_title(f"Ack throughput, {DB_NAMES.get(db, db)}")
        bottom.set_ylabel("requests/s (higher is better)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def ascii_chart(ack: dict[str, Any]) -> list[str]:
    """p99 bars, for when matplotlib isn't there."""
    lines = ["```"]
    peak = max(
        (r["p99"] for data in ack["databases"].values() for side in ("bare", "cxbot") for r in data[side]),
        default=1.0,
    )
    for db, data in ack["databases"].items():
        lines.append(f"ack p99, {DB_NAMES.get(db, db)} (each # is {peak / 50:.1f} ms)")
        for side in ("bare", "cxbot"):
            for r in data[side]:
                bar = "#" * max(1, round(50 * r["p99"] / peak))
                lines.append(f"  {side:<5} x{r['concurrency']:<3} {bar} {r['p99']:.1f} ms")
        lines.append("")
    lines.append("```")
    return lines


def render(
    *,
    command: str,
    machine: dict[str, str],
    ack: dict[str, Any] | None,
    jobs: dict[str, Any] | None,
    skipped: list[str],
    plot_path: Path,
    output: Path,
    seconds: float,
) -> str:
    out: list[str] = [
        "# Benchmarks",
        "",
        "Generated by the benchmark suite in [`benchmarks/`](../benchmarks/); do not edit by hand. "
        "Rerun it from the repository root with the command below; it rewrites this page.",
        "",
        "```sh",
        command,
        "```",
        "",
        f"The run took {seconds / 60:.1f} minutes. Options: `--quick` (100 requests per level in one "
        "round, 100,000 items), `--rounds N`, `--only ack|jobs`, `--db sqlite|postgres|both`, "
        "`--profile DIR` (pyinstrument profiles of the jobs); `--help` lists them all.",
        "",
        _performance_note(ack, jobs),
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| Date | {machine['date']} |",
        f"| Commit | `{machine.get('commit') or 'unknown'}` |",
        f"| CPUs (`nproc`) | {machine['nproc']} ({machine['cpu']}) |",
        f"| Memory | {machine['memory']} |",
        f"| Python | {machine['python']} |",
        f"| SQLite | {machine['sqlite']} |",
        f"| PostgreSQL | {machine['postgres'] or 'not reachable'} (on the same machine, 127.0.0.1) |",
        f"| OS | {machine['platform']} |",
        "",
        "Everything (servers, load generator, fake Slack, PostgreSQL) shares these CPUs, so the "
        "figures are for comparing cxbot with its baseline and with itself over time, not absolute "
        "capacity.",
        "",
    ]
    out += _summary(ack, jobs, skipped)
    if ack is not None:
        out += ack_section(ack, plot_path, output)
    if jobs is not None:
        out += _jobs_section(jobs)
    return "\n".join(out).rstrip() + "\n"


def _performance_note(ack: dict[str, Any] | None, jobs: dict[str, Any] | None) -> str:
    verdicts = [*(ack_verdicts(ack) if ack else {}).values(), *(jobs_verdicts(jobs) if jobs else {}).values()]
    missed = any(not ok for verdict in verdicts for ok in verdict.values())
    why = "and why a target is missed" if missed else "and how much margin each target has"
    return f"What was profiled, what was fixed because of it, {why}: [performance.md](performance.md)."


def _summary(ack: dict[str, Any] | None, jobs: dict[str, Any] | None, skipped: list[str]) -> list[str]:
    out = ["## Targets", "", "| Target | SQLite | PostgreSQL |", "| --- | --- | --- |"]
    ack_v = ack_verdicts(ack) if ack else {}
    jobs_v = jobs_verdicts(jobs) if jobs else {}

    def cells(verdicts: dict[str, dict[str, bool]], key: str) -> str:
        return " | ".join(_mark(verdicts.get(db, {}).get(key)) for db in ("sqlite", "postgres"))

    items = f"{jobs['items']:,}" if jobs else "N"
    out += [
        f"| Ack p99 within {P99_TARGET}x the bare Bolt app's, at every concurrency | {cells(ack_v, 'p99')} |",
        f"| Ack throughput at least {THROUGHPUT_TARGET:.0%} of the bare app's, at every concurrency | "
        f"{cells(ack_v, 'throughput')} |",
        f"| Nag sweep under {NAG_TARGET_S:g} s at {items} items | {cells(jobs_v, 'nag')} |",
        f"| Digest assembly under {DIGEST_TARGET_S:g} s at {items} items | {cells(jobs_v, 'digest')} |",
        f"| Peak RSS of each job under {RSS_TARGET_MB:g} MB | {cells(jobs_v, 'rss')} |",
        f"| Nag sweep queues one DM per owner with stale items | {cells(jobs_v, 'dms')} |",
        "",
        "The job time targets are set for PostgreSQL at 1,000,000 items; SQLite is measured against "
        "the same bar for comparison.",
        "",
    ]
    if jobs and jobs["items"] < 1_000_000:
        out += [
            f"> This was a `--quick` run with {jobs['items']:,} items, not the 1,000,000 the targets are "
            "set for.",
            "",
        ]
    for reason in skipped:
        out += [f"> Not run: {reason}", ""]
    return out


def ack_section(ack: dict[str, Any], plot_path: Path, output: Path) -> list[str]:
    n = ack["requests_per_level"]
    rounds = int(ack.get("rounds", 1))
    per_level = f"{n} per level" if rounds == 1 else f"{n} per level in each of {rounds} rounds"
    out = [
        "## 1. Ack latency",
        "",
        f"Signed `/cx-alarm <text>` slash commands (the form Slack posts, signed as Slack signs them) "
        f"to `/slack/events`, {per_level}, at 1, 8 and 32 concurrent clients, each client a keep-alive "
        "connection with one request in flight, all driven by one thread (a selector) in a separate "
        "load-generator process. Latency is from sending "
        "the request to reading the whole response, the ack; throughput is acks per second over the "
        "level. Half the texts match a route (billing), half are grey areas.",
        "",
        "- **cxbot**: `cxbot run --http --host 127.0.0.1 --no-scheduler`, a fresh database, the fake "
        "Slack Web API (tests/fake_slack.py) as `SLACK_API_URL`, `LOG_LEVEL=INFO`. Each ack is followed "
        "by cxbot's real work: store the item, its event and outbox rows, then post the card and the "
        "confirmation to the fake Slack. `cxbot run` is two processes: one answers Slack (waitress, "
        f"{SQLITE_THREADS} request threads on SQLite, {DEFAULT_THREADS} on PostgreSQL), a worker stores "
        "and delivers (the ack still waits for the commit).",
        "- **bare**: a Bolt `App` whose `/cx-alarm` listener only calls `ack()` "
        "([`benchmarks/bare_app.py`](../benchmarks/bare_app.py)), served by the same "
        f"`bot.server.make_http_server` (waitress), with {BARE_THREADS} request threads: each "
        "server gets the number that serves it best. Bolt as it comes holds a thread for at least "
        f"one 10 ms poll, so with the {SQLITE_THREADS} cxbot has on SQLite it would manage only "
        f"about {SQLITE_THREADS * 1000 // 11} acks a second; with 32 it answered more per second, but "
        "its p99 was no better ([performance.md](performance.md), sixth round). Its ack "
        "leaves at Bolt's next 10 ms poll of the listener (hence its p50 of about 11 ms at one "
        "client), while cxbot answers the moment its listener acks (`bot/ack_relay.py`). So at 1 and "
        "8 clients cxbot is faster than the baseline; at 32, where both are busy, the ratios say "
        "most.",
        "",
        "The two servers take turns, a round each, level by level, so a slow moment of the shared "
        "machine tends to land on both. Percentiles are over all of a level's requests, every round "
        "pooled; *req/s* is all of a level's acks over all its rounds' time, and *req/s by round* "
        "shows how much the rounds differed. After each cxbot round the suite waits until cxbot "
        "has stored every item and delivered every message it owes Slack (*drained*: the longest "
        "such wait of the level), so no round pays for the previous one's backlog; *delivered/s* is "
        "the rate of the whole job, every item acked, stored and its card and confirmation "
        "delivered, over the rounds' time and their drains (what Slack's own rate limits would cap "
        "first in a real workspace). "
        "*CPU ms/request* is the user + system CPU (from /proc) of the "
        "server and its child processes over the level, and for cxbot also over its drain, divided by "
        "the requests: what one slash command costs cxbot in all (the load generator, a separate "
        "process on the same 2 cores, is not counted). On PostgreSQL, *PostgreSQL CPU ms/request* is "
        "the same for the database server's own processes (every process of the server on this "
        "machine, whoever it serves, less the backend that answers the suite's checks for the "
        "drain); on SQLite the database runs inside cxbot's processes, so the first figure has it. "
        "*CPU stolen* is the share of the machine's "
        "CPU time that the hypervisor gave to other guests while that server's rounds ran (the "
        "`steal` column of /proc/stat): this is a shared virtual machine, and while that share is "
        "high the rounds ran on less than 2 cores. It hurts cxbot more than the bare app, which "
        "needs about one core where cxbot uses both. Percentiles are nearest-rank. Ratios are "
        "cxbot / bare.",
        "",
    ]
    if plot_path.is_file():
        link = os.path.relpath(plot_path, output.parent)
        out += [f"![Ack latency and throughput, cxbot vs bare Bolt]({link})", ""]
    else:
        out += [*ascii_chart(ack), ""]
    verdicts = ack_verdicts(ack)
    for db, data in ack["databases"].items():
        in_database = any(r.get("database_cpu_ms_per_request") is not None for r in data["cxbot"])
        out += [
            f"### {DB_NAMES.get(db, db)}",
            "",
            "| Clients | Server | p50 ms | p95 ms | p99 ms | max ms | req/s | req/s by round | errors "
            "| drained in | delivered/s | CPU ms/request "
            + ("| PostgreSQL CPU ms/request " if in_database else "")
            + "| CPU stolen |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
            + ("---: | " if in_database else "")
            + "---: |",
        ]
        for b, c in zip(data["bare"], data["cxbot"], strict=True):
            for side, r in (("bare", b), ("cxbot", c)):
                drained = f"{r['drain_seconds']:.1f} s" if r.get("drain_seconds") is not None else ""
                delivered = f"{r['delivered_per_second']:.0f}" if r.get("delivered_per_second") else ""
                cpu = _cpu_ms(r.get("cpu_ms_per_request"))
                database_cpu = f"{_cpu_ms(r.get('database_cpu_ms_per_request'))} | " if in_database else ""
                by_round = ", ".join(f"{value:.0f}" for value in r.get("round_throughputs") or [])
                out.append(
                    f"| {r['concurrency']} | {side} | {_ms(r['p50'])} | {_ms(r['p95'])} | {_ms(r['p99'])} | "
                    f"{_ms(r['max'])} | {r['throughput']:.0f} | {by_round} | {r['errors']} | "
                    f"{drained} | {delivered} | {cpu} | {database_cpu}{_percent(r.get('stolen_percent'))} |"
                )
        out += [
            "",
            f"| Clients | p99 cxbot/bare (target <= {P99_TARGET}) | | throughput cxbot/bare "
            f"(target >= {THROUGHPUT_TARGET}) | |",
            "| ---: | ---: | --- | ---: | --- |",
        ]
        for b, c in zip(data["bare"], data["cxbot"], strict=True):
            p99_ratio = c["p99"] / b["p99"] if b["p99"] else float("nan")
            tp_ratio = c["throughput"] / b["throughput"] if b["throughput"] else float("nan")
            out.append(
                f"| {c['concurrency']} | {p99_ratio:.2f} | {_mark(p99_ratio <= P99_TARGET)} | "
                f"{tp_ratio:.2f} | {_mark(tp_ratio >= THROUGHPUT_TARGET)} |"
            )
        out += [
            "",
            f"Verdict on {DB_NAMES.get(db, db)}: p99 {_mark(verdicts[db]['p99'])}, throughput "
            f"{_mark(verdicts[db]['throughput'])}. cxbot stored {data['items_stored']:,} items "
            f"(warm-up included); {data['outbox_failed']} outbox messages failed.",
            "",
        ]
    violations = ack.get("fake_slack_violations") or []
    out += [
        f"The fake Slack answered {ack.get('fake_slack_calls', 0):,} Web API and response_url calls"
        + (
            f"; calls Slack would reject: {violations}"
            if violations
            else ", none of which Slack would reject."
        )
        + "",
        "",
    ]
    return out


def _driver(job: dict[str, Any]) -> str:
    if "driver_seconds" not in job:
        return ""
    return f"{job['driver_seconds']:.2f} s ({job['round_trips']:,} statements)"


def _jobs_section(jobs: dict[str, Any]) -> list[str]:
    out = [
        "## 2. Jobs at scale",
        "",
        f"{jobs['items']:,} items over the year before {jobs['at']} (a Wednesday, 10:00 UTC, so every "
        "owner is in working hours), generated by [`benchmarks/seed.py`](../benchmarks/seed.py) and "
        "bulk-loaded into a freshly migrated database (SQLite: executemany in one transaction; "
        "PostgreSQL: COPY, then `VACUUM ANALYZE`):",
        "",
        "- 1 % stale and open (new alarms and ideas past their SLA, items acknowledged over 7 days ago), "
        f"owned by {jobs['owners']:,} distinct people; half of them nagged before, 1 % due to escalate;",
        "- 1 % open and not yet stale, some of them grey areas;",
        "- the rest closed: 60 % actioned, 22 % declined, 10 % duplicates, 8 % withdrawn, most "
        "acknowledged first;",
        "- every event cxbot would have written (filed, reassigned, acknowledged, actioned, declined, "
        "duplicate, withdrawn, nagged, vote) and upvotes on a third of the ideas.",
        "",
        "Each job runs once, in a child process of its own (`benchmarks/jobs_child.py`) with a warm "
        "connection: `bot.nag.run_nag_sweep(...)` and `bot.digest.build_digest(session, end=...)` "
        "(the assembly; rendering the blocks is timed apart). The sweep asks Slack each person's time "
        "zone through cxbot's own `Directory` (`users.info`, cached for a day), against the fake Slack "
        "Web API on loopback, starting with nothing cached as a day's first sweep does; it asks between "
        "its two database visits, with no transaction open. *Seconds* for the sweep leaves out the "
        "time spent waiting for those answers, which only a day's first sweep pays (every later one "
        "finds them cached); *first of the day* includes it. Peak RSS is the child's high-water "
        "mark, `VmHWM` in /proc/self/status (not `getrusage` `ru_maxrss`, which on Linux survives "
        "`exec` and so would report the forking parent's size); *baseline* is its RSS before the job "
        "started (Python, SQLAlchemy and cxbot imported, one connection).",
        "",
    ]
    if any(data["nag"].get("profiled") for data in jobs["databases"].values()):
        out += [
            "> The jobs ran under a profiler (`--profile`): their times and memory include its overhead.",
            "",
        ]
    out += [
        "| Database | Rows loaded | Seeding |",
        "| --- | --- | ---: |",
    ]
    for db, data in jobs["databases"].items():
        out.append(
            f"| {DB_NAMES.get(db, db)} | {jobs['items']:,} items, {data['events']:,} events, "
            f"{data['votes']:,} votes | {data['seed_seconds']:.0f} s |"
        )
    out += [
        "",
        "| Database | Job | Seconds | Target | In the database | Peak RSS MB (baseline) | Slack | Result |",
        "| --- | --- | ---: | --- | ---: | ---: | --- | --- |",
    ]
    verdicts = jobs_verdicts(jobs)
    for db, data in jobs["databases"].items():
        nag, digest = data["nag"], data["digest"]
        sweep = nag.get("sweep", {})
        out.append(
            f"| {DB_NAMES.get(db, db)} | nag sweep | {nag['seconds']:.2f} | < {NAG_TARGET_S:g} s "
            f"{_mark(verdicts[db]['nag'])} | {_driver(nag)} | "
            f"{nag['peak_rss_mb']:.0f} ({nag['baseline_rss_mb']:.0f}) | {_slack_asked(nag)} | "
            f"{data['dm_nag']:,} `dm_nag` rows queued for {data['stale_owners']:,} owners with stale items "
            f"{_mark(verdicts[db]['dms'])}; {sweep.get('nagged_items', 0):,} items nagged, "
            f"{sweep.get('escalated', 0)} escalated |"
        )
        info = digest.get("digest", {})
        out.append(
            f"| {DB_NAMES.get(db, db)} | digest | {digest['seconds']:.2f} | < {DIGEST_TARGET_S:g} s "
            f"{_mark(verdicts[db]['digest'])} | {_driver(digest)} | "
            f"{digest['peak_rss_mb']:.0f} ({digest['baseline_rss_mb']:.0f}) | none | "
            f"{info.get('past_sla', 0):,} past SLA, "
            f"{sum(info.get('raised_this_week', {}).values()):,} raised this week; "
            f"rendered in {1000 * digest.get('render_seconds', 0):.0f} ms |"
        )
    out += [
        "",
        "*In the database* is the time the job spent inside the driver's execute calls (on PostgreSQL "
        "that includes receiving the rows) and how many statements it ran; the rest of *Seconds* is "
        "Python: building and loading ORM objects, the unit of work, cxbot's own code. *Slack* is "
        "what the job itself asked Slack; each queued DM is one more call (`chat.postMessage`) when "
        "the outbox sends it.",
        "",
        f"Peak RSS target (< {RSS_TARGET_MB:g} MB): "
        + ", ".join(f"{DB_NAMES.get(db, db)} {_mark(v['rss'])}" for db, v in verdicts.items())
        + ".",
        "",
    ]
    return out


def _slack_asked(nag: dict[str, Any]) -> str:
    """What the sweep asked Slack, and how long a day's first sweep took with the waiting."""
    calls = nag.get("slack_calls") or {}
    if not calls:
        return "nothing"
    asked = ", ".join(f"{count:,} `{method}`" for method, count in sorted(calls.items()))
    return f"{asked}; first of the day {nag['first_of_day_seconds']:.2f} s"
