"""/cx-digest: a private preview of the weekly digest, and with `roundup`, of the month's "you
said, we did" roundup, for the CX leads."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.blocks.digest import digest_reply
from bot.blocks.roundup import roundup_reply
from bot.deps import Deps
from bot.jobs.digest import build_digest
from bot.jobs.roundup import build_roundup, period_start

COMMAND = "/cx-digest"


def register(app: App, deps: Deps) -> None:
    app.command(COMMAND)(_preview_listener(deps))


def _preview_listener(deps: Deps) -> Any:
    def on_preview(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        if command.get("user_id") not in deps.settings.admins:
            ack(
                text="The digest preview is for the CX leads; the digest itself goes to its channel weekly.",
                response_type="ephemeral",
            )
            return
        if not command.get("response_url"):  # Slack always sends one; without it, answer in the ack
            ack(**_preview(deps, str(command.get("text") or "")))
            return
        ack()
        respond(**_preview(deps, str(command.get("text") or "")))

    return on_preview


def _preview(deps: Deps, text: str) -> dict[str, Any]:
    """`/cx-digest`: the weekly digest so far; `/cx-digest roundup`: this month's roundup so far."""
    now = deps.clock()
    with deps.session_factory() as session:
        if text.strip().lower() == "roundup":
            reply = roundup_reply(build_roundup(session, start=period_start(now), end=now))
        else:
            reply = digest_reply(build_digest(session, end=now), zone=deps.settings.timezone)
    return {"text": reply.text, "blocks": reply.as_dicts(), "response_type": "ephemeral"}
