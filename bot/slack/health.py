"""Asking Slack whether what the settings and routes name is there and usable: for `cxbot doctor`.
Each function returns None when all is well, else what is wrong, in words for the admin."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

Client = WebClient  # for callers outside bot/slack and bot/outbox, which don't import slack_sdk's

# What cxbot needs of its token: the bot scopes manifest.yaml asks for (tests/test_manifest.py
# checks the two agree).
REQUIRED_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:join",
    "channels:read",
    "channels:history",
    "groups:read",
    "groups:history",
    "im:write",
    "im:history",
    "users:read",
    "usergroups:read",
    "files:write",
)


@dataclass(frozen=True)
class Token:
    team: str
    team_id: str
    bot_user_id: str
    scopes: frozenset[str] | None  # None when Slack didn't say


def token(client: WebClient) -> Token:
    """The token's workspace and scopes, from auth.test. Raises SlackApiError if Slack refuses it."""
    answer = client.auth_test()
    headers = {name.lower(): value for name, value in (answer.headers or {}).items()}
    raw = headers.get("x-oauth-scopes")
    scopes = frozenset(scope.strip() for scope in str(raw).split(",") if scope.strip()) if raw else None
    return Token(
        team=str(answer.get("team") or ""),
        team_id=str(answer.get("team_id") or ""),
        bot_user_id=str(answer.get("user_id") or ""),
        scopes=scopes,
    )


def channel_problem(client: WebClient, channel: str) -> str | None:
    """Whether cxbot can post in `channel`: it exists, isn't archived, and, if private, has
    cxbot in it (a public one cxbot joins itself)."""
    try:
        found = client.conversations_info(channel=channel).get("channel") or {}
    except SlackApiError as error:
        code = error.response.get("error")
        if code == "channel_not_found":
            return (
                f"there is no channel {channel}, or it is private and cxbot isn't in it "
                "(`/invite @cxbot` there)"
            )
        return f"Slack couldn't say ({code})"
    name = f"#{found.get('name')}" if found.get("name") else channel
    if found.get("is_archived"):
        return f"{name} is archived: unarchive it, or point the setting or route at another channel"
    if found.get("is_private") and not found.get("is_member"):
        return f"{name} is private and cxbot isn't in it: `/invite @cxbot` there"
    return None


def person_problem(client: WebClient, user_id: str) -> str | None:
    """Whether `user_id` is a person in the workspace who can still be asked (not deactivated)."""
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError as error:
        code = error.response.get("error")
        if code == "user_not_found":
            return f"there is no user {user_id} in this workspace"
        return f"Slack couldn't say ({code})"
    if user.get("deleted"):
        return f"{user_id} has been deactivated"
    return None


def group_problem(client: WebClient, group_id: str) -> str | None:
    """Whether `group_id` is a user group with someone in it."""
    try:
        users = client.usergroups_users_list(usergroup=group_id).get("users") or []
    except SlackApiError as error:
        code = error.response.get("error")
        if code == "no_such_subteam":
            return f"there is no user group {group_id} in this workspace"
        return f"Slack couldn't say ({code})"
    if not users:
        return f"user group {group_id} has nobody in it: nobody would hear of its items"
    return None
