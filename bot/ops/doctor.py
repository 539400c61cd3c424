"""`cxbot doctor`: checks what an admin set up, and says for each thing ✓, or what is wrong and how
to fix it. Run it after setting up, and whenever something looks wrong."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import first_line
from bot.settings import Settings, SettingsError, load_settings
from bot.slack import health
from storage import outbox as outbox_queries
from storage import routes as route_queries
from storage.db import make_engine, make_session_factory
from storage.models import Route
from storage.schema import SchemaError, schema_state


@dataclass(frozen=True)
class Finding:
    ok: bool
    subject: str
    detail: str

    def line(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.subject}: {self.detail}"


def examine(env: Mapping[str, str], *, client_for: Callable[[Settings], health.Client]) -> Iterator[Finding]:
    """Each finding in turn. Stops early only where nothing after could be checked."""
    try:
        settings = load_settings(env, need_slack=True)
    except SettingsError as error:
        yield Finding(False, "Settings", str(error))
        return
    yield Finding(True, "Settings", "every required setting is there and well-formed")
    engine = make_engine(settings.database_url)
    try:
        database_ok = yield from _database(engine)
        client = client_for(settings)
        try:
            token = health.token(client)
        except SlackApiError as error:
            yield Finding(
                False,
                "Slack token",
                f"Slack refused it ({error.response.get('error')}): check SLACK_BOT_TOKEN",
            )
            return
        yield _scopes(token)
        yield from _channels(client, settings)
        yield from _people(client, settings.admins, "CX lead (CX_ADMINS)")
        if database_ok:
            yield from _routes(client, engine)
            yield from _outbox(engine)
    finally:
        engine.dispose()


def _database(engine: Engine) -> Generator[Finding, None, bool]:
    try:
        state = schema_state(engine)
    except SchemaError as error:
        yield Finding(False, "Database", str(error))
        return False
    except SQLAlchemyError as error:
        yield Finding(False, "Database", f"can't connect: {first_line(error)}. Check DATABASE_URL")
        return False
    where = engine.url.render_as_string(hide_password=True)
    if state.current is None:
        yield Finding(
            False, "Database", f"{where} has no cxbot tables yet: run `cxbot migrate` (or `cxbot run`)"
        )
        return False
    if not state.up_to_date:
        yield Finding(
            False, "Database", f"{where} is at schema {state.current}, not {state.head}: run `cxbot migrate`"
        )
        return False
    yield Finding(True, "Database", f"{where}, schema {state.current} (up to date)")
    return True


def _scopes(token: health.Token) -> Finding:
    subject = f"Slack token (workspace {token.team or token.team_id})"
    if token.scopes is None:
        return Finding(True, subject, "valid; Slack didn't list its scopes")
    missing = [scope for scope in health.REQUIRED_SCOPES if scope not in token.scopes]
    if missing:
        return Finding(
            False,
            subject,
            f"missing the scopes {', '.join(missing)}: add them from manifest.yaml under "
            "OAuth & Permissions, then reinstall the app",
        )
    return Finding(True, subject, "valid, with every scope manifest.yaml asks for")


def _channels(client: health.Client, settings: Settings) -> Iterator[Finding]:
    for setting, channel in (
        ("CX_TRIAGE_CHANNEL", settings.triage_channel),
        ("CX_KUDOS_CHANNEL", settings.kudos_channel),
        ("CX_DIGEST_CHANNEL", settings.digest_channel),
    ):
        problem = health.channel_problem(client, channel)
        yield Finding(problem is None, f"{setting} ({channel})", problem or "cxbot can post there")


def _people(client: health.Client, people: tuple[str, ...], role: str) -> Iterator[Finding]:
    for person in people:
        problem = health.person_problem(client, person)
        fix = f"{problem}: take them out of CX_ADMINS" if problem else "an active member"
        yield Finding(problem is None, f"{role} {person}", fix)


def _routes(client: health.Client, engine: Engine) -> Iterator[Finding]:
    with make_session_factory(engine)() as session:
        routes = route_queries.active_routes(session=session)
    if not routes:
        yield Finding(True, "Routes", "none yet: every item goes to triage as a grey area")
        return
    for route in routes:
        found = [problem for problem in _route_problems(client, route) if problem]
        if found:
            detail = "; ".join(found) + ". Or change the route in the routes file, and import it again"
        else:
            detail = f"posts to {route.channel}, owned by {route.owner}"
        yield Finding(not found, f"Route {route.area!r}", detail)


def _route_problems(client: health.Client, route: Route) -> Iterator[str | None]:
    channel = health.channel_problem(client, route.channel)
    yield f"channel: {channel}" if channel else None
    people = [("owner", owner) for owner in route.owner.split(",")] + [("escalate_to", route.escalate_to)]
    for role, who in people:
        if who:
            problem = (
                health.group_problem(client, who)
                if who.startswith("S")
                else health.person_problem(client, who)
            )
            yield f"{role}: {problem}" if problem else None


def _outbox(engine: Engine) -> Iterator[Finding]:
    with make_session_factory(engine)() as session:
        counts = outbox_queries.counts_by_status(session=session)
    waiting = counts.get("pending", 0) + counts.get("sending", 0)
    failed = counts.get("failed", 0)
    if failed:
        yield Finding(
            False,
            "Outbox",
            f"{failed} message{'s' if failed != 1 else ''} Slack refused: `cxbot outbox` says why; fix the "
            "cause, then `cxbot outbox retry`",
        )
        return
    yield Finding(True, "Outbox", f"no failed messages; {waiting} waiting to be sent")
