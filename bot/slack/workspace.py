"""Which workspace cxbot's token belongs to, as Slack's auth.test says."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient


@dataclass(frozen=True)
class Workspace:
    team_id: str | None
    enterprise_id: str | None


def installed_workspace(client: WebClient) -> Workspace:
    """Raises SlackApiError (or OSError) when Slack can't say."""
    answer = client.auth_test()
    return Workspace(answer.get("team_id"), answer.get("enterprise_id"))
