"""Ignoring requests for a workspace this bot isn't installed in.

cxbot is installed in one workspace (or one workspace of an Enterprise Grid org). Which one comes
from `auth.test`, asked once and kept. A signed request naming another team or enterprise (an
event authorised for elsewhere, a click relayed from another workspace) is answered 200, so that
Slack doesn't retry it, logged at INFO, and not acted on. Org-wide installs, when cxbot learns
them, are decided here too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk.errors import SlackApiError

from bot.slack.workspace import Workspace, installed_workspace

log = logging.getLogger(__name__)


def foreign(context: BoltContext, home: Workspace) -> str | None:
    """The other team or enterprise a request is for, or None if it is for `home` (or names none,
    as ssl_check and url_verification don't)."""
    team, enterprise = context.team_id, context.enterprise_id
    if enterprise and enterprise != home.enterprise_id:
        return f"enterprise {enterprise}"
    if team and team != home.team_id:
        return f"team {team}"
    return None


class WorkspaceGuard(Middleware):
    def __init__(self) -> None:
        self._home: Workspace | None = None
        self._lock = threading.Lock()

    def home(self, req: BoltRequest) -> Workspace | None:
        """The workspace the token belongs to, from one `auth.test`; None while Slack can't say."""
        with self._lock:
            if self._home is None and req.context.client is not None:
                try:
                    self._home = installed_workspace(req.context.client)
                except (SlackApiError, OSError) as error:
                    log.warning("couldn't ask Slack which workspace cxbot is installed in: %s", error)
            return self._home

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        home = self.home(req)
        elsewhere = foreign(req.context, home) if home is not None else None
        if elsewhere is not None:
            log.info(
                "ignored a %s request for %s: cxbot is installed in team %s",
                req.body.get("type") or "slash command",
                elsewhere,
                home.team_id if home else "?",
            )
            return BoltResponse(status=200, body="")
        return next()
