"""manifest.yaml and the code must agree, or the app Slack creates won't reach our listeners."""

from pathlib import Path

import yaml

from handlers.capture import Command, Shortcut
from handlers.digest import COMMAND as DIGEST_COMMAND

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yaml").read_text())


def test_every_command_and_shortcut_is_declared() -> None:
    commands = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert commands == {command.value for command in Command} | {DIGEST_COMMAND}
    shortcuts = {(s["type"], s["callback_id"]) for s in MANIFEST["features"]["shortcuts"]}
    assert shortcuts == {("message", shortcut.value) for shortcut in Shortcut}
    assert any(s["name"] == "Raise as CX alarm" for s in MANIFEST["features"]["shortcuts"])


def test_scopes_events_interactivity_and_socket_mode() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:write", "channels:history", "channels:join"} <= scopes
    settings = MANIFEST["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert {"message.channels", "app_home_opened"} <= set(settings["event_subscriptions"]["bot_events"])
