"""The one error path: domain errors become a kind message; anything else is logged with a reference."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App

from bot.blocks.text import escape
from bot.deps import Deps
from bot.errors import CxError
from handlers.feedback import tell

log = logging.getLogger("cxbot.errors")


def register(app: App, deps: Deps) -> None:
    app.error(report)


def report(error: Exception, body: dict[str, Any]) -> None:
    """Bolt's error handler, and the same for work a listener handed to another thread: tell the
    user who sent `body` what went wrong, and give back what they typed."""
    if isinstance(error, CxError):
        text = error.user_message
    else:
        reference = uuid.uuid4().hex[:8]
        log.error("listener failed (ref %s)", reference, exc_info=error)
        text = (
            ":warning: Sorry, something went wrong on my side and I couldn't finish that. "
            f"Please try again in a minute; if it keeps happening, tell your CX leads (ref `{reference}`)."
        )
    typed = body.get("text") if isinstance(body, dict) and body.get("command") else None
    if isinstance(typed, str) and typed.strip():
        text += f"\nHere is what you wrote, so nothing is lost:\n>{escape(typed[:2500])}"
    try:
        tell(body if isinstance(body, dict) else {}, None, text)
    except Exception:
        log.warning("couldn't tell the user about an error", exc_info=True)
