"""Events cxbot subscribes to."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.deps import Deps


def register(app: App, deps: Deps) -> None:
    # Thread replies on item cards feed the owner's loop; until that lands they are acknowledged
    # (so Slack does not retry them) and otherwise left alone.
    app.event("message")(_ignore)
    app.event("app_home_opened")(_ignore)


def _ignore(event: dict[str, Any]) -> None:
    return None
