"""The benchmark command: `.venv/bin/python -m benchmarks [--quick] [--only storm|jobs] [--db ...]`.

Runs the storm benchmark and the jobs-at-scale benchmark on SQLite and PostgreSQL, prints
progress on stderr, and (re)writes docs/benchmarks.md with the results and the command that
produced them. Loads go only to 127.0.0.1; every loop is bounded, and the whole run stops itself
after --time-limit seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks.common import REPO_ROOT, cleanup_everything, log, machine, postgres_reachable, start_watchdog

FULL = {"requests": 2_000, "seconds": 60, "items": 1_000_000, "owners": 2_000}
QUICK = {"requests": 400, "seconds": 20, "items": 100_000, "owners": 200}


_BENCHMARKS = ("storm", "jobs", "limits", "limits-nag")


def _benchmarks(value: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [part for part in chosen if part not in _BENCHMARKS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(_BENCHMARKS)}, comma-separated")
    return chosen


def _chosen(only: tuple[str, ...] | None, benchmark: str) -> bool:
    return only is None or benchmark in only


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a storm of {QUICK['requests']} commands over {QUICK['seconds']} s, and {QUICK['items']:,} "
        f"items (default {FULL['requests']:,} over {FULL['seconds']} s, and {FULL['items']:,})",
    )
    parser.add_argument(
        "--only",
        type=_benchmarks,
        help="run only these, comma-separated: storm, jobs, limits (the storm and a nag sweep "
        "under Slack's limits), limits-nag (that nag sweep alone)",
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--requests", type=int, help="commands in the storm")
    parser.add_argument("--seconds", type=float, help="how long the storm lasts")
    parser.add_argument("--items", type=int, help="items to seed for the jobs benchmark")
    parser.add_argument("--owners", type=int, help="distinct owners of the stale items")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--merge",
        type=Path,
        help="an earlier run's --json: the benchmarks this run leaves out (--only) come from it, "
        "and the page says so",
    )
    parser.add_argument(
        "--profile", type=Path, help="write pyinstrument profiles of the jobs to this directory"
    )
    parser.add_argument(
        "--time-limit", type=float, default=3600.0, help="stop everything after this many seconds"
    )
    return parser


def _command(argv: list[str]) -> str:
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(REPO_ROOT))
    except ValueError:
        shown = "python"
    if shown.startswith(".venv/") and not shown.startswith(".venv/bin/python"):
        shown = ".venv/bin/python"
    return shlex.join([shown, "-m", "benchmarks", *_figures_options(argv)])


# Where the results are written changes none of them: the command shown leaves these out.
_OUTPUT_OPTIONS = ("--json", "--output", "--merge")


def _figures_options(argv: list[str]) -> list[str]:
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _OUTPUT_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{option}=" for option in _OUTPUT_OPTIONS)):
            kept.append(arg)
    return kept


_SECTIONS = {"storm": "storm", "jobs": "jobs at scale", "paced": "under Slack's limits"}


def _merge(results: dict[str, Any], earlier: dict[str, Any]) -> list[str]:
    """Fill in the benchmarks this run left out from an earlier run's results; returns what the
    page should say about it."""
    notes = []
    paced, earlier_paced = results.get("paced"), earlier.get("paced")
    if paced is not None and earlier_paced is not None and "storm" not in paced:
        paced["storm"] = earlier_paced["storm"]
        notes.append(_from_earlier("storm under Slack's limits", earlier))
    for key, name in _SECTIONS.items():
        if key not in results and key in earlier:
            results[key] = earlier[key]
            notes.append(_from_earlier(name, earlier))
    return notes


def _from_earlier(name: str, earlier: dict[str, Any]) -> str:
    machine = earlier.get("machine", {})
    return (
        f"the {name} figures are from an earlier run ({machine.get('date', '?')}, commit "
        f"`{machine.get('commit') or 'unknown'}`), merged in with `--merge`"
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    sizes = QUICK if args.quick else FULL
    requests = args.requests or sizes["requests"]
    storm_seconds = args.seconds or sizes["seconds"]
    items = args.items or sizes["items"]
    owners = args.owners or min(sizes["owners"], max(1, items // 500))
    start_watchdog(args.time_limit)

    def interrupted(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    os.chdir(REPO_ROOT)

    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    skipped: list[str] = []
    if "postgres" in databases:
        reason = postgres_reachable()
        if reason is not None:
            databases.remove("postgres")
            skipped.append(f"PostgreSQL benchmarks: {reason}")
            log(f"skipping PostgreSQL: {reason}")
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "command": _command(argv)}
    try:
        if _chosen(args.only, "storm") and databases:
            from benchmarks.storm import run_storm

            results["storm"] = run_storm(databases=databases, requests=requests, seconds=storm_seconds)
        if _chosen(args.only, "jobs") and databases:
            from benchmarks.jobs import run_jobs

            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
            results["jobs"] = run_jobs(
                databases=databases, items=items, owners=owners, profile_dir=args.profile
            )
        if (_chosen(args.only, "limits") or _chosen(args.only, "limits-nag")) and databases:
            from benchmarks.paced import run_paced

            parts = ("storm", "nag") if _chosen(args.only, "limits") else ("nag",)
            results["paced"] = run_paced(databases=databases, parts=parts)
    except KeyboardInterrupt:
        log("interrupted: stopping the servers and dropping the schemas")
        cleanup_everything()
        return 130
    except Exception:
        cleanup_everything()
        raise
    seconds = time.monotonic() - started
    if args.merge is not None:
        skipped += _merge(results, json.loads(args.merge.read_text()))

    from benchmarks import export as export_benchmark
    from benchmarks.report import render

    if args.json is not None:
        args.json.write_text(json.dumps(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    page = render(
        command=results["command"],
        machine=results["machine"],
        storm=results.get("storm"),
        jobs=results.get("jobs"),
        skipped=skipped,
        seconds=seconds,
        paced=results.get("paced"),
    )
    # The export benchmark runs apart (python -m benchmarks.export); its section stays.
    exported = export_benchmark.kept_section(args.output)
    args.output.write_text(
        export_benchmark.with_section(page, exported) if exported else page, encoding="utf-8"
    )
    log(f"wrote {args.output}")
    print(json.dumps(results, indent=2))
    return 0
