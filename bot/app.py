"""The app factory: a Bolt App with every listener registered, and no side effects at import."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot.deps import Deps
from bot.guard import payload
from bot.guard.workspace import WorkspaceGuard
from handlers import register_all

log = logging.getLogger(__name__)

# Bolt runs each listener on one of these; a command's listener holds one until its item is
# stored (milliseconds), and longer only while the database is away. Bolt's default is 5.
LISTENER_THREADS = 16


def make_web_client(token: str, base_url: str, *, retries: bool, timeout: int = 10) -> WebClient:
    """The dispatcher's client does its own retrying (retries=False), so a call is never silently
    repeated; the listeners' client keeps slack_sdk's one retry on a dropped connection."""
    client = WebClient(token=token, base_url=base_url, timeout=timeout)
    if not retries:
        client.retry_handlers.clear()
    return client


class RequestGuard(Middleware):
    """Refuses malformed payloads with 400 before Bolt's authorization or any listener sees them,
    over HTTP and Socket Mode alike."""

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        refused = payload.refusal(req)
        if refused is not None:
            return refused
        return next()


def create_app(deps: Deps, *, listener_executor: Executor | None = None) -> App:
    """`listener_executor` runs listeners after they ack; tests pass one they can wait on."""
    settings = deps.settings
    app = App(
        name="cxbot",
        client=make_web_client(settings.slack_bot_token, settings.slack_api_url, retries=True),
        signing_secret=settings.slack_signing_secret or None,
        request_verification_enabled=bool(settings.slack_signing_secret),
        process_before_response=False,
        listener_executor=listener_executor or ThreadPoolExecutor(max_workers=LISTENER_THREADS),
        # Right after the signature check, before Bolt's own middleware reads the payload (its
        # authorization step trusts `event` to be an object).
        before_authorize=RequestGuard(),
    )
    app.use(WorkspaceGuard())
    register_all(app, deps)
    return app
