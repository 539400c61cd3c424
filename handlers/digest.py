"""/cx-digest: a private preview of the weekly digest, and with `roundup`, of the month's "you
said, we did" roundup, for the CX leads."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.models.blocks import ContextBlock, ImageBlock, MarkdownTextObject

from bot.blocks.digest import digest_reply
from bot.blocks.roundup import roundup_reply
from bot.deps import Deps
from bot.jobs.digest import build_digest
from bot.jobs.roundup import build_roundup, period_start
from bot.outbox.deliveries import DeliveryContext, draw_chart
from bot.outbox.slack_calls import PermanentFailure, TransientFailure
from bot.outbox.uploads import upload_png

COMMAND = "/cx-digest"
log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    app.command(COMMAND)(_preview_listener(deps))


def _preview_listener(deps: Deps) -> Any:
    def on_preview(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
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
        preview = _preview(deps, str(command.get("text") or ""), client)
        answer = respond(**preview)
        if getattr(answer, "status_code", 200) != 200 and preview["blocks"][-1].get("type") == "image":
            # Slack refused the image (a file it hasn't processed yet, say): the digest without it.
            log.warning("/cx-digest: Slack refused the chart (%s); previewing without it", answer.body)
            preview["blocks"][-1] = _no_chart()
            respond(**preview)

    return on_preview


def _preview(deps: Deps, text: str, client: WebClient | None = None) -> dict[str, Any]:
    """`/cx-digest`: the weekly digest so far, with its chart; `/cx-digest roundup`: this month's
    roundup so far."""
    now = deps.clock()
    with deps.session_factory() as session:
        if text.strip().lower() == "roundup":
            reply = roundup_reply(build_roundup(session, start=period_start(now), end=now))
            return {"text": reply.text, "blocks": reply.as_dicts(), "response_type": "ephemeral"}
        reply = digest_reply(
            build_digest(session, end=now, members_of=deps.members_of), zone=deps.settings.timezone
        )
    blocks = reply.as_dicts()
    if client is not None:
        blocks.append(_chart_block(deps, client, end=now))
    return {"text": reply.text, "blocks": blocks, "response_type": "ephemeral"}


def _chart_block(deps: Deps, client: WebClient, *, end: datetime) -> dict[str, Any]:
    """The chart, uploaded private to cxbot (shared nowhere) and shown by its file ID, so that only
    the lead who asked sees it; if it can't be drawn or uploaded, a line that says so."""
    ctx = DeliveryContext(client=client, session_factory=deps.session_factory, clock=deps.clock)
    chart = draw_chart(ctx, end=end)
    if chart is not None:
        png, title, alt = chart
        try:
            file_id = upload_png(client, png=png, filename="cx-digest-preview.png", title=title, alt_text=alt)
        except (PermanentFailure, TransientFailure) as failure:
            log.warning("/cx-digest: couldn't upload the chart (%s); previewing without it", failure)
        else:
            return ImageBlock(slack_file={"id": file_id}, alt_text=alt, title=title).to_dict()
    return _no_chart()


def _no_chart() -> dict[str, Any]:
    return ContextBlock(elements=[MarkdownTextObject(text="The chart couldn't be made just now.")]).to_dict()
