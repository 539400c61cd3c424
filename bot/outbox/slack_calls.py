"""Calling Slack from the dispatcher: every failure sorted into retry-later or give-up.

A failure whose outcome is unknown (a timeout, a dropped connection, a 5xx) is `uncertain`:
Slack may have acted on it, so the next attempt looks before it posts again.
"""

from __future__ import annotations

import http.client
import logging
import socket
import urllib.error
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient

from bot.ops import metrics

log = logging.getLogger(__name__)

# Slack error codes that mean "try again later" rather than "this request is wrong".
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
DEFAULT_RETRY_AFTER = 30.0
# Slack refuses the token itself: revoked, the app uninstalled, the workspace or bot deactivated.
# Nothing will be delivered until an admin sets a new token, so deliveries wait for that.
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})


class TransientFailure(Exception):
    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        uncertain: bool = False,
        method: str | None = None,
        channel: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.uncertain = uncertain
        # The Web API method (and channel) that answered, for a 429 to hold only its own limit.
        self.method = method
        self.channel = channel


class PermanentFailure(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


_NETWORK_ERRORS = (
    urllib.error.URLError,
    TimeoutError,
    socket.timeout,
    ConnectionError,
    http.client.HTTPException,
)


def call(method: Callable[..., SlackResponse], **arguments: Any) -> dict[str, Any]:
    """Call a WebClient method and return its data, or raise Transient/PermanentFailure."""
    name = method.__name__.replace("_", ".")  # chat_postMessage: chat.postMessage
    try:
        response = method(**arguments)
    except SlackApiError as error:
        status = error.response.status_code
        metrics.SLACK_CALLS.labels(name, "ratelimited" if status == 429 else "error").inc()
        failure = _classify(error.response)
        if isinstance(failure, TransientFailure):
            failure.method, failure.channel = name, _channel_of(arguments)
        raise failure from None
    except _NETWORK_ERRORS as error:
        metrics.SLACK_CALLS.labels(name, "error").inc()
        raise TransientFailure(f"network: {error!r}", uncertain=True) from None
    metrics.SLACK_CALLS.labels(name, "ok").inc()
    data = response.data
    return data if isinstance(data, dict) else {}


def look_up(method: Callable[..., SlackResponse], **arguments: Any) -> dict[str, Any]:
    """`call` for a method that posts nothing (a read, or opening or joining a conversation):
    whatever became of it, nothing can have been posted, so its failure is never uncertain and
    doesn't make the next attempt look for an earlier post."""
    try:
        return call(method, **arguments)
    except TransientFailure as failure:
        if not failure.uncertain:
            raise
        raise TransientFailure(
            failure.reason, retry_after=failure.retry_after, method=failure.method, channel=failure.channel
        ) from None


def _channel_of(arguments: dict[str, Any]) -> str | None:
    channel = arguments.get("channel")
    return channel if isinstance(channel, str) else None


def _classify(response: SlackResponse) -> Exception:
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or f"http_{status}")
    if status == 429:
        return TransientFailure("rate limited (429)", retry_after=_retry_after(response.headers))
    if status >= 500:
        return TransientFailure(f"Slack answered HTTP {status}", uncertain=True)
    if code in TRANSIENT_ERRORS:
        return TransientFailure(f"Slack answered {code}", retry_after=_retry_after(response.headers))
    return PermanentFailure(code)


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            try:
                return max(float(value), 0.0)
            except ValueError:
                return DEFAULT_RETRY_AFTER
    return None


class ResponseUrlGone(Exception):
    """The response_url expired (30 minutes) or was used up (5 replies)."""


def post_to_response_url(url: str, *, text: str, blocks: list[dict[str, Any]], timeout: int) -> None:
    client = WebhookClient(url, timeout=timeout, retry_handlers=[])
    try:
        response = client.send(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
    except _NETWORK_ERRORS as error:
        raise TransientFailure(f"network: {error!r}", uncertain=True) from None
    if response.status_code == 200:
        return
    if response.status_code == 429:
        raise TransientFailure("rate limited (429)", retry_after=_retry_after(response.headers))
    if response.status_code >= 500:
        raise TransientFailure(f"response_url answered HTTP {response.status_code}", uncertain=True)
    raise ResponseUrlGone(f"HTTP {response.status_code}: {response.body[:100]}")
