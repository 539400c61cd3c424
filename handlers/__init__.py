"""Bolt listeners: parse the payload, call the core, hand back what to say."""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from handlers import capture, claims, digest, errors, events, items, verify


def register_all(app: App, deps: Deps) -> None:
    errors.register(app, deps)
    capture.register(app, deps)
    items.register(app, deps)
    claims.register(app, deps)
    events.register(app, deps)
    digest.register(app, deps)
    verify.register(app, deps)
