"""The `cxbot` command: run the bot, migrate the database, manage routes."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from dotenv import load_dotenv
from prometheus_client import start_http_server
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.app import Runtime, build_runtime, make_web_client
from bot.clock import system_clock
from bot.errors import first_line
from bot.jobs import schedule
from bot.jobs.digest import chart_series
from bot.jobs.schedule import start_scheduler
from bot.ops import doctor, export, logs, metrics
from bot.ops import forget as forgetting
from bot.routing.routes_file import RoutesFileError, import_routes_file, routes_toml
from bot.settings import Settings, SettingsError, load_settings
from storage import outbox as queue
from storage import routes as route_queries
from storage.db import make_engine, make_session_factory, transaction
from storage.schema import SchemaError, migrate, schema_state

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

log = logging.getLogger("cxbot")

DEFAULT_PORT = 3000


class CliError(Exception):
    """Stops the command with one line on stderr."""


def main(argv: Sequence[str] | None = None) -> int:
    load_dotenv(Path.cwd() / ".env")
    args = _parser().parse_args(argv)
    try:
        _configure_logging()
        result: int = args.handler(args)
    except (CliError, SettingsError, RoutesFileError, SchemaError) as error:
        print(f"cxbot: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        print(f"cxbot: can't use the database: {first_line(error)}", file=sys.stderr)
        return 2
    except (BoltError, SlackApiError) as error:
        print(f"cxbot: Slack refused the app's credentials: {first_line(error)}", file=sys.stderr)
        return 2
    return result


def _configure_logging() -> None:
    level = os.environ.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    log_format = os.environ.get("LOG_FORMAT", "").strip().lower() or "plain"
    if log_format not in logs.FORMATS:
        raise SettingsError(f"LOG_FORMAT must be plain or json, got {log_format!r}")
    logs.configure(level=level, log_format=log_format)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cxbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the bot (Socket Mode, or HTTP with --http)")
    run.add_argument("--http", action="store_true", help="serve Slack's requests at /slack/events")
    run.add_argument("--port", type=int, help=f"HTTP port (default: $PORT or {DEFAULT_PORT})")
    run.add_argument("--host", default="0.0.0.0", help="HTTP address to listen on (default: 0.0.0.0)")
    run.add_argument(
        "--no-scheduler",
        action="store_true",
        help="don't run the nag sweep and digest here (run them with `jobs run`)",
    )
    run.set_defaults(handler=_run)

    jobs_command = commands.add_parser("jobs", help="run a scheduled job once")
    job_commands = jobs_command.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    job_run = job_commands.add_parser("run", help="run the nag sweep or the digest once, now or as of --at")
    job_run.add_argument("job", choices=["nag", "digest", "roundup", "retention"])
    job_run.add_argument("--at", type=_moment, help="act as if the time were this ISO-8601 moment")
    job_run.set_defaults(handler=_jobs_run)

    digest_command = commands.add_parser("digest", help="the weekly digest's chart, drawn locally")
    digest_commands = digest_command.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    digest_chart = digest_commands.add_parser(
        "chart", help="write the chart of the 12 weeks before now (or --at)"
    )
    digest_chart.add_argument("--out", type=Path, required=True, help="the PNG file to write")
    digest_chart.add_argument("--at", type=_moment, help="the weeks before this ISO-8601 moment")
    digest_chart.set_defaults(handler=_digest_chart)

    doctor = commands.add_parser(
        "doctor", help="check the settings, database, Slack token, channels and routes"
    )
    doctor.set_defaults(handler=_doctor)

    migrate_command = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate_command.set_defaults(handler=_migrate)

    routes = commands.add_parser("routes", help="import or list the routes")
    route_commands = routes.add_subparsers(dest="routes_command", required=True, metavar="ACTION")
    route_import = route_commands.add_parser(
        "import", help="make the routes what a TOML file says (routes claimed in Slack are kept)"
    )
    route_import.add_argument("file", type=Path)
    route_import.add_argument(
        "--replace",
        action="store_true",
        help="also retire routes claimed in Slack that the file lacks",
    )
    route_import.set_defaults(handler=_routes_import)
    route_list = route_commands.add_parser("list", help="show the active routes")
    route_list.set_defaults(handler=_routes_list)
    route_export = route_commands.add_parser(
        "export", help="write the active routes as a routes file (to FILE, else to stdout)"
    )
    route_export.add_argument("file", type=Path, nargs="?", help="where to write it")
    route_export.set_defaults(handler=_routes_export)

    forget_command = commands.add_parser(
        "forget", help="remove a person from every table (says what would change unless --yes)"
    )
    forget_command.add_argument("user_id", metavar="USER_ID", help="their Slack member ID, U…")
    forget_command.add_argument(
        "--yes", action="store_true", help="do it (without: only say what would change)"
    )
    forget_command.set_defaults(handler=_forget)

    outbox = commands.add_parser("outbox", help="show undelivered messages, or send failed ones again")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", metavar="ACTION")
    outbox.set_defaults(handler=_outbox_status)
    outbox_retry = outbox_commands.add_parser("retry", help="send every failed message again")
    outbox_retry.set_defaults(handler=_outbox_retry)

    try_command = commands.add_parser(
        "try", help="try cxbot with no Slack workspace: a local page that plays Slack"
    )
    try_command.add_argument("--port", type=int, default=8080, help="the page's port (default 8080)")
    try_command.add_argument("--demo-data", action="store_true", help="start with a few example items")
    try_command.add_argument(
        "--no-browser", action="store_true", help="print the page's address instead of opening it"
    )
    try_command.set_defaults(handler=_try)

    export_command = commands.add_parser("export", help="write items or events as CSV or JSON Lines")
    export_command.add_argument("table", choices=["items", "events"])
    export_command.add_argument(
        "--since",
        type=_moment,
        help="items raised, or events, from this date or time on (inclusive; "
        "YYYY-MM-DD or ISO-8601, read in CX_TIMEZONE without a zone)",
    )
    export_command.add_argument("--until", type=_moment, help="and before this one (exclusive)")
    export_command.add_argument("--format", choices=["csv", "jsonl"], default="csv", help="(default: csv)")
    export_command.add_argument("--out", type=Path, metavar="FILE", help="write to FILE (default: stdout)")
    export_command.set_defaults(handler=_export)
    return parser


def _try(args: argparse.Namespace) -> int:
    from bot.sandbox.sandbox import NotASandboxDatabase  # the sandbox only for the command that runs it
    from bot.sandbox.serve import PortTaken, serve

    logging.getLogger().setLevel(logging.WARNING)  # the page shows what happens; the log, problems
    try:
        serve(
            port=args.port,
            demo_data=args.demo_data,
            open_browser=not args.no_browser,
            database_url=os.environ.get("DATABASE_URL", "").strip() or None,
        )
    except (NotASandboxDatabase, PortTaken) as error:
        raise CliError(str(error)) from None
    return 0


def _settings(*, need_slack: bool, http: bool = False) -> Settings:
    return load_settings(os.environ, need_slack=need_slack, http=http)


def _run(args: argparse.Namespace) -> int:
    settings = _settings(need_slack=True, http=args.http)
    if not args.http and not settings.socket_mode:
        raise CliError(
            "SLACK_APP_TOKEN is not set: set it (xapp-...) to use Socket Mode, "
            "or run `cxbot run --http` to serve Slack over HTTP"
        )
    port = _port(args.port)
    metrics_port = _metrics_port()
    runtime = build_runtime(settings)
    _stop_on_sigterm()
    scheduler = None
    try:
        runtime.dispatcher.start()
        scheduler = None if args.no_scheduler else start_scheduler(runtime.deps)
        if args.http:
            _serve_http(runtime, host=args.host, port=port)
        else:
            _serve_socket_mode(runtime, settings, metrics_port=metrics_port)
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        runtime.close()
    return 0


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time like 2026-11-23T09:00+00:00"
        ) from None
    if moment.tzinfo is None:
        zone = os.environ.get("CX_TIMEZONE", "").strip() or "UTC"
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def _jobs_run(args: argparse.Namespace) -> int:
    runtime = build_runtime(_settings(need_slack=True))
    try:
        if args.job == "nag":
            result = schedule.sweep(runtime.deps, at=args.at)
            if not result.ran:
                print(f"The nag sweep for {result.period} already ran; nothing to do.")
            else:
                print(
                    f"Nag sweep {result.period}: {result.nagged_items} items nagged in {result.dms} DMs, "
                    f"{result.escalated} escalated, "
                    f"{result.waiting_for_working_hours} waiting for working hours."
                )
        elif args.job == "retention":
            _run_retention(runtime, at=args.at)
        elif args.job == "roundup":
            ran = schedule.post_roundup(runtime.deps, at=args.at)
            print("Roundup queued." if ran else "The roundup for that moment already ran; nothing to do.")
        else:
            ran = schedule.post_digest(runtime.deps, at=args.at)
            print("Digest queued." if ran else "The digest for that moment already ran; nothing to do.")
        delivered = runtime.dispatcher.drain()
        print(f"Delivered {delivered} message{'s' if delivered != 1 else ''} to Slack.")
    finally:
        runtime.close()
    return 0


def _run_retention(runtime: Runtime, *, at: datetime | None) -> None:
    if runtime.deps.settings.retention_days is None:
        raise CliError("CX_RETENTION_DAYS is not set, so nothing is purged; set it to a number of days")
    result = schedule.purge(runtime.deps, at=at)
    if not result.ran:
        print(f"Retention for {result.period} already ran; nothing to do.")
        return
    changed = ", ".join(f"{count} {table}" for table, count in sorted(result.rows.items()) if count)
    print(
        f"Retention {result.period}: purged {result.items} closed items"
        + (f" ({changed})." if changed else ".")
    )


def _digest_chart(args: argparse.Namespace) -> int:
    from bot.charts import weekly  # matplotlib: only for the commands that draw

    end = args.at or system_clock()
    with _database() as factory, factory() as session:
        series = chart_series(session, end=end)
    png = weekly.draw(series)
    try:
        args.out.write_bytes(png)
    except OSError as error:
        raise CliError(f"can't write {args.out}: {error.strerror}") from None
    print(
        f"Wrote the chart of the 12 weeks to {end:%Y-%m-%d %H:%M} UTC in {args.out}: "
        f"{weekly.title_of(series)}."
    )
    return 0


def _port(flag: int | None) -> int:
    if flag is not None:
        port = flag
    else:
        raw = os.environ.get("PORT", "").strip() or str(DEFAULT_PORT)
        if not raw.isdigit():
            raise SettingsError(f"PORT must be a number between 1 and 65535, got {raw!r}")
        port = int(raw)
    if not 0 < port < 65536:
        raise SettingsError(f"PORT must be a number between 1 and 65535, got {port}")
    return port


def _metrics_port() -> int | None:
    """CX_METRICS_PORT: where Socket Mode serves /metrics (over HTTP, /metrics is on the server)."""
    raw = os.environ.get("CX_METRICS_PORT", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"CX_METRICS_PORT must be a number between 1 and 65535, got {raw!r}")
    return int(raw)


def _serve_http(runtime: Runtime, *, host: str, port: int) -> None:
    from bot.server import EVENTS_PATH, make_http_server

    server = make_http_server(
        runtime.app, signing_secret=runtime.deps.settings.slack_signing_secret, host=host, port=port
    )
    log.info("serving Slack at http://%s:%s%s", host, server.effective_port, EVENTS_PATH)
    try:
        server.run()
    finally:
        server.close()


def _serve_socket_mode(runtime: Runtime, settings: Settings, *, metrics_port: int | None) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if metrics_port is not None:
        start_http_server(metrics_port, registry=metrics.REGISTRY)
        log.info("serving Prometheus metrics at http://0.0.0.0:%d/metrics", metrics_port)
    log.info("connecting to Slack over Socket Mode")
    handler = SocketModeHandler(runtime.app, settings.slack_app_token)
    try:
        handler.start()  # type: ignore[no-untyped-call]
    finally:
        # Before the filing threads stop: no command may arrive once it can't be stored.
        handler.close()  # type: ignore[no-untyped-call]


def _stop_on_sigterm() -> None:
    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    handler: Callable[[int, FrameType | None], None] = interrupt
    signal.signal(signal.SIGTERM, handler)


def _doctor(_args: argparse.Namespace) -> int:
    healthy = True
    for finding in doctor.examine(
        os.environ,
        client_for=lambda settings: make_web_client(
            settings.slack_bot_token, settings.slack_api_url, retries=True
        ),
    ):
        print(finding.line(), flush=True)
        healthy = healthy and finding.ok
    print("All is well." if healthy else "Fix what is marked ✗, then run `cxbot doctor` again.")
    return 0 if healthy else 1


def _migrate(_args: argparse.Namespace) -> int:
    engine = make_engine(_settings(need_slack=False).database_url)
    try:
        before = schema_state(engine)
        migrate(engine)
    finally:
        engine.dispose()
    if before.up_to_date:
        print(f"The database schema is up to date ({before.head}).")
    else:
        print(f"Migrated the database schema from {before.current or 'empty'} to {before.head}.")
    return 0


def _routes_import(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    engine = make_engine(_settings(need_slack=False).database_url)
    try:
        migrate(engine)
        summary = import_routes_file(engine, path, clock=system_clock, replace=args.replace)
    finally:
        engine.dispose()
    claimed = dict(summary.claimed)

    def named(area: str) -> str:
        return f"{area} (claimed in Slack by {claimed[area]})" if area in claimed else area

    for label, areas in (
        ("added", summary.added),
        ("changed", summary.changed),
        ("unchanged", summary.unchanged),
        ("retired", summary.retired),
        ("kept", summary.kept),
    ):
        if areas:
            print(f"{label:>9}: {', '.join(named(area) for area in areas)}")
    total = len(summary.added) + len(summary.changed) + len(summary.unchanged)
    print(f"{total} active route{'s' if total != 1 else ''} from {path}.")
    if summary.kept:
        some = "route" if len(summary.kept) == 1 else "routes"
        print(
            f"Kept {len(summary.kept)} {some} claimed in Slack that {path} doesn't list. They stay "
            "active; to retire them, run this again with --replace, or add them to the file "
            "(`cxbot routes export` writes every route)."
        )
    return 0


def _routes_list(_args: argparse.Namespace) -> int:
    with _database() as factory, factory() as session:
        routes = route_queries.active_routes(session=session)
    if not routes:
        print("No routes yet: every item goes to CX_TRIAGE_CHANNEL as a grey area.")
        print("Import some with `cxbot routes import routes.toml`.")
        return 0
    rows = [("AREA", "OWNER", "CHANNEL", "ESCALATE TO", "KEYWORDS")] + [
        (r.area, r.owner, r.channel, r.escalate_to or "-", ", ".join(r.keywords) or "-") for r in routes
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
    return 0


def _routes_export(args: argparse.Namespace) -> int:
    with _database() as factory, factory() as session:
        text = routes_toml(route_queries.active_routes(session=session))
    if args.file is None:
        sys.stdout.write(text)
        return 0
    args.file.write_text(text, encoding="utf-8")
    count = text.count("[[routes]]")
    print(f"Wrote {count} route{'s' if count != 1 else ''} to {args.file}.")
    return 0


def _forget(args: argparse.Namespace) -> int:
    with _database() as factory:
        try:
            result = forgetting.forget(factory, user_id=args.user_id.strip(), really=args.yes)
        except forgetting.CantForget as problem:
            raise CliError(str(problem)) from None
    verb = "Changed" if result.done else "Would change"
    if result.total == 0:
        print(f"{result.user_id} appears nowhere; nothing to change.")
    else:
        becoming = result.tombstone if result.done else "a tombstone"
        print(f"{verb} {result.total} rows, {result.user_id} becoming {becoming}:")
        for table, count in result.rows.items():
            if count:
                print(f"  {table:<15} {count}")
    if result.waiting:
        print(
            f"{result.waiting} message(s) to or about them are still waiting for Slack and were left as they "
            "are; run this again once `cxbot outbox` shows them sent."
        )
    if not result.done and result.total:
        print(f"Nothing changed yet. To do it: cxbot forget {result.user_id} --yes")
    if result.done:
        print('Messages already in Slack are untouched: see README, "Retention and erasure".')
    return 0


def _outbox_status(_args: argparse.Namespace) -> int:
    with _database() as factory, factory() as session:
        counts = queue.counts_by_status(session=session)
        failed = queue.failed_messages(session=session)
    summary = ", ".join(
        f"{counts.get(status, 0)} {status}" for status in ("pending", "sending", "sent", "failed")
    )
    print(f"Outbox: {summary}.")
    for message in failed:
        print(f"  #{message.id} {message.kind} (item #{message.item_id}): {message.last_error}")
    if failed:
        print("Fix the cause (say, invite the bot to the channel), then run `cxbot outbox retry`.")
    return 0


def _outbox_retry(_args: argparse.Namespace) -> int:
    with _database() as factory, transaction(factory) as session:
        count = queue.requeue_failed(session=session, now=system_clock())
    print(
        f"{count} failed message{'s' if count != 1 else ''} queued again; a running cxbot sends them shortly."
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    if args.since is not None and args.until is not None and args.until <= args.since:
        raise CliError("--until must be later than --since")
    request = export.Request(args.table, args.format, since=args.since, until=args.until)
    progress = export.progress_bar(f"Exporting {args.table}", to_file=args.out is not None)
    with _database() as factory, export.output(args.out) as out:
        count = export.export(session_factory=factory, request=request, out=out, progress=progress)
    if args.out is not None:
        print(f"Wrote {count:,} {args.table if count != 1 else args.table[:-1]} to {args.out}.")
    return 0


@contextmanager
def _database() -> Iterator[sessionmaker[Session]]:
    engine = make_engine(_settings(need_slack=False).database_url)
    try:
        migrate(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
